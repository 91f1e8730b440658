"""Experiments, registered by name (``seqbench-ray submit NAME``).

An experiment is a module with the attributes below (see :mod:`seqbench.experiments.base` and
``docs/architecture.md``); to add one, write the module and list it in :data:`_MODULES`.

Required: ``NAME``, ``TITLE``, ``INPUTS`` (spec keys), ``PATH_INPUTS``, ``DEFAULT_TRACKS``,
``READOUT`` (the track label the statistics read), ``expand(spec, genome) -> Design``,
``reduce(predictions, design, spec, map_fn) -> results``, ``report(results, out_dir, *, model_name)
-> (summary, tables, figures)``, ``demo_spec(data_root) -> dict``, ``HEADLINE``, ``PAPER_VALUES``.

Optional: ``SPEC_DEFAULTS`` (per-table defaults under the spec, e.g. ``{"ensemble": {"shifts":
[-64, -32, 0], "strands": ["+"]}}``) and ``extra_tracks(spec, track_table) -> dict[label, index]``
(tracks chosen from the model's track table by the experiment's own data, e.g. by cell type).
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: experiment modules, in the order ``seqbench-ray list`` shows them
_MODULES = (
    "multiplicativity",
)

EXPERIMENTS: dict[str, ModuleType] = {}
for _name in _MODULES:
    _mod = importlib.import_module(f"seqbench.experiments.{_name}")
    EXPERIMENTS[_mod.NAME] = _mod


def get_experiment(name: str) -> ModuleType:
    """The experiment module registered under ``name`` (``KeyError`` if none)."""
    return EXPERIMENTS[name]
