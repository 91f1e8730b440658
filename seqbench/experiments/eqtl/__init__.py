"""GTEx fine-mapped eQTLs at the TSS (paper Fig. 6A/B; experiments-spec §7).

Everything of this experiment lives in this folder: ``design`` (inputs, filters and constructs),
``stats`` (its statistics), ``figures`` and ``demo`` (the embedded default's inputs).
"""

from __future__ import annotations

import seqbench.experiments.eqtl.design as design
import seqbench.experiments.eqtl.figures as figures
import seqbench.experiments.eqtl.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.eqtl.demo import demo_spec

HEADLINE = (
    ("median_max_abs_pct", "median over credible sets of the strongest predicted |% change|"),
    ("median_max_abs_pct_far", "the same median, strongest variant beyond far_distance (10 kb)"),
    ("ols_slope", "OLS slope of log10 |%| on log10 distance (strongest variant per set)"),
    ("observed_spearman_distance", "Spearman rho of measured max |slope| vs distance"),
    ("n_sets", "credible sets analysed"),
    ("n_ref_mismatch", "variants skipped: ref allele not the genome's"),
)

PAPER_VALUES = {"median_max_abs_pct": "0.5 (Enformer)"}

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
    from_job=design.FROM_JOB,
    summary_extra=design.summary_extra,
    docs="experiments/eqtl.md",
)
