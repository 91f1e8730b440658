"""Bergman promoter x enhancer MPRA (paper §5).

Everything of this experiment lives in this folder: ``design`` (inputs and constructs),
``stats`` (its statistics), ``figures`` and ``demo`` (the embedded default's inputs).
"""

from __future__ import annotations

import seqbench.experiments.promoter_enhancer_mpra.design as design
import seqbench.experiments.promoter_enhancer_mpra.figures as figures
import seqbench.experiments.promoter_enhancer_mpra.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.promoter_enhancer_mpra.demo import demo_spec

HEADLINE = (
    ("promoter_strength_pearson", "promoter strength, measured vs predicted (Pearson r)"),
    ("enhancer_strength_pearson", "enhancer strength, measured vs predicted (Pearson r)"),
    ("varexpl_measured_promoter", "variance of measured log expression explained by the promoter"),
    ("varexpl_measured_promoter_enhancer", "... by promoter + enhancer"),
    ("varexpl_predicted_promoter", "variance of predicted log expression explained by the promoter"),
    ("varexpl_predicted_promoter_enhancer", "... by promoter + enhancer"),
    ("best_insert_pair_pearson", "insert type whose predictions correlate best with the measurements (paper: minimal)"),
)


PAPER_VALUES = {
    "promoter_strength_pearson": 0.81,
    "enhancer_strength_pearson": 0.137,
    "varexpl_measured_promoter": 0.54,
    "varexpl_measured_promoter_enhancer": 0.90,
    "varexpl_predicted_promoter": 0.90,
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
    spec_defaults=design.SPEC_DEFAULTS,
    docs="experiments/promoter-enhancer-mpra.md",
)
