"""Figures of the eQTL experiment (like paper Fig. 6A and 6B), drawn from ``EqtlResults``.

============================  =====================================================================
file                          content
============================  =====================================================================
eqtl_predicted_by_distance.png  strongest predicted |% change| per credible set vs TSS distance, log-log,
                              with the OLS line (Fig. 6A); zero effects drawn on the bottom edge
eqtl_observed_by_distance.png   measured max |slope| per credible set vs its minimal TSS distance
                              (Fig. 6B); "no data" without GTEx pairs
============================  =====================================================================
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from seqbench.report.figures import MIN_FONT, ensure_log_ticks, legend, n_label, new_figure, save_all

FIGURE_FILES = ("eqtl_predicted_by_distance.png", "eqtl_observed_by_distance.png")


def _predicted(results, suffix: str):
    m = results.max_effects
    d = m["abs_tss_distance"].to_numpy(np.float64)
    e = m["max_abs_pct"].to_numpy(np.float64)
    fig = new_figure(5.0, 4.0)
    ax = fig.add_subplot()
    pos = (d > 0) & (e > 0) & np.isfinite(e)
    zero = (d > 0) & ~pos
    if pos.any():
        ax.scatter(d[pos], e[pos], s=12, color="tab:blue", label="strongest variant per set")
        floor = e[pos].min() / 3.0
    else:
        floor = 1e-3
    if zero.any():
        ax.scatter(d[zero], np.full(zero.sum(), floor), s=12, marker="v", color="0.5",
                   label=f"zero effect (drawn at {floor:.2g})")
    ols = results.ols
    if math.isfinite(ols["slope"]) and pos.any():
        xs = np.geomspace(d[pos].min(), d[pos].max(), 50)
        ax.plot(xs, 10 ** (ols["intercept"] + ols["slope"] * np.log10(xs)), color="tab:red",
                label=f"OLS: slope {ols['slope']:.2f}, R² {ols['r2']:.2f}")
    if pos.any() or zero.any():
        ax.set_xscale("log")
        ax.set_yscale("log")
        ensure_log_ticks(ax)
        legend(ax)
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, fontsize=MIN_FONT)
    ax.set_xlabel("distance of the variant to the TSS (bp)")
    ax.set_ylabel("predicted max |% change| per credible set")
    ax.set_title(f"Predicted eQTL effect by distance ({n_label(len(m))} sets), {suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _observed(results, suffix: str):
    o = results.observed
    fig = new_figure(5.0, 4.0)
    ax = fig.add_subplot()
    d = o["abs_tss_distance_min"].to_numpy(np.float64)
    s = o["max_abs_slope"].to_numpy(np.float64)
    ok = (d > 0) & (s > 0)
    if ok.any():
        ax.scatter(d[ok], s[ok], s=12, color="tab:green")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ensure_log_ticks(ax)
    else:
        ax.text(0.5, 0.5, "no data (no GTEx pairs given or matched)", ha="center", va="center",
                transform=ax.transAxes, fontsize=MIN_FONT)
    ax.set_xlabel("minimal distance of the credible set to the TSS (bp)")
    ax.set_ylabel("measured max |slope| per credible set")
    ax.set_title(f"Measured eQTL effect by distance ({n_label(int(ok.sum()))} sets), {suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def draw_figures(results, title_suffix: str) -> list[tuple[str, object]]:
    return [(FIGURE_FILES[0], _predicted(results, title_suffix)), (FIGURE_FILES[1], _observed(results, title_suffix))]


def write_figures(results, out_dir: Path, *, title_suffix: str = "") -> list[Path]:
    return save_all(draw_figures(results, title_suffix), Path(out_dir))
