"""Kircher saturation mutagenesis (CAGI5) in the genome (paper §4).

Everything of this experiment lives in this folder: ``design`` (inputs and constructs),
``stats`` (its statistics), ``figures`` and ``demo`` (the embedded default's inputs).
"""

from __future__ import annotations

import seqbench.experiments.saturation_mutagenesis.design as design
import seqbench.experiments.saturation_mutagenesis.figures as figures
import seqbench.experiments.saturation_mutagenesis.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.saturation_mutagenesis.demo import demo_spec

HEADLINE = (
    ("cage_mean_abs_r", "CAGE: mean absolute Pearson r over loci"),
    ("dnase_mean_abs_r", "DNASE: mean absolute Pearson r over loci"),
    ("cage_pooled_pearson", "CAGE: Pearson r, all variants pooled"),
    ("dnase_pooled_pearson", "DNASE: Pearson r, all variants pooled"),
    ("cage_calibration_r_a", "CAGE: Pearson r of the first calibration locus ({calibration_loci[0]})"),
    ("cage_calibration_r_b", "CAGE: Pearson r of the second calibration locus ({calibration_loci[1]})"),
    ("cage_calibration_r_pooled", "CAGE: Pearson r of the two calibration loci pooled"),
)


PAPER_VALUES = {"cage_calibration_r_a": 0.3, "cage_calibration_r_b": 0.64, "cage_calibration_r_pooled": 0.1}

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
    extra_tracks=design.extra_tracks,
    docs="experiments/saturation-mutagenesis.md",
)
