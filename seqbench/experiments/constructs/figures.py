"""Figures of a construct table: the distribution of log2 fold changes, and the mean effect by label.

``constructs_log2fc.png``: histogram of the readout's log2 fold change over every construct with a
reference.  ``constructs_by_<label>.png`` (at most :data:`MAX_GROUP_FIGURES`, in ``group_by``
order): the mean log2 fold change per value of the label, with the standard deviation as error
bar; numeric labels on a numeric axis, others as bars.  Every title names the model and n.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from seqbench.report.figures import MIN_FONT, bars_with_no_data, n_label, new_figure, save_all

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqbench.experiments.constructs.stats import ConstructResults

MAX_GROUP_FIGURES = 4
_MAX_BARS = 60


def _histogram(results: ConstructResults, suffix: str) -> Figure:
    col = f"log2fc_{results.readout}"
    fc = results.constructs[col].dropna().to_numpy(np.float64) if col in results.constructs else np.array([])
    fig = new_figure(5.5, 4.0)
    ax = fig.add_subplot()
    if fc.size:
        ax.hist(fc, bins=min(60, max(5, fc.size // 5)), color="#4477aa")
        ax.set_xlabel(f"log2 fold change of {results.readout} against the reference")
        ax.set_ylabel("constructs")
    else:
        ax.text(0.5, 0.5, "no construct names a reference: no fold change", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
    ax.set_title(f"Effects of the constructs ({n_label(fc.size)} with a reference)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _by_group(table: pd.DataFrame, label: str, readout: str, suffix: str) -> Figure:
    fig = new_figure(6.5, 4.0)
    ax = fig.add_subplot()
    values = pd.to_numeric(table[label], errors="coerce")
    n = int(table["n"].sum())
    err = table["std"].fillna(0.0).to_numpy(np.float64)
    if values.notna().all() and len(table) > 1:
        order = np.argsort(values.to_numpy())
        x = values.to_numpy()[order]
        ax.errorbar(x, table["mean"].to_numpy()[order], yerr=err[order], fmt="o-", ms=3, lw=1, capsize=2)
        ax.set_xlabel(label)
    else:
        shown = table.head(_MAX_BARS)
        # a value without a mean reads "no data", never a bar of 0
        bars_with_no_data(ax, np.arange(len(shown)), shown["mean"].to_numpy(np.float64), yerr=err[: len(shown)],
                          color="#4477aa", capsize=2)
        ax.set_xticks(range(len(shown)), [str(v) for v in shown[label]], rotation=90, fontsize=MIN_FONT)
        ax.set_xlabel(label + (f" (first {_MAX_BARS} of {len(table)})" if len(table) > _MAX_BARS else ""))
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_ylabel(f"mean log2 fold change of {readout} (± sd)")
    ax.set_title(f"Effect by {label}: {len(table)} values, {n_label(n)} constructs\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def draw_figures(results: ConstructResults, *, title_suffix: str) -> list[tuple[str, Figure]]:
    """The figures as ``(file name, figure)`` pairs: the histogram first, then one per label."""
    figs = [("constructs_log2fc.png", _histogram(results, title_suffix))]
    for label, table in list(results.groups.items())[:MAX_GROUP_FIGURES]:
        if table.empty:
            continue
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)
        figs.append((f"constructs_by_{safe}.png", _by_group(table, label, results.readout, title_suffix)))
    return figs


def write_figures(results: ConstructResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Write the figures into ``out_dir``; return their paths (the histogram first)."""
    return save_all(draw_figures(results, title_suffix=title_suffix), out_dir)
