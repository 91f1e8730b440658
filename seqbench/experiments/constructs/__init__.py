"""Experiments as data: a construct table (loci or literals, edits, landmark, reference) run as is
(docs/experiments/constructs.md).

``design`` reads and checks the table, ``stats`` compares each construct with its reference and
summarises by label, ``figures`` draws them, ``sweeps`` writes common designs as tables
(``seqbench-ray design``), and ``demo`` is the embedded default: a tile-necessity scan.
"""

from __future__ import annotations

import seqbench.experiments.constructs.design as design
import seqbench.experiments.constructs.figures as figures
import seqbench.experiments.constructs.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.constructs.demo import demo_spec

HEADLINE = (
    ("n_constructs", "constructs"),
    ("n_compared", "constructs compared with a reference"),
    ("median_abs_log2fc", "median |log2 FC| against the reference"),
    ("max_abs_log2fc", "largest |log2 FC|"),
    ("top_construct", "construct with the largest effect"),
)

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
    summary_keys=stats.SUMMARY_KEYS,
    docs="experiments/constructs.md",
)
