"""In silico CRISPRi enhancer knock-down, Fulco and Gasperini (paper §6).

Everything of this experiment lives in this folder: ``design`` (inputs and constructs),
``stats`` (its statistics), ``figures`` and ``demo`` (the embedded default's inputs).
"""

from __future__ import annotations

import seqbench.experiments.enhancer_knockdown.design as design
import seqbench.experiments.enhancer_knockdown.figures as figures
import seqbench.experiments.enhancer_knockdown.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.enhancer_knockdown.demo import demo_spec

HEADLINE = (
    ("median_observed_percent_validated", "median measured effect (%) of validated enhancers, 1-100 kb"),
    ("median_predicted_percent_validated", "median predicted effect (%) of validated enhancers, 1-100 kb"),
    ("pearson_fulco2019", "Pearson r, predicted vs measured log2 FC (Fulco)"),
    ("pearson_gasperini2019", "Pearson r, predicted vs measured log2 FC (Gasperini)"),
    (
        "fraction_genes_no_candidate_above_threshold",
        "fraction of genes with no candidate above {effect_threshold_percent} % predicted",
    ),
    ("auprc_abs_log2fc_3-12.5", "AUPRC validated vs not, |log2 FC|, 3-12.5 kb"),
    ("pearson_shuffle_vs_n", "Pearson r of shuffle vs N-replacement log2 FC"),
)


PAPER_VALUES = {"median_observed_percent_validated": "≈ 20", "median_predicted_percent_validated": "≈ 4"}

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
    summary_extra=design.summary_extra,
    extra_tracks=design.extra_tracks,
    docs="experiments/enhancer-knockdown.md",
)
