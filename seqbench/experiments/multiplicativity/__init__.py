"""In silico multiplicativity of promoter, enhancer and background (paper §9; docs/experiments/multiplicativity.md).

Everything of this experiment lives in this folder: ``design`` (inputs and constructs),
``stats`` (its statistics), ``figures`` and ``demo`` (the embedded default's inputs).
"""

from __future__ import annotations

import seqbench.experiments.multiplicativity.design as design
import seqbench.experiments.multiplicativity.figures as figures
import seqbench.experiments.multiplicativity.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.multiplicativity.demo import demo_spec

HEADLINE = (
    ("r2_whole_multiplicative", "variance of log expression explained by promoter + enhancer + background"),
    ("r2_whole_promoter", "... by the promoter alone"),
    ("r2_background_multiplicative_median", "median per-background R2, promoter + enhancer"),
    ("r2_background_promoter_median", "median per-background R2, promoter alone"),
    ("enhancer_coef_corr_across_backgrounds_median", "median correlation of enhancer strengths across backgrounds"),
)


PAPER_VALUES = {"r2_whole_multiplicative": 0.77}

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
    from_job=design.FROM_JOB,
    docs="experiments/multiplicativity.md",
)
