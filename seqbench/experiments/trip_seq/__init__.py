"""TRIP-seq (Hong & Cohen, K562): promoters at thousands of genomic locations (paper Fig. 6C/D, S15-S16; §8).

Everything of this experiment lives in this folder: ``design`` (inputs and constructs), ``stats`` (its
statistics per model and window), ``combine`` (across windows: Fig. S16), ``figures`` and ``demo`` (the
embedded default's inputs on the planted demo genome).
"""

from __future__ import annotations

import seqbench.experiments.trip_seq.combine as combine
import seqbench.experiments.trip_seq.design as design
import seqbench.experiments.trip_seq.figures as figures
import seqbench.experiments.trip_seq.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.trip_seq.demo import demo_spec

HEADLINE = (
    ("r_pooled", "Pearson r, log2(pred+1) vs log2(exp), every site (minimal insert when run)"),
    ("r_promoter_reduced", "... per-promoter medians (promoter ranking)"),
    ("r_within_promoter", "... within promoters (the location effect)"),
    ("best_promoter", "promoter best predicted across its sites"),
    ("r_full_vs_minimal", "full vs minimal insert prediction"),
    ("n_sites", "sites (promoter x location x strand)"),
)

PAPER_VALUES = {"r_promoter_reduced": 0.73, "best_promoter": "hk1"}


def _write_figures(results, out_dir, *, title_suffix: str):
    return figures.write_figures(results, out_dir, title_suffix=f"{title_suffix}, K562 CAGE")


EXPERIMENT = Experiment(
    name=design.NAME,
    title=design.TITLE,
    inputs=design.INPUTS,
    path_inputs=frozenset(design.PATH_INPUTS),
    default_tracks=design.DEFAULT_TRACKS,
    readout=design.READOUT,
    expand=design.expand,
    reduce=design.reduce,
    write_tables=stats.write_tables,
    write_figures=_write_figures,
    demo_spec=demo_spec,
    headline=HEADLINE,
    summary_keys=tuple(stats.SUMMARY_KEYS),
    paper_values=PAPER_VALUES,
    combine=combine.combine,
    write_combined=combine.write_combined,
    docs="experiments/trip-seq.md",
)
