"""Figures of the Bergman promoter x enhancer MPRA (paper Fig. 5A-D), from a ``PromoterEnhancerResults``.

Matplotlib's Agg canvas only (no pyplot state); every title ends with ``title_suffix`` (the model).

=================================================  ==================================================
file                                               content
=================================================  ==================================================
promoter_enhancer_mpra_promoter_strength.png       Fig. 5A: measured (Poisson) vs predicted (Gamma)
                                                   promoter coefficients of the multiplicative fits
promoter_enhancer_mpra_enhancer_strength.png       Fig. 5B: the same for enhancers
promoter_enhancer_mpra_variance_explained.png      Fig. 5C: variance of log expression explained by
                                                   the promoter, and added by the enhancer, measured
                                                   and predicted
promoter_enhancer_mpra_induced_variation.png       Fig. 5D: SD across enhancers per promoter vs the
                                                   predicted promoter strength, measured and predicted
=================================================  ==================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqbench.report.figures import new_figure as _new_figure
from seqbench.report.figures import save_png as _save
from seqbench.stats.common import correlate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqbench.experiments.promoter_enhancer_mpra.stats import PromoterEnhancerResults

__all__ = ["FIGURE_FILES", "write_figures"]

FIGURE_FILES = (
    "promoter_enhancer_mpra_promoter_strength.png",
    "promoter_enhancer_mpra_enhancer_strength.png",
    "promoter_enhancer_mpra_variance_explained.png",
    "promoter_enhancer_mpra_induced_variation.png",
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
        f"{kind.capitalize()} strength, {x.size} {kind}s: Pearson r = {c.pearson_r:.3f}, "
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
    fig = _new_figure(4.5, 4.5)
    ax = fig.add_subplot()
    x = np.arange(2)
    ax.bar(x, prom, color="tab:orange", label="promoter")
    ax.bar(x, np.maximum(both - prom, 0.0), bottom=prom, color="tab:blue", label="+ enhancer")
    for xi, p, b in zip(x, prom, both, strict=True):
        ax.text(xi, p / 2, f"{100 * p:.0f}%", ha="center", va="center", fontsize=8, color="white")
        ax.text(xi, b + 0.01, f"{100 * b:.0f}%", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x)
    ax.set_xticklabels(["measured (Poisson)", "predicted (Gamma)"])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("variance of log2(expression + 1) explained")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"Variance explained\n{suffix}", fontsize=9)
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
    ax.legend(fontsize=8)
    ax.set_title(f"Variation induced by the enhancer, {len(t)} promoters\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def write_figures(results: PromoterEnhancerResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Draw the four figures into ``out_dir`` (created); return their paths in :data:`FIGURE_FILES` order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figs = [
        _strength(results, "promoter", title_suffix),
        _strength(results, "enhancer", title_suffix),
        _variance(results, title_suffix),
        _induced(results, title_suffix),
    ]
    return [_save(f, out_dir / name) for f, name in zip(figs, FIGURE_FILES, strict=True)]
