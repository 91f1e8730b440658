"""Figures of the enhancer knock-down experiment (Agg canvas, no pyplot state).

==========================================  ========================================================
file                                        content
==========================================  ========================================================
knockdown_effect_vs_distance.png            Fig. 5E-like: measured and predicted effect (%) of
                                            validated pairs vs distance, log-log axes; zero effects
                                            in a band labelled "0" under the axis, with their count
knockdown_predicted_vs_measured.png         Fig. S8-S11-like: predicted vs measured log2 FC per
                                            dataset, validated pairs highlighted, Pearson r and n
                                            in the title
knockdown_auprc_by_distance.png             AUPRC of |log2 FC|, |delta|, ABC (and Enformer-ABC when
                                            on) per distance bin, with the random baseline; a bin
                                            without an AUPRC (one class only, or no pair) reads
                                            "no data"
knockdown_enformer_abc_auprc.png            AUPRC (d > 1 kb) of every Enformer-ABC predictor per
                                            dataset, with its bootstrap CI and the random baseline
knockdown_basal_expression.png              predicted effect (%) vs basal promoter strength (AAVS1
                                            readout), validated pairs highlighted, OLS slope in the
                                            title
==========================================  ========================================================

An analysis that is off (``inputs.analyses``) draws its figure as one "no data" panel that says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqbench.report.figures import (
    NO_DATA,
    ZeroBand,
    bars_with_no_data,
    ensure_log_ticks,
    legend,
    mark_zeros_on_log_axis,
    n_label,
    new_figure,
    no_data_bar,
    save_all,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqbench.experiments.enhancer_knockdown.stats import KnockdownResults

__all__ = ["FIGURE_FILES", "draw_figures", "write_figures"]

FIGURE_FILES = (
    "knockdown_effect_vs_distance.png",
    "knockdown_predicted_vs_measured.png",
    "knockdown_auprc_by_distance.png",
    "knockdown_enformer_abc_auprc.png",
    "knockdown_basal_expression.png",
)


def _effect_vs_distance(results: KnockdownResults, suffix: str) -> Figure:
    e = results.effects
    fig = new_figure(6.5, 4.5)
    ax = fig.add_subplot()
    v = e[e["validated"] & (e["distance"] > 0)]
    band = ZeroBand.below(v["observed_percent"], v["predicted_percent"])
    ax.scatter(v["distance"], band.place(v["observed_percent"]), s=12, label="measured", color="tab:blue")
    ax.scatter(v["distance"], band.place(v["predicted_percent"]), s=12, label="predicted", color="tab:orange")
    ax.set_xscale("log")
    mark_zeros_on_log_axis(ax, band, "y", what="effects")
    mark_zeros_on_log_axis(ax, ZeroBand.below(v["distance"]), "x")
    ax.set_xlabel("distance enhancer - TSS (bp)")
    ax.set_ylabel("effect on expression (%)")
    legend(ax)
    ax.set_title(f"Validated enhancers: effect vs distance ({n_label(len(v))} pairs)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _predicted_vs_measured(results: KnockdownResults, suffix: str) -> Figure:
    e = results.effects
    datasets = [d for d in ("fulco2019", "gasperini2019") if (e["dataset"] == d).any()]
    fig = new_figure(5.0 * max(len(datasets), 1), 4.5)
    if not datasets:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no pair of fulco2019 or gasperini2019", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(f"Predicted vs measured ({n_label(0)} pairs)\n{suffix}", fontsize=9)
    for k, ds in enumerate(datasets):
        ax = fig.add_subplot(1, len(datasets), k + 1)
        f = e[e["dataset"] == ds]
        val = f["validated"].astype(bool)
        ax.scatter(f.loc[~val, "observed_log2fc"], f.loc[~val, "log2_fc_pred"], s=10, color="grey",
                   label=f"not validated ({n_label((~val).sum())})")
        ax.scatter(f.loc[val, "observed_log2fc"], f.loc[val, "log2_fc_pred"], s=12, color="tab:red",
                   label=f"validated ({n_label(val.sum())})")
        r = results.correlations
        rr = r[(r["dataset"] == ds) & (r["subset"] == "all")]["pearson"]
        rv = float(rr.iloc[0]) if len(rr) else float("nan")
        ax.set_title(f"{ds}: r = {rv:.2f}, {n_label(len(f))} pairs\n{suffix}", fontsize=9)
        ax.set_xlabel("measured log2 FC")
        ax.set_ylabel("predicted log2 FC")
        legend(ax)
    fig.tight_layout()
    return fig


def _auprc_by_distance(results: KnockdownResults, suffix: str) -> Figure:
    from seqbench.experiments.enhancer_knockdown.stats import DISTANCE_LABELS

    fig = new_figure(7.5, 4.5)
    ax = fig.add_subplot()
    a = results.auprc[(results.auprc["dataset"] == "combined") & results.auprc["distance_bin"].isin(DISTANCE_LABELS)]
    a = a.set_index("distance_bin").reindex(list(DISTANCE_LABELS))
    x = np.arange(len(DISTANCE_LABELS))
    cols = [("auprc_abs_log2fc", "|log2 FC|"), ("auprc_abs_delta", "|delta|"), ("auprc_abc", "ABC")]
    if "auprc_enformer_abc" in a.columns:
        cols.append(("auprc_enformer_abc", "Enformer-ABC"))
    w = 0.75 / len(cols)
    empty = a[[c for c, _ in cols]].isna().all(axis=1).to_numpy()
    for j, (col, lab) in enumerate(cols):  # a bin without any AUPRC reads "no data" once, at its centre
        bars_with_no_data(ax, x[~empty] + (j - (len(cols) - 1) / 2) * w, a[col].to_numpy(dtype=float)[~empty],
                          width=w, label=lab)
    for xi in x[empty]:
        why = "no pair" if not (a["n"].iloc[xi] > 0) else "one class only"
        no_data_bar(ax, xi, rotation=0, text=f"{NO_DATA}\n({why})", width=0.75)
    ax.scatter(x, a["random_baseline"].to_numpy(dtype=float), marker="_", s=400, color="black",
               label="random (prevalence)")
    n = a["n"].fillna(0).astype(int).to_numpy() if "n" in a else np.zeros(len(x), dtype=int)
    nv = a["n_validated"].fillna(0).astype(int).to_numpy() if "n_validated" in a else np.zeros(len(x), dtype=int)
    ax.set_xticks(x, [f"{lab} kb\n{n_label(k)} ({kv} val.)" for lab, k, kv in zip(DISTANCE_LABELS, n, nv,
                                                                                       strict=True)])
    ax.set_xlabel("distance enhancer - TSS")
    ax.set_ylabel("AUPRC (validated vs not)")
    ax.set_ylim(0, 1.05)
    legend(ax, outside=True)
    ax.set_title(f"AUPRC by distance, both datasets ({n_label(n.sum())} pairs)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _off(title: str, why: str, suffix: str) -> Figure:
    fig = new_figure(6.5, 4.0)
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, f"{NO_DATA}: {why}", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("(no data)")
    ax.set_ylabel("(no data)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{title} ({n_label(0)})\n{suffix}", fontsize=9)
    return fig


def _enformer_abc_auprc(results: KnockdownResults, suffix: str) -> Figure:
    from seqbench.experiments.enhancer_knockdown.analyses import ABC_PREDICTORS

    t = results.local.abc_auprc
    if t.empty:
        return _off("Enformer-ABC AUPRC", "Enformer-ABC is off (inputs.analyses)", suffix)
    datasets = list(dict.fromkeys(t["dataset"]))
    names = {"delta": "|delta|", "abc": "ABC", "abs_log2fc": "|log2 FC|", "abs_percent": "|%|",
             "enformer_abc": "Enformer-ABC"}
    fig = new_figure(8.0, 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(datasets))
    w = 0.8 / len(ABC_PREDICTORS)
    for j, p in enumerate(ABC_PREDICTORS):
        sub = t[t["predictor"] == p].set_index("dataset").reindex(datasets)
        xs = x + (j - (len(ABC_PREDICTORS) - 1) / 2) * w
        h = sub["auprc"].to_numpy(dtype=float)
        bars_with_no_data(ax, xs, h, width=w, label=names.get(p, p))
        lo, hi = sub["ci_low"].to_numpy(dtype=float), sub["ci_high"].to_numpy(dtype=float)
        ok = ~(np.isnan(h) | np.isnan(lo) | np.isnan(hi))
        ax.errorbar(xs[ok], h[ok], yerr=[h[ok] - lo[ok], hi[ok] - h[ok]], fmt="none", ecolor="black", capsize=2,
                    lw=0.8)
    base = t.drop_duplicates("dataset").set_index("dataset").reindex(datasets)
    ax.scatter(x, base["random_baseline"].to_numpy(dtype=float), marker="_", s=600, color="black",
               label="random (prevalence)")
    n = t[t["predictor"] == "enformer_abc"].set_index("dataset").reindex(datasets)["n"].fillna(0).astype(int)
    ax.set_xticks(x, [f"{d}\n{n_label(k)}" for d, k in zip(datasets, n, strict=True)])
    ax.set_xlabel("dataset (pairs with d > 1 kb)")
    ax.set_ylabel("AUPRC (validated vs not)")
    ax.set_ylim(0, 1.05)
    legend(ax, outside=True)
    nb = results.local.n_bootstrap
    ax.set_title(f"Enformer-ABC and the knock-down predictors, {nb}-resample bootstrap CI"
                 f" ({n_label(int(n.iloc[-1]))} pairs)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _basal_expression(results: KnockdownResults, suffix: str) -> Figure:
    e = results.effects
    if "promoter_strength" not in e.columns:
        return _off("Basal expression", "basal expression is off (inputs.analyses)", suffix)
    f = e[(e["distance"] > 999) & (e["distance"] < 100_000)]
    fig = new_figure(6.5, 4.5)
    ax = fig.add_subplot()
    val = f["validated"].astype(bool)
    y = np.abs(f["predicted_percent"].to_numpy(float)) + 0.001
    ax.scatter(f.loc[~val, "promoter_strength"], y[~val.to_numpy()], s=12, color="grey",
               label=f"not validated ({n_label((~val).sum())})")
    ax.scatter(f.loc[val, "promoter_strength"], y[val.to_numpy()], s=14, color="tab:red",
               label=f"validated ({n_label(val.sum())})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ensure_log_ticks(ax, "both")
    ax.set_xlabel("basal promoter strength (promoter alone at AAVS1, CAGE)")
    ax.set_ylabel("predicted effect (%) + 0.001")
    legend(ax)
    fits = results.local.basal_fits
    row = fits[fits["response"] == "predicted_percent"] if len(fits) else fits
    coef = float(row["coef_log10_promoter"].iloc[0]) if len(row) else float("nan")
    ax.set_title(f"Effect vs basal promoter strength, 1-100 kb ({n_label(len(f))} pairs;"
                 f" OLS log10 promoter coef = {coef:.2f})\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def draw_figures(results: KnockdownResults, *, title_suffix: str) -> list[tuple[str, Figure]]:
    """The figures of :data:`FIGURE_FILES`, as ``(file name, figure)`` pairs in that order."""
    builders = (_effect_vs_distance, _predicted_vs_measured, _auprc_by_distance, _enformer_abc_auprc,
                _basal_expression)
    return [(name, build(results, title_suffix)) for name, build in zip(FIGURE_FILES, builders, strict=True)]


def write_figures(results: KnockdownResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Write :data:`FIGURE_FILES` into ``out_dir``; return their paths in that order."""
    return save_all(draw_figures(results, title_suffix=title_suffix), out_dir)
