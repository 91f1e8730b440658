"""Endogenous expression across tissues and development, ridge-matched (paper Fig. 2A-D, 3A; spec §1).

Everything of this experiment lives in this folder: ``design`` (inputs and constructs), ``stats``
(its statistics per model and window), ``combine`` (across models and windows: Fig. 2A side by side
and the window ablation), ``figures`` and ``demo`` (the embedded default's inputs).
"""

from __future__ import annotations

import seqbench.experiments.tissue_expression.combine as combine
import seqbench.experiments.tissue_expression.design as design
import seqbench.experiments.tissue_expression.figures as figures
import seqbench.experiments.tissue_expression.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.tissue_expression.demo import demo_spec

HEADLINE = (
    ("gtex_median_pearson", "median Pearson r over GTEx tissues, test genes (ridge-matched)"),
    ("kaessmann_median_pearson", "median Pearson r over Cardoso-Moreira samples, test genes"),
    ("gtex_deviation_r", "GTEx: r of the deviations from the gene mean (between tissues)"),
    ("gtex_explained_by_model", "GTEx: variance explained by the model (test genes)"),
    ("gtex_between_trend_fraction", "GTEx: fraction of genes whose tissue trend is predicted"),
    ("n_genes_test", "test genes"),
)

PAPER_VALUES = {
    "gtex_median_pearson": "0.79 (Enformer)",
    "kaessmann_median_pearson": "0.77 (Enformer)",
    "gtex_deviation_r": "0.42 (Enformer, manual match)",
}

EXPERIMENT = Experiment(
    name=design.NAME,
    title=design.TITLE,
    inputs=design.INPUTS,
    path_inputs=frozenset(design.PATH_INPUTS),
    default_tracks={},
    readout=None,
    expand=design.expand,
    reduce=design.reduce,
    write_tables=stats.write_tables,
    write_figures=figures.write_figures,
    demo_spec=demo_spec,
    headline=HEADLINE,
    summary_keys=tuple(stats.SUMMARY_KEYS),
    paper_values=PAPER_VALUES,
    extra_tracks=design.extra_tracks,
    summary_extra=design.summary_extra,
    combine=combine.combine,
    write_combined=combine.write_combined,
    docs="experiments/tissue-expression.md",
)
