"""Figures of the multiplicativity experiment, drawn from a ``MultiplicativityResults``.

Every figure is a PNG written with matplotlib's Agg canvas (no display, no pyplot state): the
figures are :class:`matplotlib.figure.Figure` objects bound to a ``FigureCanvasAgg``, so calling
:func:`write_figures` never changes the backend of an interactive session.  Every title ends with
``title_suffix``, which must name the model (and ideally the track) that produced the predictions.

Files (fixed names, in this order):

=============================================  ===============================================
file                                           content
=============================================  ===============================================
multiplicativity_observed_vs_fitted.png        y vs the whole-data multiplicative fit; hexbin
                                               (log counts) above 5,000 points, else scatter
multiplicativity_r2_per_background.png         per background: R² of ``y ~ promoter_id`` and of
                                               ``y ~ promoter_id + enhancer_id``, sorted
multiplicativity_enhancer_corr_backgrounds.png heatmap of the Pearson r between backgrounds of
                                               the per-background enhancer coefficients
multiplicativity_r2_per_promoter.png           per promoter: R² of ``y ~ location_key`` vs of
                                               ``y ~ location_key + enhancer_id``
multiplicativity_enhancer_corr_promoters.png   heatmap of the Pearson r between promoters of the
                                               per-promoter enhancer coefficients
=============================================  ===============================================
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from seqbench.report.figures import MIN_FONT, label_every, legend, n_label, save_all
from seqbench.report.figures import new_figure as _new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqbench.experiments.multiplicativity.stats import MultiplicativityResults

__all__ = ["FIGURE_FILES", "HEXBIN_THRESHOLD", "draw_figures", "write_figures"]

#: above this many points the observed-vs-fitted plot is a hexbin
HEXBIN_THRESHOLD = 5_000
#: file names written by :func:`write_figures`, in order
FIGURE_FILES = (
    "multiplicativity_observed_vs_fitted.png",
    "multiplicativity_r2_per_background.png",
    "multiplicativity_enhancer_corr_backgrounds.png",
    "multiplicativity_r2_per_promoter.png",
    "multiplicativity_enhancer_corr_promoters.png",
)
#: category axes label every group up to this many, else every k-th (and say so)
_MAX_TICK_LABELS = 60


def _observed_vs_fitted(results: MultiplicativityResults, suffix: str) -> Figure:
    table = results.fitted
    y = table["y"].to_numpy(dtype=np.float64)
    fitted = table["fitted"].to_numpy(dtype=np.float64)
    fig = _new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    if y.size > HEXBIN_THRESHOLD:
        hb = ax.hexbin(fitted, y, gridsize=80, bins="log", mincnt=1, cmap="viridis")
        fig.colorbar(hb, ax=ax, label="combinations per hexagon")
    else:
        ax.scatter(fitted, y, s=8, alpha=0.6, linewidths=0)
    lo = float(min(y.min(), fitted.min()))
    hi = float(max(y.max(), fitted.max()))
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--", label="y = fitted")
    legend(ax, loc="upper left")
    ax.set_xlabel("fitted: promoter + enhancer + location (log2)")
    ax.set_ylabel("predicted y = log2(CAGE + 1)")
    r2 = results.whole_r2("multiplicative")
    ax.set_title(f"Multiplicative model ({n_label(y.size)} combinations): R² = {r2:.3f}\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _r2_per_background(results: MultiplicativityResults, suffix: str) -> Figure:
    table = results.per_background.sort_values(["r2_mult", "r2_prom"]).reset_index(drop=True)
    n = table.shape[0]
    fig = _new_figure(min(max(5.5, 0.14 * n + 3.0), 16.0), 5.0)
    ax = fig.add_subplot()
    x = np.arange(n)
    ax.vlines(x, table["r2_prom"], table["r2_mult"], color="0.7", lw=1)
    ax.scatter(x, table["r2_prom"], s=18, label="y ~ promoter", color="tab:orange", zorder=3)
    ax.scatter(x, table["r2_mult"], s=18, label="y ~ promoter + enhancer", color="tab:blue", zorder=3)
    note = label_every(ax, "x", list(table["location_key"]), max_labels=_MAX_TICK_LABELS, rotation=90)
    ax.set_xlabel(f"background (sorted by multiplicative R²){note}")
    ax.set_ylabel("in-sample R²")
    ax.set_ylim(min(0.0, float(np.nanmin(table[["r2_prom", "r2_mult"]].to_numpy())) - 0.02), 1.02)
    legend(ax)
    ax.set_title(f"Per-background fits ({n_label(n)} backgrounds)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _heatmap(matrix: pd.DataFrame, what: str, title: str, suffix: str) -> Figure:
    import matplotlib as mpl

    values = matrix.to_numpy(dtype=np.float64)
    n = values.shape[0]
    size = min(max(6.0, 0.16 * min(n, _MAX_TICK_LABELS) + 3.5), 18.0)  # a row per label at MIN_FONT
    fig = _new_figure(size, size * 0.9)
    ax = fig.add_subplot()
    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-1.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="Pearson r", shrink=0.8)
    labels = [str(v) for v in matrix.index]
    note = label_every(ax, "x", labels, max_labels=_MAX_TICK_LABELS, rotation=90)
    label_every(ax, "y", labels, max_labels=_MAX_TICK_LABELS)
    if n == 0:
        ax.text(0.5, 0.5, "no correlation: fewer than two groups", ha="center", va="center", transform=ax.transAxes,
                fontsize=MIN_FONT + 1)
    ax.set_xlabel(what + note)
    ax.set_ylabel(what + note)
    ax.set_title(f"{title}\n{n_label(n)} {what}s; {suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _r2_per_promoter(results: MultiplicativityResults, suffix: str) -> Figure:
    table = results.per_promoter
    fig = _new_figure(5.0, 5.0)
    ax = fig.add_subplot()
    ax.scatter(table["r2_loc"], table["r2_mult"], s=14, alpha=0.8)
    lo = min(0.0, float(np.nanmin(table[["r2_loc", "r2_mult"]].to_numpy())))
    ax.plot([lo, 1.0], [lo, 1.0], color="black", lw=0.8, ls="--", label="equal R²")
    legend(ax, loc="upper left")
    ax.set_xlim(lo - 0.02, 1.02)
    ax.set_ylim(lo - 0.02, 1.02)
    ax.set_xlabel("R² of y ~ location")
    ax.set_ylabel("R² of y ~ location + enhancer")
    ax.set_title(f"Per-promoter fits ({n_label(table.shape[0])} promoters)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def draw_figures(results: MultiplicativityResults, *, title_suffix: str) -> list[tuple[str, Figure]]:
    """The figures of :data:`FIGURE_FILES`, as ``(file name, figure)`` pairs in that order."""
    figs = (
        _observed_vs_fitted(results, title_suffix),
        _r2_per_background(results, title_suffix),
        _heatmap(
            results.enhancer_coef_corr_across_backgrounds,
            "background",
            "Enhancer coefficients: correlation between backgrounds",
            title_suffix,
        ),
        _r2_per_promoter(results, title_suffix),
        _heatmap(
            results.enhancer_coef_corr_across_promoters,
            "promoter",
            "Enhancer coefficients: correlation between promoters",
            title_suffix,
        ),
    )
    return list(zip(FIGURE_FILES, figs, strict=True))


def write_figures(results: MultiplicativityResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Write the multiplicativity figures (:data:`FIGURE_FILES`) into ``out_dir``; return their paths.

    ``title_suffix`` (for example ``"Enformer, K562 CAGE (track 5111)"``) is appended to every
    title so that each figure names the model behind it; an empty one is refused.  Each PNG is
    written to a hidden temporary name and moved into place with :func:`os.replace`.
    """
    if not isinstance(title_suffix, str) or not title_suffix.strip():
        raise ValueError(f"title_suffix: expected a non-empty string naming the model, got {title_suffix!r}")
    return save_all(draw_figures(results, title_suffix=title_suffix), out_dir)
