"""Figures of the Bergman promoter x enhancer MPRA (paper Fig. 5A-D), from a ``BergmanResults``.

Matplotlib's Agg canvas only (no pyplot state); every title ends with ``title_suffix`` (the model).
Fig. 5A-D read the primary insert type (``min_plasmid`` when present, the paper's fits).

=================================================  ==================================================
file                                               content
=================================================  ==================================================
promoter_enhancer_mpra_promoter_strength.png       Fig. 5A: measured (Poisson) vs predicted (Gamma)
                                                   promoter coefficients of the multiplicative fits
promoter_enhancer_mpra_enhancer_strength.png       Fig. 5B: the same for enhancers
promoter_enhancer_mpra_variance_explained.png      Fig. 5C: variance of log expression explained by
                                                   the promoter alone and with the enhancer, side by
                                                   side (a negative share shows below 0), measured
                                                   and predicted
promoter_enhancer_mpra_induced_variation.png       Fig. 5D: SD across enhancers per promoter vs the
                                                   predicted promoter strength, measured and predicted
promoter_enhancer_mpra_inserts.png                 minimal vs full: per insert type, the pair-level
                                                   Pearson with the measurements and the promoter and
                                                   enhancer strength correlations, side by side
promoter_enhancer_mpra_promoter_only.png           the fragments alone (``promoter_only``): predicted
                                                   log2(CAGE + 1) vs the measured strength, promoters
                                                   and enhancers (a text panel when not run)
=================================================  ==================================================
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqbench.report.figures import bars_with_no_data, legend, n_label, save_all
from seqbench.report.figures import new_figure as _new_figure
from seqbench.stats.common import correlate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqbench.experiments.promoter_enhancer_mpra.stats import BergmanResults, PromoterEnhancerResults

__all__ = ["FIGURE_FILES", "draw_figures", "write_figures"]

FIGURE_FILES = (
    "promoter_enhancer_mpra_promoter_strength.png",
    "promoter_enhancer_mpra_enhancer_strength.png",
    "promoter_enhancer_mpra_variance_explained.png",
    "promoter_enhancer_mpra_induced_variation.png",
    "promoter_enhancer_mpra_inserts.png",
    "promoter_enhancer_mpra_promoter_only.png",
)


def _strength(results: PromoterEnhancerResults, kind: str, suffix: str) -> Figure:
    table = getattr(results, f"{kind}s")
    table = table[~table["is_baseline"]]
    x = table["coef_poisson_mult"].to_numpy(dtype=np.float64)
    y = table["coef_gamma_mult"].to_numpy(dtype=np.float64)
    c = correlate(x, y)
    fig = _new_figure(5.0, 4.8)
    ax = fig.add_subplot()
    ax.scatter(x, y, s=10, alpha=0.6, linewidths=0)
    ax.set_xlabel(f"measured {kind} strength (Poisson coefficient, ln)")
    ax.set_ylabel(f"predicted {kind} strength (Gamma coefficient, ln)")
    ax.set_title(
        f"{kind.capitalize()} strength, {n_label(x.size)} {kind}s: Pearson r = {c.pearson_r:.3f}, "
        f"Spearman = {c.spearman_r:.3f}\n{suffix}",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


def _variance(results: PromoterEnhancerResults, suffix: str) -> Figure:
    s = results.stats
    prom = np.array([s["varexpl_measured_promoter"], s["varexpl_predicted_promoter"]], dtype=np.float64)
    both = np.array(
        [s["varexpl_measured_promoter_enhancer"], s["varexpl_predicted_promoter_enhancer"]], dtype=np.float64
    )
    fig = _new_figure(5.0, 4.5)
    ax = fig.add_subplot()
    x = np.arange(2)
    # side by side, not stacked: a share can be negative (worse than the mean); one that could not be fitted
    # (NaN) reads "no data"
    w = 0.38
    shares = ((prom, "tab:orange", "promoter"), (both, "tab:blue", "promoter + enhancer"))
    for k, (vals, colour, lab) in enumerate(shares):
        xs = x + (k - 0.5) * w
        bars_with_no_data(ax, xs, vals, w, color=colour, label=lab)
        for xi, v in zip(xs, vals, strict=True):
            if math.isfinite(v):
                ax.text(xi, max(v, 0.0) + 0.01, f"{100 * v:.0f}%", ha="center", va="bottom", fontsize=8)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, ["measured (Poisson)", "predicted (Gamma)"])
    ax.set_xlabel("expression, and the model fitted to it")
    finite = np.concatenate([prom[np.isfinite(prom)], both[np.isfinite(both)]])
    ax.set_ylim(min(0.0, float(finite.min()) if finite.size else 0.0) - 0.05, 1.1)
    ax.set_ylabel("variance of log2(expression + 1) explained")
    legend(ax)
    n = s.get("n_pairs")
    pairs = n_label(n) if isinstance(n, int | float) and math.isfinite(n) else "n = ?"
    ax.set_title(f"Variance explained ({pairs} promoter-enhancer pairs)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _induced(results: PromoterEnhancerResults, suffix: str) -> Figure:
    t = results.induced
    fig = _new_figure(5.5, 4.5)
    ax = fig.add_subplot()
    ax.scatter(t["predicted_strength"], t["sd_log_ratio"], s=12, alpha=0.7, label="measured log2(RNA/DNA)",
               color="tab:green", linewidths=0)
    ax.scatter(t["predicted_strength"], t["sd_log_pred"], s=12, alpha=0.7, label="predicted log2(CAGE+1)",
               color="tab:purple", linewidths=0)
    ax.set_xlabel("predicted promoter strength (Gamma promoter-only coefficient, ln)")
    ax.set_ylabel("SD across enhancers")
    legend(ax)
    ax.set_title(f"Variation induced by the enhancer, {n_label(len(t))} promoters\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


#: (summary key stem, label) of the insert comparison, in bar order
_INSERT_BARS = (
    ("pair_pearson_log", "pairs: log2(pred+1) vs log2(RNA/DNA)"),
    ("promoter_strength_pearson", "promoter strength"),
    ("enhancer_strength_pearson", "enhancer strength"),
)


def _inserts(results: BergmanResults, suffix: str) -> Figure:
    t = results.inserts
    types = list(t["insert_type"])
    fig = _new_figure(6.0, 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(types))
    w = 0.8 / len(_INSERT_BARS)
    colours = ("tab:blue", "tab:orange", "tab:green")
    for k, ((key, lab), colour) in enumerate(zip(_INSERT_BARS, colours, strict=True)):
        vals = t[key].to_numpy(dtype=np.float64)
        xs = x + (k - (len(_INSERT_BARS) - 1) / 2) * w
        bars_with_no_data(ax, xs, vals, w, color=colour, label=lab)
        for xi, v in zip(xs, vals, strict=True):
            if math.isfinite(v):
                ax.text(xi, max(v, 0.0) + 0.01, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, types)
    ax.set_xlabel("insert type")
    ax.set_ylabel("Pearson r, measured vs predicted")
    vals = t[[k for k, _ in _INSERT_BARS]].to_numpy(dtype=np.float64)
    lo = float(np.nanmin(vals)) if np.isfinite(vals).any() else 0.0
    ax.set_ylim(min(0.0, lo) - 0.05, 1.25)
    legend(ax)
    n = int(t["n_pairs"].max()) if len(t) else 0
    ax.set_title(f"Minimal vs full inserts, {n_label(n)} pairs per insert type\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _promoter_only(results: BergmanResults, suffix: str) -> Figure:
    a = results.alone
    a = a[a["insert_type"] == results.primary] if len(a) else a
    fig = _new_figure(5.5, 4.5)
    ax = fig.add_subplot()
    if not len(a):
        ax.axis("off")
        ax.text(0.5, 0.5, "Fragments alone were not predicted:\ninputs.promoter_only = false (n = 0)",
                ha="center", va="center", fontsize=9, transform=ax.transAxes)
        ax.set_title(f"Fragments alone in the promoter slot, n = 0\n{suffix}", fontsize=9)
        return fig
    for kind, colour in (("promoter", "tab:blue"), ("enhancer", "tab:red")):
        s = a[a["fragment_kind"] == kind]
        c = correlate(s["log_pred"], s["measured_strength"])
        ax.scatter(s["measured_strength"], s["log_pred"], s=12, alpha=0.7, color=colour, linewidths=0,
                   label=f"{kind} fragments ({n_label(len(s))}, Spearman {c.spearman_r:.2f})")
    ax.set_xlabel("measured strength in the pairs (Poisson coefficient, ln)")
    ax.set_ylabel("predicted alone: log2(CAGE + 1)")
    legend(ax)
    ax.set_title(f"Fragments alone in the promoter slot ({results.primary}), {n_label(len(a))}\n{suffix}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def draw_figures(results: BergmanResults, *, title_suffix: str) -> list[tuple[str, Figure]]:
    """The figures of :data:`FIGURE_FILES`, as ``(file name, figure)`` pairs in that order."""
    prim = results.primary_results
    figs = (
        _strength(prim, "promoter", title_suffix),
        _strength(prim, "enhancer", title_suffix),
        _variance(prim, title_suffix),
        _induced(prim, title_suffix),
        _inserts(results, title_suffix),
        _promoter_only(results, title_suffix),
    )
    return list(zip(FIGURE_FILES, figs, strict=True))


def write_figures(results: BergmanResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Draw the figures into ``out_dir`` (created); return their paths in :data:`FIGURE_FILES` order."""
    return save_all(draw_figures(results, title_suffix=title_suffix), out_dir)
