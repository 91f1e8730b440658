"""In silico enhancer shift: enhancer effect against distance to the TSS (paper §10).

Everything of this experiment lives in this folder: ``design`` (inputs and constructs),
``stats`` (its statistics), ``figures`` and ``demo`` (the embedded default's inputs).
"""

from __future__ import annotations

import seqbench.experiments.enhancer_shift.design as design
import seqbench.experiments.enhancer_shift.figures as figures
import seqbench.experiments.enhancer_shift.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.enhancer_shift.demo import demo_spec

HEADLINE = (
    ("median_percent_nearest", "median effect (%) of the validated enhancers at the nearest distance"),
    ("median_percent_10kb", "... at 10 kb"),
    ("median_percent_farthest", "... at the farthest distance"),
    ("spearman_native_observed", "Spearman of native predicted vs observed effect"),
    ("bootstrap_delta_r_q025", "2.5% quantile of r(shifted, obs) - r(native, obs) at the compare distance"),
    ("auprc_native", "AUPRC validated vs not, native prediction"),
    ("auprc_shifted", "AUPRC validated vs not, shifted to the compare distance"),
)


PAPER_VALUES = {
    "median_percent_nearest": 16.0,
    "median_percent_10kb": 10.0,
    "median_percent_farthest": 1.0,
    "spearman_native_observed": 0.31138,
    "bootstrap_delta_r_q025": 0.110344,
    "auprc_native": 0.166373,
    "auprc_shifted": 0.091674,
}

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
    write_figures=figures.write_figures,
    demo_spec=demo_spec,
    headline=HEADLINE,
    summary_keys=tuple(stats.SUMMARY_KEYS),
    paper_values=PAPER_VALUES,
    docs="experiments/enhancer-shift.md",
)
