"""The experiment contract: what one experiment is, and the steps every experiment shares.

An experiment is one :class:`Experiment` object.  Its folder (``seqbench/experiments/<name>/``
for a built-in, any importable package for a plug-in) holds its inputs and design
(``expand``), its statistics (``reduce``), its figures and its demo data; the object ties them
together and is all the runtime sees, so the runtime has no experiment branches.

The flow, driver side: ``expand(spec, genome, geometry) -> Design`` (a table with one row per
construct plus a picklable builder of construct ``i``); the runtime predicts every strand x shift
member of every construct; then ``reduce(predictions, design, spec, map_fn) -> results`` and
:func:`write_outputs` writes the tables, the figures and the summary of ``results``.

``results`` is any object with ``summary() -> dict`` (flat, strict JSON, stable keys); the
experiment's ``write_tables(results, dir)`` and ``write_figures(results, dir, title_suffix)``
return the paths they wrote.  An experiment never touches Ray: ``map_fn`` is how its reduce may
run independent fits in parallel (Ray tasks under the runtime, a plain loop in tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from seqbench.inputs.tables import InputError
from seqbench.keys import Key
from seqbench.sequence.constructs import Construct

if TYPE_CHECKING:
    from seqbench.genome import Genome
    from seqbench.models.base import Geometry, TrackTable

__all__ = [
    "ConstructBuilder",
    "Design",
    "Experiment",
    "InputError",
    "MapFn",
    "construct_means",
    "sequential_map",
    "write_outputs",
]


class ConstructBuilder(Protocol):
    def __call__(self, construct_id: int) -> Construct: ...


@dataclass
class Design:
    """Constructs of a job: ``table`` (``construct_id`` 0..n-1, ``key`` and labels) and a builder.

    The builder is picklable: the runtime cuts the id range into shards and builds each shard's
    constructs where they are materialized, so the driver never holds them all.
    """

    table: pd.DataFrame
    build: ConstructBuilder

    @property
    def n_constructs(self) -> int:
        return len(self.table)

    def constructs(self, ids: Sequence[int]) -> list[Construct]:
        return [self.build(int(i)) for i in ids]


MapFn = Callable[[Callable[[Any], Any], list[Any]], list[Any]]


def sequential_map(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``[fn(x) for x in items]``: the ``map_fn`` of a reduce run outside Ray."""
    return [fn(x) for x in items]


@dataclass(frozen=True)
class Experiment:
    """One experiment under one contract.

    Required: ``name`` (what ``seqbench-ray submit NAME`` takes), ``title``, ``inputs`` (the keys
    of the spec's ``[inputs]`` table, with types and bounds), ``default_tracks`` (label ->
    ``{assay, cell_type}`` or an index), ``readout`` (the track label the statistics read; ``None``
    for an experiment that reads the tracks its ``extra_tracks`` picks, or runs no model),
    ``expand``, ``reduce``, ``write_tables``, ``write_figures``, ``demo_spec(data_root) -> dict``
    (the embedded default: writes its demo inputs under ``data_root`` and returns the spec),
    ``headline`` ((summary key, label) pairs printed after a job) and ``summary_keys`` (the keys
    ``results.summary()`` always has).

    Optional: ``path_inputs`` (input keys naming files or folders, resolved against
    ``data_root``), ``paper_values`` (summary key -> the paper's figure), ``spec_defaults``
    (defaults for other spec tables, e.g. an ensemble of its own), ``extra_tracks(spec,
    track_table) -> {label: index}`` (tracks chosen by the experiment's own data),
    ``from_job`` (``{source experiment: {input key: path in that job}}`` for ``--from JOB``),
    ``summary_extra(spec) -> dict`` (summary entries that come from the spec, not the results),
    ``docs`` (the experiment's documentation page, relative to the repository's ``docs/``),
    ``combine(results by variant name, variant records, spec) -> combined`` and
    ``write_combined(combined, job_dir, *, title) -> paths`` (a job of several models or windows:
    statistics across its variants, e.g. the paper's window ablation; ``combined.summary()`` goes
    to ``summary.json`` under ``combined``; the paths lie under ``job_dir/tables`` and
    ``job_dir/figures``).  A variant record holds ``name``, ``model``, ``model_index``, ``window``
    (bp, 0 = the whole input) and ``members``.
    ``source`` is set by the registry: ``"built-in"`` or the distribution that registered it.
    """

    name: str
    title: str
    inputs: Mapping[str, Key]
    default_tracks: Mapping[str, Any]
    readout: str | None
    expand: Callable[[Any, Genome, Geometry], Design]
    reduce: Callable[..., Any]
    write_tables: Callable[[Any, Path], list[Path]]
    write_figures: Callable[..., list[Path]]  # (results, dir, *, title_suffix)
    demo_spec: Callable[[Path], dict[str, Any]]
    headline: tuple[tuple[str, str], ...]
    summary_keys: tuple[str, ...]
    path_inputs: frozenset[str] = frozenset()
    paper_values: Mapping[str, Any] = field(default_factory=dict)
    spec_defaults: Mapping[str, Any] = field(default_factory=dict)
    extra_tracks: Callable[[Any, TrackTable], dict[str, int]] | None = None
    from_job: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    summary_extra: Callable[[Any], dict[str, Any]] | None = None
    docs: str | None = None
    combine: Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]], Any], Any] | None = None
    write_combined: Callable[..., list[Path]] | None = None  # (combined, job_dir, *, title)
    source: str = "built-in"

    def __post_init__(self) -> None:
        unknown = set(self.path_inputs) - set(self.inputs)
        if unknown:
            raise ValueError(f"experiment {self.name}: path_inputs {sorted(unknown)} are not input keys")
        if (self.combine is None) != (self.write_combined is None):
            raise ValueError(f"experiment {self.name}: give both combine and write_combined, or neither")
        heads = {k for k, _ in self.headline} - set(self.summary_keys)
        if heads:
            raise ValueError(f"experiment {self.name}: headline keys {sorted(heads)} are not summary keys")


def construct_means(
    predictions: pd.DataFrame, design: pd.DataFrame, columns: Sequence[str], labels: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per construct: the mean over ensemble members (natural scale) of each of ``columns``,
    joined by ``construct_id`` to the design's ``labels`` (default: every design column).

    One row per construct that has predictions, in ascending ``construct_id``; the columns are
    ``construct_id``, the labels, then ``columns``.  Rows are matched by key, never by position.
    """
    means = predictions.groupby("construct_id", sort=True)[list(columns)].mean()
    d = design.set_index("construct_id")
    if labels is not None:
        d = d[list(labels)]
    missing = means.index.difference(d.index)
    if len(missing):
        raise InputError(f"predictions for construct_id {int(missing[0])} have no row in the design")
    out = d.loc[means.index].reset_index()
    for c in columns:
        out[c] = means[c].to_numpy(dtype=np.float64)
    return out


def write_outputs(
    exp: Experiment, results: Any, out_dir: Path, *, model_name: str, spec: Any = None
) -> tuple[dict[str, Any], list[Path], list[Path]]:
    """Tables under ``out_dir/tables``, figures under ``out_dir/figures``; returns (summary, tables, figures).

    Figure titles end with the model's name, so that no figure can be mistaken for another model's.
    """
    tables = exp.write_tables(results, Path(out_dir) / "tables")
    figures = exp.write_figures(results, Path(out_dir) / "figures", title_suffix=model_name)
    summary = results.summary()
    if exp.summary_extra is not None:
        summary.update(exp.summary_extra(spec))
    return summary, tables, figures
