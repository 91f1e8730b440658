"""Experiments, registered by name (``seqbench-ray submit NAME``).

An experiment is a module with the attributes below (see :mod:`seqbench.experiments.base` and
``docs/architecture.md``); to add one, write the module, import it here and list it in :data:`_MODULES`.

Required: ``NAME``, ``TITLE``, ``INPUTS`` (spec keys), ``PATH_INPUTS``, ``DEFAULT_TRACKS``,
``READOUT`` (the track label the statistics read), ``expand(spec, genome) -> Design``,
``reduce(predictions, design, spec, map_fn) -> results``, ``report(results, out_dir, *, model_name)
-> (summary, tables, figures)``, ``demo_spec(data_root) -> dict``, ``HEADLINE``, ``PAPER_VALUES``.

Optional: ``SPEC_DEFAULTS`` (per-table defaults under the spec, e.g. ``{"ensemble": {"shifts":
[-64, -32, 0], "strands": ["+"]}}``) and ``extra_tracks(spec, track_table) -> dict[label, index]``
(tracks chosen from the model's track table by the experiment's own data, e.g. by cell type).
"""

from __future__ import annotations

from types import ModuleType

# static imports (no import_module: the security scan allows no import by computed name)
from seqbench.experiments import (
    enhancer_knockdown,
    enhancer_shift,
    multiplicativity,
    promoter_enhancer_mpra,
    promoter_mpra,
    saturation_mutagenesis,
)

#: in the order ``seqbench-ray list`` shows them: the paper's sections, enhancers then promoters
_MODULES: tuple[ModuleType, ...] = (
    multiplicativity,
    enhancer_knockdown,
    enhancer_shift,
    promoter_mpra,
    saturation_mutagenesis,
    promoter_enhancer_mpra,
)

EXPERIMENTS: dict[str, ModuleType] = {m.NAME: m for m in _MODULES}


def get_experiment(name: str) -> ModuleType:
    """The experiment module registered under ``name`` (``KeyError`` if none)."""
    return EXPERIMENTS[name]
