"""Figures of tissue-expression (Agg canvas, no pyplot state).

Per variant (``write_figures``):

==========================================  ========================================================
file                                        content
==========================================  ========================================================
fig2a_r_per_tissue.png                      Fig. 2A-like: test-gene Pearson r per GTEx tissue, with
                                            the median; the Xpresso / exon-intron / manual add-ons
                                            as markers where computed
fig2b_development.png                       Fig. 2B-like: Cardoso-Moreira test-gene r per organ x
                                            stage (replicates' mean), a heat map
fig2c_deviations.png                        Fig. 2C-like: measured vs predicted deviation from the
                                            gene mean (log2), distributions, per dataset
fig2d_between_tissue.png                    Fig. 2D-like: predicted vs measured deviation (log2),
                                            with the differential threshold and the confusion counts
==========================================  ========================================================

Across variants (``combine``): ``fig2a_r_by_condition.png`` (r per condition per variant) and
``fig3a_window_ablation.png`` (each metric per window, per level, the reference variant as a line).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqbench.report.figures import label_every, legend, n_label, new_figure, save_all

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqbench.experiments.tissue_expression.stats import ExpressionResults

FIGURE_FILES = ("fig2a_r_per_tissue.png", "fig2b_development.png", "fig2c_deviations.png",
                "fig2d_between_tissue.png")
LOG10_2 = float(np.log10(2.0))


def _wrap(text: str, width: int = 140) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _r_per_tissue(results: ExpressionResults, suffix: str) -> Figure:
    fig = new_figure(8.0, 4.5)
    ax = fig.add_subplot()
    r = results.datasets.get("gtex")
    if r is None:
        _empty(ax, "no GTEx input (inputs.gtex = '')")
    else:
        m = r.metrics.sort_values("pearson", ascending=False).reset_index(drop=True)
        x = np.arange(len(m))
        ax.bar(x, m["pearson"].to_numpy(float), color="tab:blue", label="ridge-matched tracks")
        for col, mark, lab in (("pearson_xpresso", "v", "Xpresso"), ("pearson_exon_intron", "^", "+ exon-intron"),
                               ("pearson_manual", "o", "manual match")):
            v = m[col].to_numpy(float)
            if np.isfinite(v).any():
                ax.scatter(x, v, marker=mark, s=14, zorder=3, label=lab)
        med = float(np.nanmedian(m["pearson"]))
        ax.axhline(med, color="black", lw=0.8, ls="--", label=f"median {med:.2f}")
        label_every(ax, "x", list(m["condition"].astype(str)))
        ax.set_xlabel("GTEx tissue")
        ax.set_ylabel("Pearson r, test genes")
        ax.set_ylim(min(0.0, float(np.nanmin(m["pearson"])) - 0.05), 1.0)
        legend(ax, outside=True)
        ax.set_title(f"GTEx: r per tissue ({n_label(int(m['n_test'].iloc[0]))} test genes)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _development(results: ExpressionResults, suffix: str) -> Figure:
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    r = results.datasets.get("kaessmann")
    if r is None:
        _empty(ax, "no Cardoso-Moreira input (inputs.kaessmann = '')")
    else:
        grid = r.metrics.groupby(["organ", "stage"], sort=True)["pearson"].mean().unstack("stage")
        im = ax.imshow(grid.to_numpy(float), aspect="auto", cmap="viridis", vmin=0, vmax=1)
        ax.set_yticks(range(len(grid.index)), list(grid.index))
        label_every(ax, "x", [str(s) for s in grid.columns])
        ax.set_xlabel("developmental stage")
        ax.set_ylabel("organ")
        fig.colorbar(im, ax=ax, label="Pearson r, test genes")
        med = float(np.nanmedian(r.metrics["pearson"]))
        n = n_label(int(r.metrics["n_test"].iloc[0]))
        ax.set_title(f"Cardoso-Moreira: r per organ and stage (median {med:.2f}; {n} test genes)\n{suffix}",
                     fontsize=9)
    fig.tight_layout()
    return fig


def _deviation_arrays(r) -> tuple[np.ndarray, np.ndarray]:
    from seqbench.experiments.tissue_expression.stats import deviations

    obs, pred = deviations(r.predictions)
    return obs / LOG10_2, pred / LOG10_2


def _deviations(results: ExpressionResults, suffix: str) -> Figure:
    items = list(results.datasets.items())
    fig = new_figure(4.0 * max(1, len(items)), 3.6)
    for k, (d, r) in enumerate(items, start=1):
        ax = fig.add_subplot(1, len(items), k)
        obs, pred = _deviation_arrays(r)
        lim = float(np.percentile(np.abs(np.concatenate([obs, pred])), 99.5)) or 1.0
        bins = np.linspace(-lim, lim, 41)
        ax.hist(obs, bins=bins, alpha=0.6, label="measured", color="tab:blue")
        ax.hist(pred, bins=bins, alpha=0.6, label="predicted", color="tab:orange")
        ax.set_xlabel("deviation from the gene mean (log2)")
        ax.set_ylabel("gene x condition")
        legend(ax)
        ax.set_title(f"{d} ({n_label(obs.size)} gene x condition): sd measured {obs.std():.2f},"
                     f" predicted {pred.std():.2f}", fontsize=8)
    fig.suptitle(f"Deviations from the gene mean, test genes\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _between_tissue(results: ExpressionResults, suffix: str) -> Figure:
    items = list(results.datasets.items())
    fig = new_figure(4.2 * max(1, len(items)), 4.0)
    t = results.differential_threshold
    for k, (d, r) in enumerate(items, start=1):
        ax = fig.add_subplot(1, len(items), k)
        obs, pred = _deviation_arrays(r)
        ax.scatter(obs, pred, s=3, alpha=0.4, color="tab:gray", rasterized=True)
        for v in (-t, t):
            ax.axvline(v, color="tab:red", lw=0.6)
            ax.axhline(v, color="tab:red", lw=0.6)
        c = r.differential
        ax.text(0.02, 0.98, f"TP {c['tp']}  FP {c['fp']}\nFN {c['fn']}  TN {c['tn']}\n"
                f"precision {c['precision']:.2f}, recall {c['recall']:.2f}\nMCC {c['mcc']:.2f}",
                transform=ax.transAxes, va="top", fontsize=7)
        ax.set_xlabel("measured deviation (log2)")
        ax.set_ylabel("predicted deviation (log2)")
        ax.set_title(f"{d}: r = {r.gene_level['deviation_r']:.2f} ({n_label(obs.size)})", fontsize=8)
    fig.suptitle(f"Between conditions: differential calls at |deviation| > {t:g}\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def draw_figures(results: ExpressionResults, *, title_suffix: str) -> list[tuple[str, Figure]]:
    builders = (_r_per_tissue, _development, _deviations, _between_tissue)
    return [(name, build(results, title_suffix)) for name, build in zip(FIGURE_FILES, builders, strict=True)]


def write_figures(results: ExpressionResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Write :data:`FIGURE_FILES` into ``out_dir``; return their paths in that order."""
    return save_all(draw_figures(results, title_suffix=title_suffix), out_dir)


