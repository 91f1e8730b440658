"""Experiments, registered by name (``seqbench-ray submit NAME``)."""

from __future__ import annotations

from types import ModuleType

from seqbench.experiments import multiplicativity

EXPERIMENTS: dict[str, ModuleType] = {
    multiplicativity.NAME: multiplicativity,
}


def get_experiment(name: str) -> ModuleType:
    """The experiment module registered under ``name`` (``KeyError`` if none)."""
    return EXPERIMENTS[name]
