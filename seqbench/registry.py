"""The experiment registry: the built-ins and the plug-ins other packages register.

A plug-in is any installed distribution that declares, in its ``pyproject.toml``::

    [project.entry-points."seqbench.experiments"]
    my-screen = "my_package.my_screen:EXPERIMENT"

where ``EXPERIMENT`` is a :class:`seqbench.experiment.Experiment` whose ``name`` is the entry
point's name.  ``seqbench-ray list`` shows where each experiment comes from.  A plug-in that
fails to import, or that is not an ``Experiment``, is reported (one line naming the entry point)
when it is asked for; it never hides the other experiments.
"""

from __future__ import annotations

import dataclasses
import difflib
from importlib import metadata

import seqbench.experiments.class_imbalance as _class_imbalance
import seqbench.experiments.constructs as _constructs
import seqbench.experiments.enhancer_knockdown as _enhancer_knockdown
import seqbench.experiments.enhancer_shift as _enhancer_shift
import seqbench.experiments.eqtl as _eqtl
import seqbench.experiments.multiplicativity as _multiplicativity
import seqbench.experiments.patch_mpra as _patch_mpra
import seqbench.experiments.promoter_enhancer_mpra as _promoter_enhancer_mpra
import seqbench.experiments.promoter_mpra as _promoter_mpra
import seqbench.experiments.saturation_mutagenesis as _saturation_mutagenesis
import seqbench.experiments.tissue_expression as _tissue_expression
import seqbench.experiments.trip_seq as _trip_seq
from seqbench.experiment import Experiment
from seqbench.keys import SpecError

ENTRY_POINT_GROUP = "seqbench.experiments"

#: in the order ``seqbench-ray list`` shows them: the paper's sections, enhancers then promoters, then
#: experiments written as data
BUILTINS: tuple[Experiment, ...] = (
    _multiplicativity.EXPERIMENT,
    _enhancer_knockdown.EXPERIMENT,
    _enhancer_shift.EXPERIMENT,
    _promoter_mpra.EXPERIMENT,
    _saturation_mutagenesis.EXPERIMENT,
    _promoter_enhancer_mpra.EXPERIMENT,
    _eqtl.EXPERIMENT,
    _trip_seq.EXPERIMENT,
    _patch_mpra.EXPERIMENT,
    _tissue_expression.EXPERIMENT,
    _class_imbalance.EXPERIMENT,
    _constructs.EXPERIMENT,
)


class PluginError(SpecError):
    """A registered plug-in experiment cannot be loaded."""


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _plugin_source(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"plug-in {dist.name} {dist.version}" if dist is not None else f"plug-in {ep.value}"


def _load_plugin(ep: metadata.EntryPoint) -> Experiment:
    where = f"entry point {ep.name!r} = {ep.value!r} (group {ENTRY_POINT_GROUP})"
    try:
        obj = ep.load()
    except Exception as exc:  # any import-time failure of a third-party module
        raise PluginError(f"{where}: cannot be imported ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, Experiment):
        raise PluginError(f"{where}: is a {type(obj).__name__}; expected a seqbench.experiment.Experiment")
    if obj.name != ep.name:
        raise PluginError(f"{where}: the experiment is named {obj.name!r}; expected the entry point's name")
    return dataclasses.replace(obj, source=_plugin_source(ep))


def experiment_names() -> list[str]:
    """Every registered name: built-ins first, then plug-ins (without importing the plug-ins)."""
    names = [e.name for e in BUILTINS]
    names += [ep.name for ep in _entry_points() if ep.name not in names]
    return names


def get_experiment(name: str) -> Experiment:
    """The experiment registered as ``name``; ``SpecError`` with the closest name if there is none.

    A built-in wins over a plug-in of the same name (the plug-in is ignored).
    """
    for exp in BUILTINS:
        if exp.name == name:
            return exp
    for ep in _entry_points():
        if ep.name == name:
            return _load_plugin(ep)
    names = experiment_names()
    match = difflib.get_close_matches(name, names, n=1) or difflib.get_close_matches(name.lower(), names, n=1)
    hint = f"; did you mean {match[0]!r}?" if match else ""
    raise SpecError(f"unknown experiment {name!r}{hint} (known: {', '.join(names)})")


def all_experiments() -> list[tuple[str, Experiment | PluginError]]:
    """(name, experiment) for every registered one; a plug-in that cannot load gives its error instead."""
    out: list[tuple[str, Experiment | PluginError]] = [(e.name, e) for e in BUILTINS]
    builtin = {e.name for e in BUILTINS}
    for ep in _entry_points():
        if ep.name in builtin:
            continue
        try:
            out.append((ep.name, _load_plugin(ep)))
        except PluginError as exc:
            out.append((ep.name, exc))
    return out
