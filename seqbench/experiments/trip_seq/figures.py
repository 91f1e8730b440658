"""Figures of one TRIP-seq variant (paper Fig. 6C/D, S15) and of the window comparison (Fig. S16)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from seqbench.report.figures import bars_with_no_data, legend, n_label, new_figure, save_all

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _fmt(v: float) -> str:
    return "NaN" if not np.isfinite(v) else f"{v:.2f}"


def scatter_figure(results, title_suffix: str):
    """Fig. 6C: log2(pred + 1) vs measured log2(exp), every site of the primary insert, by promoter."""
    d = results.sites[results.sites["insert_type"] == results.primary]
    fig = new_figure(5.5, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for prom, p in d.groupby("promoter", sort=True):
        ax.scatter(p["log2_exp"], p["log2_pred"], s=10, alpha=0.7, label=str(prom))
    s = results.summary()
    ax.set_xlabel("measured log2(exp)")
    ax.set_ylabel("predicted log2(CAGE + 1)")
    ax.set_title(f"TRIP-seq, {results.primary} insert: r = {_fmt(s['r_pooled'] or np.nan)}, {n_label(len(d))}\n"
                 f"{title_suffix}", fontsize=8)
    legend(ax, fontsize=7, title="promoter", title_fontsize=7)
    return fig


def per_promoter_figure(results, title_suffix: str):
    """Fig. 6D: Pearson r per promoter (within its sites), pooled, promoter-reduced and within-promoter."""
    c = results.correlations[results.correlations["insert_type"] == results.primary]
    per = c[c["scope"] == "promoter"]
    other = c[c["scope"] != "promoter"]
    labels = [*per["promoter"].astype(str), *other["scope"]]
    values = np.concatenate([per["pearson_r"].to_numpy(float), other["pearson_r"].to_numpy(float)])
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(labels))
    k = len(per)
    bars_with_no_data(ax, x[:k], values[:k], color="C0")  # a promoter without an r reads "no data", not 0
    bars_with_no_data(ax, x[k:], values[k:], color="C1")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("promoter (sites of one promoter) or scope")
    ax.set_ylabel("Pearson r, log2(pred+1) vs log2(exp)")
    n = int(per["n"].sum()) if len(per) else 0
    ax.set_title(f"TRIP-seq r per promoter, {results.primary} insert, {n_label(n)}\n{title_suffix}", fontsize=8)
    fig.tight_layout()
    return fig


def medians_figure(results, title_suffix: str):
    """Fig. S15: the per-promoter medians (promoter ranking), one point per promoter."""
    d = results.sites[results.sites["insert_type"] == results.primary]
    med = d.groupby("promoter", sort=True)[["log2_pred", "log2_exp"]].median()
    fig = new_figure(4.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(med["log2_exp"], med["log2_pred"], s=25)
    for prom, r in med.iterrows():
        ax.annotate(str(prom), (r["log2_exp"], r["log2_pred"]), fontsize=7)
    s = results.summary()
    ax.set_xlabel("median measured log2(exp)")
    ax.set_ylabel("median predicted log2(CAGE + 1)")
    ax.set_title(f"promoter ranking: r = {_fmt(s['r_promoter_reduced'] or np.nan)}, {n_label(len(med))} promoters"
                 f"\n{title_suffix}", fontsize=8)
    fig.tight_layout()
    return fig


def full_vs_minimal_figure(results, title_suffix: str):
    """Full vs minimal insert prediction at the same sites."""
    s = results.sites
    m = s[s["insert_type"] == "minimal"].set_index("site")["log2_pred"]
    f = s[s["insert_type"] == "full"].set_index("site")["log2_pred"]
    both = pd.concat([m.rename("minimal"), f.rename("full")], axis=1, join="inner")
    fig = new_figure(4.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(both["minimal"], both["full"], s=10)
    ax.set_xlabel("predicted log2(CAGE + 1), minimal insert")
    ax.set_ylabel("predicted log2(CAGE + 1), full insert")
    r = results.summary()["r_full_vs_minimal"]
    ax.set_title(f"full vs minimal insert: r = {_fmt(r if r is not None else np.nan)}, {n_label(len(both))}"
                 f"\n{title_suffix}", fontsize=8)
    fig.tight_layout()
    return fig


def draw_figures(results, *, title_suffix: str) -> list[tuple[str, Figure]]:
    """``(file name, figure)``: ``fig6c_trip_scatter.png``, ``fig6d_trip_r_per_promoter.png``,
    ``figS15_trip_promoter_medians.png`` and, with both insert types, ``trip_full_vs_minimal.png``."""
    figs = [
        ("fig6c_trip_scatter.png", scatter_figure(results, title_suffix)),
        ("fig6d_trip_r_per_promoter.png", per_promoter_figure(results, title_suffix)),
        ("figS15_trip_promoter_medians.png", medians_figure(results, title_suffix)),
    ]
    if len(results.full_vs_minimal):
        figs.append(("trip_full_vs_minimal.png", full_vs_minimal_figure(results, title_suffix)))
    return figs


def write_figures(results, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """The figures of :func:`draw_figures`, written under ``out_dir``."""
    return save_all(draw_figures(results, title_suffix=title_suffix), Path(out_dir))


def windows_figure(table: pd.DataFrame, title: str):
    """Fig. S16: Pearson r by receptive-field window (whole input last), per model and scope."""
    fig = new_figure(6.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    d = table[table["scope"].isin(["pooled", "promoter_reduced", "within_promoter"])]
    windows = sorted({int(w) for w in d["window"] if int(w)}) + ([0] if (d["window"] == 0).any() else [])
    pos = {w: i for i, w in enumerate(windows)}
    for (model, itype, scope), g in d.groupby(["model", "insert_type", "scope"], sort=False):
        g = g.assign(x=g["window"].map(pos)).sort_values("x")
        ax.plot(g["x"], g["pearson_r"], marker="o", label=f"{model}, {itype}, {scope}")
    ax.set_xticks(range(len(windows)))
    ax.set_xticklabels([f"{w:,}" if w else "whole" for w in windows], rotation=30, ha="right", fontsize=7)
    ax.set_xlabel("receptive-field window (bp centred on the landmark)")
    ax.set_ylabel("Pearson r, log2(pred+1) vs log2(exp)")
    n = int(d[d["scope"] == "pooled"]["n"].max()) if (d["scope"] == "pooled").any() else 0
    ax.set_title(f"TRIP-seq r by window, {n_label(n)} sites\n" + textwrap.fill(title, 80), fontsize=8)
    legend(ax, fontsize=7, outside=True)
    fig.tight_layout()
    return fig
