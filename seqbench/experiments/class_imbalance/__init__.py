"""Class imbalance: distance to the TSS of bona fide and candidate regulatory elements (paper Fig. 3B, §2).

Runs no model: the design has no constructs and the statistics come from the inputs alone.
Everything of this experiment lives in this folder: ``design`` (inputs and the empty design),
``stats`` (its statistics), ``figures`` and ``demo`` (the embedded default's inputs).
"""

from __future__ import annotations

import seqbench.experiments.class_imbalance.design as design
import seqbench.experiments.class_imbalance.figures as figures
import seqbench.experiments.class_imbalance.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.class_imbalance.demo import demo_spec

HEADLINE = (
    ("median_distance_crispri_valid", "median distance to the TSS (bp), validated CRISPRi enhancers"),
    ("median_distance_eqtl", "median distance to the TSS (bp), eQTL credible sets"),
    ("median_distance_els", "median distance to the TSS (bp), enhancer-like cCREs 5' of the gene"),
    ("fraction_distal_crispri_valid", "fraction of validated enhancers beyond {distal_distance} bp"),
    ("fraction_distal_eqtl", "fraction of eQTL credible sets beyond {distal_distance} bp"),
    ("ks_uniform_els", "Kolmogorov distance of enhancer-like cCRE distances from uniform on [0, {window}] bp"),
    ("fraction_validated_fully_seen", "fraction of validated pairs (TSS in training) seen whole in training"),
)

#: "the distal two-thirds of the sequence still contains ~20% of known eQTL and ~25% of validated enhancers"
PAPER_VALUES = {"fraction_distal_eqtl": "≈ 0.20", "fraction_distal_crispri_valid": "≈ 0.25"}

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
    docs="experiments/class-imbalance.md",
    # the eqtl experiment writes the filtered credible sets in the authors' layout
    from_job={"eqtl": {"susie_table": "tables/susie_df_small_blocks.tsv"}},
)
