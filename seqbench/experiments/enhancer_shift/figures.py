"""Figures of the enhancer-shift experiment (like the paper's Fig. S23), from ``EnhancerShiftResults``.

PNG files written with matplotlib's Agg canvas (no pyplot state); every title ends with
``title_suffix``, which must name the model.  Effects are ``predicted_percent`` (%, log axis); zero
effects, which a log axis cannot show, are drawn in a shaded band under the axis whose tick reads
"0" and which states how many effects it holds (``seqbench.report.figures.ZeroBand``).

=======================================  =====================================================
file                                     content
=======================================  =====================================================
enhancer_shift_effect_vs_distance.png    median effect of the validated enhancers against the
                                         test distance (best direction), 25-75 % and 10-90 %
                                         bands, and each enhancer's native effect at its native
                                         distance (points, native distance < 100 kb)
enhancer_shift_trajectories.png          per-enhancer effect against distance for the far
                                         enhancers (native distance > ``far_distance``; all of
                                         them when none is that far), native effect marked
enhancer_shift_vs_observed.png           native and shifted (compare distance) effect against
                                         the observed CRISPRi effect, log-log
enhancer_shift_classification.png        precision-recall curves, validated vs not, native
                                         and shifted to the compare distance
=======================================  =====================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqbench.report.figures import ZeroBand, legend, mark_zeros_on_log_axis, n_label, save_all
from seqbench.report.figures import new_figure as _new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqbench.experiments.enhancer_shift.stats import EnhancerShiftResults

__all__ = ["FIGURE_FILES", "draw_figures", "write_figures"]

FIGURE_FILES = (
    "enhancer_shift_effect_vs_distance.png",
    "enhancer_shift_trajectories.png",
    "enhancer_shift_vs_observed.png",
    "enhancer_shift_classification.png",
)
MAX_TRAJECTORIES = 60


def _effect_vs_distance(r: EnhancerShiftResults, suffix: str) -> Figure:
    fig = _new_figure(6.5, 4.5)
    ax = fig.add_subplot()
    p = r.profile
    kb = p["distance"].to_numpy(np.float64) / 1000
    s = r.pairs[r.pairs["shifted"].astype(bool) & (r.pairs["distance"] < 100_000)]
    band = ZeroBand.below(p["q10"], p["median"], s["native_percent"])
    if len(p):
        q = {c: band.place(p[c], count=False) for c in ("q10", "q25", "median", "q75", "q90")}
        ax.fill_between(kb, q["q10"], q["q90"], color="tab:blue", alpha=0.15, label="10-90 %")
        ax.fill_between(kb, q["q25"], q["q75"], color="tab:blue", alpha=0.3, label="25-75 %")
        ax.plot(kb, q["median"], color="tab:blue", marker="o", ms=3, label="median, shifted")
    ax.scatter(s["distance"] / 1000, band.place(s["native_percent"]), s=10, color="tab:orange", alpha=0.7,
               label="native (at native distance)", zorder=3)
    mark_zeros_on_log_axis(ax, band, "y", what="native effects")
    ax.set_xlabel("distance to the TSS (kb)")
    ax.set_ylabel("predicted effect (%)")
    legend(ax)
    ax.set_title(f"Validated enhancers moved to each distance ({n_label(r.pairs['shifted'].astype(bool).sum())})"
                 f"\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _trajectories(r: EnhancerShiftResults, suffix: str) -> Figure:
    fig = _new_figure(6.5, 4.5)
    ax = fig.add_subplot()
    s = r.pairs[r.pairs["shifted"].astype(bool)]
    far = s[s["distance"] > r.far_distance]
    which, label = (far, f"native distance > {r.far_distance // 1000} kb") if len(far) else (s, "all")
    n_all = len(which)
    which = which.iloc[:MAX_TRAJECTORIES]
    best = r.best[r.best["ziga_key"].isin(which["ziga_key"])]
    band = ZeroBand.below(best["predicted_percent"], which["native_percent"])
    for row in which.itertuples(index=False):
        t = best[best["ziga_key"] == row.ziga_key].sort_values("distance")
        line = ax.plot(t["distance"] / 1000, band.place(t["predicted_percent"]), lw=0.8, alpha=0.7)
        ax.scatter([row.distance / 1000], band.place([row.native_percent]), s=14, color=line[0].get_color(),
                   edgecolor="black", linewidth=0.4, zorder=3)
    mark_zeros_on_log_axis(ax, band, "y", what="effects")
    ax.set_xlabel("distance to the TSS (kb)")
    ax.set_ylabel("predicted effect (%)")
    shown = f"{n_label(len(which))} shown" + (f" of {n_all:,}" if n_all > len(which) else "")
    ax.set_title(f"Per-enhancer trajectories ({label}, {shown}; dots: native)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _vs_observed(r: EnhancerShiftResults, suffix: str) -> Figure:
    fig = _new_figure(9.0, 4.2)
    s = r.pairs[r.pairs["shifted"].astype(bool)]
    cols = (s["observed_percent"], s["native_percent"], s["shifted_percent_compare"])
    for k, (col, name) in enumerate(
        (("native_percent", "native"), ("shifted_percent_compare", f"shifted to {r.compare_distance // 1000} kb"))
    ):
        ax = fig.add_subplot(1, 2, k + 1)
        xband, yband = ZeroBand.below(*cols), ZeroBand.below(*cols)
        obs, pred = xband.place(s["observed_percent"]), yband.place(s[col])
        ax.scatter(obs, pred, s=10, alpha=0.7)
        ok = np.isfinite(obs) & np.isfinite(pred)
        a = float(min(obs[ok].min(), pred[ok].min())) if ok.any() else xband.position
        b = float(max(obs[ok].max(), pred[ok].max())) if ok.any() else 100.0
        a = max(a, xband.position * ZeroBand.GAP)  # the diagonal stays out of the zero bands
        ax.plot([a, b], [a, b], color="black", lw=0.8, ls="--", label="y = x")
        mark_zeros_on_log_axis(ax, xband, "x", what="observed")
        mark_zeros_on_log_axis(ax, yband, "y", what="predicted")
        ax.set_xlabel("observed effect (%)")
        ax.set_ylabel(f"predicted effect (%), {name}")
        ax.set_title(f"{name} ({n_label(int(ok.sum()))})", fontsize=9)
    fig.suptitle(f"Predicted vs observed, validated enhancers ({n_label(len(s))})\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _classification(r: EnhancerShiftResults, suffix: str) -> Figure:
    from sklearn.metrics import precision_recall_curve

    fig = _new_figure(5.0, 4.5)
    ax = fig.add_subplot()
    ps = r.pairs
    ok = np.isfinite(ps["shifted_percent_compare"].to_numpy(np.float64)) & np.isfinite(
        ps["native_percent"].to_numpy(np.float64)
    )
    y = ps.loc[ok, "validated"].to_numpy(bool)
    if y.any() and not y.all():
        for col, name in (("native_percent", "native"), ("shifted_percent_compare", "shifted")):
            prec, rec, _ = precision_recall_curve(y, ps.loc[ok, col].to_numpy(np.float64))
            auprc = r.stats.get(f"auprc_{name}")
            ax.step(rec, prec, where="post", label=f"{name} (AUPRC {auprc:.3f})")
        ax.axhline(y.mean(), color="grey", ls="--", lw=0.8, label=f"prevalence {y.mean():.3f}")
        legend(ax)
    else:
        ax.text(0.5, 0.5, "one class only: no curve", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Validated vs not at {r.compare_distance // 1000} kb (n = {int(ok.sum())})\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def draw_figures(results: EnhancerShiftResults, *, title_suffix: str) -> list[tuple[str, Figure]]:
    """The figures of :data:`FIGURE_FILES`, as ``(file name, figure)`` pairs in that order."""
    builders = (_effect_vs_distance, _trajectories, _vs_observed, _classification)
    return [(name, build(results, title_suffix)) for name, build in zip(FIGURE_FILES, builders, strict=True)]


def write_figures(results: EnhancerShiftResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Write :data:`FIGURE_FILES` into ``out_dir`` (atomically each); return their paths."""
    if not isinstance(title_suffix, str) or not title_suffix.strip():
        raise ValueError(f"title_suffix: expected a non-empty string naming the model, got {title_suffix!r}")
    return save_all(draw_figures(results, title_suffix=title_suffix), out_dir)
