"""Figures of the Patch-MPRA (paper Fig. S17-S19), from a ``PatchResults``.

Matplotlib's Agg canvas only (no pyplot state); every title ends with ``title_suffix`` (the model).

========================================  ===========================================================
file                                      content
========================================  ===========================================================
patch_mpra_promoter_strength.png          Fig. S17: measured vs predicted promoter coefficients
                                          (``_full`` OLS fits)
patch_mpra_landing_pads.png               landing-pad coefficients, measured and predicted, per pad
patch_mpra_variance_explained.png         R² of the promoter-only, landing-pad-only and full fits,
                                          measured and predicted
patch_mpra_environment_sd.png             Fig. S18 (predicted) and S19 (measured): per-promoter SD
                                          over landing pads vs promoter strength
========================================  ===========================================================
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqbench.report.figures import bars_with_no_data, label_every, legend, n_label, save_all
from seqbench.report.figures import new_figure as _new_figure
from seqbench.stats.common import correlate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqbench.experiments.patch_mpra.stats import PatchResults

__all__ = ["FIGURE_FILES", "draw_figures", "write_figures"]

FIGURE_FILES = (
    "patch_mpra_promoter_strength.png",
    "patch_mpra_landing_pads.png",
    "patch_mpra_variance_explained.png",
    "patch_mpra_environment_sd.png",
)


def _promoters(results: PatchResults, suffix: str) -> Figure:
    t = results.promoters[~results.promoters["is_baseline"]]
    x = t["coef_measured"].to_numpy(np.float64)
    y = t["coef_predicted"].to_numpy(np.float64)
    c = correlate(x, y)
    fig = _new_figure(5.0, 4.8)
    ax = fig.add_subplot()
    ax.scatter(x, y, s=10, alpha=0.6, linewidths=0)
    ax.set_xlabel("measured promoter coefficient (mean_exp units)")
    ax.set_ylabel("predicted promoter coefficient (log2(CAGE + 1))")
    ax.set_title(
        f"Promoter strength, {n_label(x.size)} promoters: Pearson r = {c.pearson_r:.3f}\n{suffix}", fontsize=9
    )
    fig.tight_layout()
    return fig


def _pads(results: PatchResults, suffix: str) -> Figure:
    t = results.landing_pads
    fig = _new_figure(5.5, 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(t))
    w = 0.38
    bars_with_no_data(ax, x - w / 2, t["coef_measured"].to_numpy(np.float64), w, color="tab:green", label="measured")
    bars_with_no_data(ax, x + w / 2, t["coef_predicted"].to_numpy(np.float64), w, color="tab:purple",
                      label="predicted")
    ax.axhline(0, color="black", lw=0.6)
    label_every(ax, "x", [str(v) for v in t["LP_name"]])
    ax.set_xlabel("landing pad (first = reference, coefficient 0)")
    ax.set_ylabel("landing-pad coefficient (OLS, full model)")
    legend(ax)
    r = results.stats.get("landing_pad_coef_pearson", math.nan)
    r_text = f"{r:.3f}" if isinstance(r, float) and math.isfinite(r) else "n/a"
    ax.set_title(f"Landing-pad effects, {n_label(len(t))} landing pads: Pearson r = {r_text}\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _variance(results: PatchResults, suffix: str) -> Figure:
    s = results.stats
    fig = _new_figure(5.5, 4.5)
    ax = fig.add_subplot()
    x = np.arange(2)
    w = 0.27
    parts = (("promoter", "tab:orange", "promoter"), ("landing_pad", "tab:cyan", "landing pad"),
             ("full", "tab:blue", "promoter + landing pad"))
    for k, (key, colour, lab) in enumerate(parts):
        vals = np.array([s.get(f"r2_measured_{key}", math.nan), s.get(f"r2_predicted_{key}", math.nan)], np.float64)
        xs = x + (k - 1) * w
        bars_with_no_data(ax, xs, vals, w, color=colour, label=lab)
        for xi, v in zip(xs, vals, strict=True):
            if math.isfinite(v):
                ax.text(xi, max(v, 0.0) + 0.01, f"{100 * v:.0f}%", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, ["measured mean_exp", "predicted log2(CAGE + 1)"])
    ax.set_xlabel("expression, and the OLS fitted to it")
    ax.set_ylabel("variance explained (in-sample R²)")
    ax.set_ylim(0, 1.3)
    legend(ax, loc="upper center", ncol=3)
    n = s.get("n_pairs")
    pairs = n_label(int(n)) if isinstance(n, int | float) and math.isfinite(n) else "n = ?"
    ax.set_title(f"Variance explained ({pairs} promoter-landing pad pairs)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _sd(results: PatchResults, suffix: str) -> Figure:
    t = results.promoters
    fig = _new_figure(9.0, 4.3)
    for k, (side, colour, what) in enumerate((("predicted", "tab:purple", "log2(CAGE + 1)"),
                                               ("measured", "tab:green", "mean_exp"))):
        ax = fig.add_subplot(1, 2, k + 1)
        x = t[f"coef_{side}"].to_numpy(np.float64)
        y = t[f"sd_{side}"].to_numpy(np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        ax.scatter(x[ok], y[ok], s=10, alpha=0.6, color=colour, linewidths=0)
        ax.set_xlabel(f"{side} promoter coefficient")
        ax.set_ylabel(f"SD of {what} over landing pads")
        fig_no = "S18" if side == "predicted" else "S19"
        ax.set_title(f"{side.capitalize()} (Fig. {fig_no}), {n_label(int(ok.sum()))} promoters\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def draw_figures(results: PatchResults, *, title_suffix: str) -> list[tuple[str, Figure]]:
    """The figures of :data:`FIGURE_FILES`, as ``(file name, figure)`` pairs in that order."""
    figs = (
        _promoters(results, title_suffix),
        _pads(results, title_suffix),
        _variance(results, title_suffix),
        _sd(results, title_suffix),
    )
    return list(zip(FIGURE_FILES, figs, strict=True))


def write_figures(results: PatchResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Draw the four figures into ``out_dir`` (created); return their paths in :data:`FIGURE_FILES` order."""
    return save_all(draw_figures(results, title_suffix=title_suffix), out_dir)
