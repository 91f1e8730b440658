"""Weingarten-Gabbay promoter MPRA at a landing pad (paper §3).

Everything of this experiment lives in this folder: ``design`` (inputs and constructs),
``stats`` (its statistics), ``figures`` and ``demo`` (the embedded default's inputs).
"""

from __future__ import annotations

import seqbench.experiments.promoter_mpra.design as design
import seqbench.experiments.promoter_mpra.figures as figures
import seqbench.experiments.promoter_mpra.stats as stats
from seqbench.experiment import Experiment
from seqbench.experiments.promoter_mpra.demo import demo_spec

HEADLINE = (
    ("r_endogenous", "Pearson r, log2(pred+1) vs log2(measured), endogenous promoters (native + PIC)"),
    ("r_native", "... native core promoters"),
    ("r_tf_motifs", "... TF-motif screen, all backgrounds"),
    ("r_core_motifs", "... core-promoter configurations, all backgrounds"),
    ("n_core_backgrounds_significant", "core-promoter backgrounds with BH q < 0.05"),
    ("r_tata_shift_variant_background", "TATA shift in the {variant_background} background (paper: RPLP0)"),
    ("ism_top_position", "fragment position of the largest local-ISM effect"),
)


PAPER_VALUES = {"r_endogenous": 0.68, "r_tata_shift_variant_background": 0.9}

def _write_figures(results, out_dir, *, title_suffix: str):
    return figures.write_figures(results, out_dir, title_suffix=f"{title_suffix}, K562 CAGE")


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
    write_figures=_write_figures,
    demo_spec=demo_spec,
    headline=HEADLINE,
    summary_keys=tuple(stats.SUMMARY_KEYS),
    paper_values=PAPER_VALUES,
    docs="experiments/promoter-mpra.md",
)