def models_figure(combined: Any, title: str) -> Figure:
    """r per condition, one column of points per variant and dataset, medians marked (``combined``: a
    :class:`~seqbench.experiments.tissue_expression.combine.CombinedResults`)."""
    t = combined.r_by_condition
    fig = new_figure(max(5.0, 1.0 + 0.9 * t[["dataset", "variant"]].drop_duplicates().shape[0]), 4.2)
    ax = fig.add_subplot()
    groups = list(t.groupby(["dataset", "variant"], sort=False))
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
    for x, ((_d, _v), g) in enumerate(groups):
        y = g["pearson"].to_numpy(float)
        ax.scatter(x + rng.uniform(-0.2, 0.2, len(y)), y, s=8, alpha=0.7, color=f"C{x % 10}")
        ax.plot([x - 0.3, x + 0.3], [np.nanmedian(y)] * 2, color="black", lw=1.5)
    ax.set_xticks(range(len(groups)), [f"{d}\n{v}" for (d, v), _ in groups], rotation=30, ha="right", fontsize=7)
    ax.set_xlabel("dataset, variant (model x window)")
    ax.set_ylabel("Pearson r per condition, test genes")
    ax.set_title(f"Models side by side (Fig. 2A; {n_label(len(t))} condition fits)\n{_wrap(title, 90)}",
                 fontsize=8)
    fig.tight_layout()
    return fig


def ablation_figure(combined: Any, title: str) -> Figure:
    """Each metric per window on the three levels; the whole input at the right, the reference dashed."""
    a = combined.ablation
    levels = list(dict.fromkeys(a["level"]))
    metrics = ("r2", "pearson", "rmse")
    fig = new_figure(4.0 * len(metrics), 3.6)
    # the windows of the first model that has windows, its whole input as the last point
    model_of = {v["name"]: v["model_index"] for v in combined.variants}
    first = next(v["model_index"] for v in combined.variants if int(v["window"]))
    mine = a[a["predictor"].map(model_of) == first]
    windowed = mine[mine["window"] > 0]
    full = mine[mine["window"] == 0]
    for k, metric in enumerate(metrics, start=1):
        ax = fig.add_subplot(1, len(metrics), k)
        for j, level in enumerate(levels):
            w = windowed[windowed["level"] == level].sort_values("window")
            xs = list(w["window"].astype(float))
            ys = list(w[metric].astype(float))
            f = full[full["level"] == level]
            if len(f):
                xs.append(float(max(xs) * 1.6 if xs else 1.0))
                ys.append(float(f[metric].iloc[0]))
            ax.plot(xs, ys, marker="o", color=f"C{j}", label=level)
            if combined.reference:
                ref = a[(a["predictor"] == combined.reference) & (a["level"] == level)]
                if len(ref):
                    ax.axhline(float(ref[metric].iloc[0]), color=f"C{j}", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("window around the TSS (bp; last point: whole input)")
        ax.set_ylabel(metric)
        if k == 1:
            legend(ax, fontsize=7)
    ref = f"; dashed: {combined.reference}" if combined.reference else ""
    n = int(a.loc[a["level"] == "total", "n"].iloc[0]) if len(a) else 0
    fig.suptitle(f"Sequence-window ablation (Fig. 3A; {n_label(n)} test gene x condition){ref}\n{_wrap(title)}",
                 fontsize=9)
    fig.tight_layout()
    return fig
