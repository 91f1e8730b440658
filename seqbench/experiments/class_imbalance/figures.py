"""Figures of the class-imbalance experiment (Agg canvas, no pyplot state; written atomically).

=======================================  ==============================================================
file                                     content
=======================================  ==============================================================
class_imbalance_distance_ecdf.png        Fig. 3B-like: the ECDF of the distance to the TSS per region
                                         type (eQTL credible sets, enhancer-like cCREs, validated and
                                         non-validated CRISPRi enhancers), n per type in the legend; the
                                         uniform CDF on [0, window] dashed; a type without elements is
                                         listed as "no data"
class_imbalance_training_overlap.png     fraction of validated CRISPRi pairs and eQTL credible sets
                                         (TSS in a training region) whose element was seen with the TSS
                                         in every such region, per distance bin; an empty bin reads
                                         "no data"
=======================================  ==============================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqbench.report.figures import NO_DATA, bars_with_no_data, legend, n_label, new_figure, save_all

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqbench.experiments.class_imbalance.stats import ClassImbalanceResults

__all__ = ["FIGURE_FILES", "draw_figures", "write_figures"]

FIGURE_FILES = ("class_imbalance_distance_ecdf.png", "class_imbalance_training_overlap.png")
#: the paper's colours: eQTL purple, enhancer-like cCREs red, validated blue, not validated green
COLOURS = {
    "eQTL Credible Set": "tab:purple",
    "Enhancer-Like CRE": "tab:red",
    "Valid Enhancer": "tab:blue",
    "Non-valid Enhancer": "tab:green",
}


def _distance_ecdf(results: ClassImbalanceResults, suffix: str) -> Figure:
    from seqbench.experiments.class_imbalance.stats import REGION_TYPES

    window = results.params.window
    fig = new_figure(6.0, 4.5)
    ax = fig.add_subplot()
    ax.plot([0, window / 1000], [0, 1], ls="--", lw=0.8, color="grey", label="uniform on [0, window]")
    total = 0
    for rtype in REGION_TYPES:
        e = results.ecdf[results.ecdf["region_type"] == rtype]
        if e.empty:
            ax.plot([], [], color=COLOURS[rtype], label=f"{rtype} ({NO_DATA})")
            continue
        n = int(e["n"].iloc[0])
        total += n
        x = np.concatenate([[0.0], e["distance"].to_numpy(float) / 1000])
        y = np.concatenate([[0.0], e["ecdf"].to_numpy(float)])
        ax.step(x, y, where="post", color=COLOURS[rtype], lw=1.4, label=f"{rtype} ({n_label(n)})")
    ax.set_xlim(0, window / 1000 * 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("distance between TSS and regulatory region midpoint (kb)")
    ax.set_ylabel("cumulative fraction")
    legend(ax, loc="lower right")
    ax.set_title(f"Distance to the TSS within {window:,} bp ({n_label(total)} elements)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _training_overlap(results: ClassImbalanceResults, suffix: str) -> Figure:
    from seqbench.experiments.class_imbalance.stats import SEEN_BIN_LABELS

    b = results.seen_bins
    fig = new_figure(6.5, 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(SEEN_BIN_LABELS))
    groups = list(dict.fromkeys(b["what"]))
    width = 0.8 / max(len(groups), 1)
    total = 0
    for k, what in enumerate(groups):
        g = b[b["what"] == what].set_index("distance_bin").reindex(list(SEEN_BIN_LABELS))
        n = int(g["n_tss_in_train"].fillna(0).sum())
        total += n
        bars_with_no_data(ax, x + (k - (len(groups) - 1) / 2) * width, g["fraction_fully_seen"].to_numpy(float),
                          width=width, label=f"{what} ({n_label(n)})", color=("tab:blue", "tab:purple")[k % 2])
    ax.set_xticks(x, [f"{lab} kb" for lab in SEEN_BIN_LABELS])
    ax.set_ylim(0, 1.3)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xlabel("distance between TSS and element (kb)")
    ax.set_ylabel("fraction seen with the TSS\nin every training region")
    legend(ax, loc="upper center", ncol=2)
    ax.set_title(f"Training overlap, elements whose TSS lies in a training region ({n_label(total)})\n{suffix}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def draw_figures(results: ClassImbalanceResults, *, title_suffix: str) -> list[tuple[str, Figure]]:
    """The figures of :data:`FIGURE_FILES`, as ``(file name, figure)`` pairs in that order."""
    builders = (_distance_ecdf, _training_overlap)
    return [(name, build(results, title_suffix)) for name, build in zip(FIGURE_FILES, builders, strict=True)]


def write_figures(results: ClassImbalanceResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Write :data:`FIGURE_FILES` into ``out_dir`` (atomically); return their paths in that order."""
    return save_all(draw_figures(results, title_suffix=title_suffix), out_dir)
