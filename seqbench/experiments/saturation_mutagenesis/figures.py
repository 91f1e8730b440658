"""Figures of the saturation-mutagenesis experiment, drawn from a ``SaturationResults``.

PNG files written with matplotlib's Agg canvas (no pyplot state); every title ends with
``title_suffix`` (the model).  Files, in this order:

=========================================  ========================================================
file                                       content
=========================================  ========================================================
saturation_mutagenesis_per_locus_r.png     Pearson r of predicted vs measured effects per locus,
                                           CAGE and DNASE side by side (like Fig. 4D)
saturation_mutagenesis_calibration.png     measured vs predicted for the two calibration loci and
                                           both pooled; rows CAGE, DNASE (like Fig. 4E)
saturation_mutagenesis_loci_cage.png       measured vs predicted per locus with its OLS line, CAGE
                                           (like Fig. S6)
saturation_mutagenesis_loci_dnase.png      the same for DNASE (like Fig. S7)
saturation_mutagenesis_extras.png          the §4.4 extras: in LDLR, the effect with the log taken
                                           per member first against the effect with the members
                                           averaged first (CAGE, DNASE), and the OLS of measured on
                                           predicted DNASE effects over all loci
=========================================  ========================================================
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqbench.experiments.saturation_mutagenesis.stats import (
    AGGREGATION_LOCUS,
    OBS,
    PRED,
    PRED_LOG_FIRST,
    ols_fit,
    ols_slope,
)
from seqbench.report.figures import MIN_FONT, bars_with_no_data, label_every, legend, n_label, save_all
from seqbench.report.figures import new_figure as _new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from seqbench.experiments.saturation_mutagenesis.stats import SaturationResults

__all__ = ["FIGURE_FILES", "draw_figures", "write_figures"]

FIGURE_FILES = (
    "saturation_mutagenesis_per_locus_r.png",
    "saturation_mutagenesis_calibration.png",
    "saturation_mutagenesis_loci_cage.png",
    "saturation_mutagenesis_loci_dnase.png",
    "saturation_mutagenesis_extras.png",
)
_COLOURS = {"cage": "tab:blue", "dnase": "tab:orange"}


def _fmt(r: float, digits: int = 2) -> str:
    return "n/a" if not math.isfinite(r) else f"{r:.{digits}f}"


def _per_locus_r(results: SaturationResults, suffix: str) -> Figure:
    pl = results.per_locus
    loci = list(dict.fromkeys(pl["locus"]))
    fig = _new_figure(max(5.0, 0.5 * len(loci) + 2.0), 4.2)
    ax = fig.add_subplot()
    x = np.arange(len(loci))
    width = 0.38
    for k, assay in enumerate(("cage", "dnase")):
        sub = pl[pl["assay"] == assay].set_index("locus").reindex(loci)
        # a locus without an r (too few variants, or constant values) reads "no data", not r = 0
        bars_with_no_data(ax, x + (k - 0.5) * width, sub["pearson_r"].to_numpy(float), width,
                          label=assay.upper(), color=_COLOURS[assay])
    ax.axhline(0, color="black", lw=0.6)
    note = label_every(ax, "x", loci, rotation=60, ha="right")
    ax.set_xlabel("locus" + note)
    ax.set_ylabel("Pearson r, predicted vs measured log2FC")
    ax.set_ylim(-1.0, 1.0)
    legend(ax)
    n = len(results.variants)
    ax.set_title(f"Variant effects per locus ({n_label(len(loci))} loci, {n:,} variant effects)\n{suffix}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def _scatter(ax: Axes, x: np.ndarray, y: np.ndarray, colour: str, title: str) -> None:
    ax.scatter(x, y, s=6, alpha=0.6, linewidths=0, color=colour)
    slope, icpt = ols_slope(x, y)
    if math.isfinite(slope):
        xs = np.array([np.nanmin(x), np.nanmax(x)])
        ax.plot(xs, icpt + slope * xs, color="black", lw=0.8)
    ax.axhline(0, color="0.8", lw=0.5, zorder=0)
    ax.axvline(0, color="0.8", lw=0.5, zorder=0)
    ax.set_title(title, fontsize=MIN_FONT)
    ax.tick_params(labelsize=MIN_FONT)
    ax.set_xlabel("predicted log2FC", fontsize=MIN_FONT)
    ax.set_ylabel("measured log2FC", fontsize=MIN_FONT)


def _calibration(results: SaturationResults, suffix: str) -> Figure:
    from seqbench.experiments.saturation_mutagenesis.stats import correlations

    a, b = results.calibration_loci
    fig = _new_figure(9.0, 6.0)
    v = results.variants
    for row, assay in enumerate(("cage", "dnase")):
        e = v[v["assay"] == assay]
        panels = [(a, e[e["locus"] == a]), (b, e[e["locus"] == b]), (f"{a} + {b}", e[e["locus"].isin([a, b])])]
        for col, (name, g) in enumerate(panels):
            ax = fig.add_subplot(2, 3, row * 3 + 1 + col)
            r = correlations(g[PRED], g[OBS])["pearson_r"]
            _scatter(ax, g[PRED].to_numpy(float), g[OBS].to_numpy(float), _COLOURS[assay],
                     f"{assay.upper()} {name}: r = {_fmt(r)} (n = {len(g)})")
    n = int(v["locus"].isin([a, b]).sum())
    fig.suptitle(f"Calibration across loci {a} and {b} ({n_label(n)} variant effects)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _loci_grid(results: SaturationResults, assay: str, suffix: str) -> Figure:
    v = results.variants[results.variants["assay"] == assay]
    loci = list(dict.fromkeys(v["locus"]))
    ncol = min(5, max(1, len(loci)))
    nrow = max(1, -(-len(loci) // ncol))
    fig = _new_figure(2.5 * ncol + 0.5, 2.4 * nrow + 0.8)
    pl = results.per_locus[results.per_locus["assay"] == assay].set_index("locus")
    for k, locus in enumerate(loci):
        g = v[v["locus"] == locus]
        ax = fig.add_subplot(nrow, ncol, k + 1)
        r = float(pl.loc[locus, "pearson_r"]) if locus in pl.index else math.nan
        _scatter(ax, g[PRED].to_numpy(float), g[OBS].to_numpy(float), _COLOURS[assay],
                 f"{locus}: r = {_fmt(r)}, n = {len(g)}")
    if not loci:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, f"no {assay.upper()} variant", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    fig.suptitle(f"{assay.upper()}: measured vs predicted log2FC per locus ({n_label(len(v))} variant effects, "
                 f"{len(loci)} loci)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=MIN_FONT)
    ax.set_xticks([])
    ax.set_yticks([])


def _extras(results: SaturationResults, suffix: str) -> Figure:
    from seqbench.experiments.saturation_mutagenesis.stats import correlations

    fig = _new_figure(11.0, 3.9)
    v = results.variants
    for k, assay in enumerate(("cage", "dnase")):
        ax = fig.add_subplot(1, 3, k + 1)
        g = v[(v["assay"] == assay) & (v["locus"] == AGGREGATION_LOCUS)]
        x = g[PRED].to_numpy(float)
        y = g[PRED_LOG_FIRST].to_numpy(float) if PRED_LOG_FIRST in g else np.full(len(g), np.nan)
        ok = np.isfinite(x) & np.isfinite(y)
        ax.set_xlabel("predicted log2FC, mean over members then log", fontsize=MIN_FONT)
        ax.set_ylabel("predicted log2FC, log per member then mean", fontsize=MIN_FONT)
        ax.tick_params(labelsize=MIN_FONT)
        if not ok.any():
            _no_data(ax, f"no {AGGREGATION_LOCUS} variant with both effects")
            ax.set_title(f"{assay.upper()} {AGGREGATION_LOCUS} (n = 0)", fontsize=MIN_FONT)
            continue
        ax.scatter(x[ok], y[ok], s=6, alpha=0.6, linewidths=0, color=_COLOURS[assay])
        lo, hi = float(min(x[ok].min(), y[ok].min())), float(max(x[ok].max(), y[ok].max()))
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--", label="y = x")
        legend(ax)
        r_agg = correlations(g[PRED], g[OBS])["pearson_r"]
        r_log = correlations(g[PRED_LOG_FIRST], g[OBS])["pearson_r"]
        ax.set_title(f"{assay.upper()} {AGGREGATION_LOCUS}: r with measured {_fmt(r_agg, 3)} (mean, log)"
                     f" vs {_fmt(r_log, 3)} (log, mean)\n(n = {int(ok.sum())})", fontsize=MIN_FONT)
    ax = fig.add_subplot(1, 3, 3)
    e = v[v["assay"] == "dnase"]
    fit = ols_fit(e[PRED], e[OBS])
    _scatter(ax, e[PRED].to_numpy(float), e[OBS].to_numpy(float), _COLOURS["dnase"],
             f"DNASE, all loci: OLS slope {_fmt(fit['slope'])} (se {_fmt(fit['slope_se'])}), "
             f"R^2 {_fmt(fit['r2'])}\n(n = {fit['n']})")
    if not len(e):
        _no_data(ax, "no DNASE variant")
    fig.suptitle(f"Extras ({n_label(len(v))} variant effects)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def draw_figures(results: SaturationResults, *, title_suffix: str) -> list[tuple[str, Figure]]:
    """The figures of :data:`FIGURE_FILES`, as ``(file name, figure)`` pairs in that order."""
    figs = (
        _per_locus_r(results, title_suffix),
        _calibration(results, title_suffix),
        _loci_grid(results, "cage", title_suffix),
        _loci_grid(results, "dnase", title_suffix),
        _extras(results, title_suffix),
    )
    return list(zip(FIGURE_FILES, figs, strict=True))


def write_figures(results: SaturationResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Draw every figure of :data:`FIGURE_FILES` into ``out_dir``; return the paths in that order."""
    return save_all(draw_figures(results, title_suffix=title_suffix), out_dir)
