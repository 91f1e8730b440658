"""Patch-MPRA (Hong & Cohen, K562): promoters at genomic landing pads (paper Fig. S17-S19, experiments-spec §8.3).

Everything of this experiment lives in this folder: ``design`` (inputs and constructs),
``stats`` (its statistics), ``figures`` and ``demo`` (the embedded default's inputs).
"""

from __future__ import annotations

import seqbench.experiments.patch_mpra.design as design
import seqbench.experiments.patch_mpra.figures as figures
import seqbench.experiments.patch_mpra.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.patch_mpra.demo import demo_spec

HEADLINE = (
    ("promoter_coef_pearson", "promoter strength, measured vs predicted OLS coefficient (Pearson r)"),
    ("landing_pad_coef_pearson", "landing-pad effect, measured vs predicted OLS coefficient (Pearson r)"),
    ("r2_measured_promoter", "variance of measured expression explained by the promoter"),
    ("r2_predicted_promoter", "variance of predicted log2(CAGE + 1) explained by the promoter"),
    ("pearson_pooled", "predicted vs measured over all pairs (Pearson r)"),
)

PAPER_VALUES = {
    "promoter_coef_pearson": 0.73,
    "r2_measured_promoter": 0.55,
    "r2_predicted_promoter": 0.69,
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
    docs="experiments/patch-mpra.md",
)
