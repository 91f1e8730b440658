"""Figures of the promoter MPRA job, like the paper's Fig. 4A–C (matplotlib, Agg canvas, no pyplot state).

=====================================  ===========================================================
file                                   content
=====================================  ===========================================================
promoter_mpra_correlations.png         Fig. 4A: Pearson r of log2(pred+1) vs log2(measured) per
                                       set and background (summary insert type, K562 CAGE)
promoter_mpra_endogenous_scatter.png   measured vs predicted, endogenous promoters
promoter_mpra_tata_shift.png           Fig. 4B: measured and predicted vs TATA position in the
                                       variant background, with the occlusion profile
promoter_mpra_ism.png                  Fig. 4C: local ISM log2 fold change, position x base
promoter_mpra_background_ism.png       background ISM (§3.5): one heatmap panel per background, in
                                       the authors' order, alternative x position, one colour
                                       scale for all panels (summary insert type, else the first)
=====================================  ===========================================================

Every title ends with ``title_suffix`` (the model and track).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqbench.report.figures import MIN_FONT, bars_with_no_data, label_every, legend, n_label, save_all
from seqbench.report.figures import new_figure as _new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from seqbench.experiments.promoter_mpra.stats import PromoterMpraResults

FIGURE_FILES = (
    "promoter_mpra_correlations.png",
    "promoter_mpra_endogenous_scatter.png",
    "promoter_mpra_tata_shift.png",
    "promoter_mpra_ism.png",
    "promoter_mpra_background_ism.png",
)


def _correlations(res: PromoterMpraResults, suffix: str) -> Figure:
    c = res.correlations
    c = c[(c["track"] == "cage") & (c["insert_type"] == res.summary_insert_type)] if not c.empty else c
    labels, values, colours, ns = [], [], [], []
    for set_name, colour in (("native", "tab:blue"), ("endogenous", "tab:blue"), ("tf_motifs", "tab:green"),
                             ("core_motifs", "tab:orange"), ("tata_shift", "tab:purple")):
        sub = c[c["set"] == set_name]
        for r in sub.itertuples(index=False):
            star = "*" if isinstance(r.q_bh, float) and r.q_bh < 0.05 else ""
            labels.append(f"{set_name}: {r.group}{star} (n = {int(r.n)})")
            values.append(r.pearson_r)
            colours.append(colour)
            ns.append(int(r.n))
    fig = _new_figure(7.0, max(3.0, 0.28 * len(labels) + 1.5))
    ax = fig.add_subplot()
    y = np.arange(len(labels))
    # a set without an r (too few oligos, constant values) reads "no data", not r = 0
    bars_with_no_data(ax, y, np.asarray(values, dtype=float), horizontal=True, color=colours)
    ax.set_yticks(y, labels, fontsize=MIN_FONT)
    ax.set_ylabel("oligo set: group (n oligos)")
    if not labels:
        ax.text(0.5, 0.5, "no correlation for this insert type", ha="center", va="center", transform=ax.transAxes)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlim(-1, 1)
    ax.set_xlabel("Pearson r, log2(pred + 1) vs log2(measured)\n(* BH q < 0.05)")
    span = f"n = {min(ns)}-{max(ns)} oligos each" if ns else n_label(0)
    ax.set_title(f"Promoter MPRA, {res.summary_insert_type} insert: {len(labels)} correlations\n{span}\n{suffix}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def _scatter(res: PromoterMpraResults, suffix: str, native_ids: set[int]) -> Figure:
    op = res.oligo_predictions
    fig = _new_figure(5.0, 4.5)
    ax = fig.add_subplot()
    c = res.correlations
    sub = op[(op["insert_type"] == res.summary_insert_type) & op["oligo_index"].isin(native_ids)]
    meas = res.endogenous
    m = sub.merge(meas, left_on="oligo_index", right_on="Oligo_index")
    n_zero = int((m["mean_exp"] <= 0).sum())  # log2(measured) has no value there: left out, and said so
    m = m[m["mean_exp"] > 0]
    ax.scatter(np.log2(m["cage"] + 1), np.log2(m["mean_exp"]), s=10, alpha=0.7)
    r = c[(c["set"] == "endogenous") & (c["track"] == "cage") & (c["insert_type"] == res.summary_insert_type)]
    rv = float(r["pearson_r"].iloc[0]) if len(r) else float("nan")
    ax.set_xlabel("predicted log2(CAGE + 1)")
    ax.set_ylabel("measured log2(expression)")
    zeros = f"; {n_zero} with measured expression 0 not shown" if n_zero else ""
    ax.set_title(f"Endogenous promoters ({n_label(len(m))}{zeros}), r = {rv:.2f}\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _tata(res: PromoterMpraResults, suffix: str) -> Figure:
    tp = res.tata_profile
    sel = tp[(tp["Background"].str.split("_").str[0] == res.variant_background)
             & (tp["insert_type"] == res.summary_insert_type)]
    fig = _new_figure(6.5, 4.0)
    ax = fig.add_subplot()
    ax.plot(sel["TATA_position"], sel["log2_measured"], "o-", color="black", label="measured log2(expression)")
    ax.set_xlabel("TATA position relative to the TSS (bp)")
    ax.set_ylabel("measured log2(expression)")
    ax2 = ax.twinx()
    ax2.plot(sel["TATA_position"], sel["log2_pred"], "s-", color="tab:red", label="predicted log2(CAGE + 1)")
    occ = res.occlusion
    if len(occ):
        ax2.plot(occ["TATA_position"], occ["log2_pred_occluded"], "^--", color="tab:blue",
                 label="occluded baseline (8-nt N block)")
    ax2.set_ylabel("predicted log2(CAGE + 1)")
    lines = ax.get_lines() + ax2.get_lines()
    # above the axes: three curves cross the whole plot, any place inside would cover them
    legend(ax, lines, [ln.get_label() for ln in lines], loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=3,
           borderaxespad=0.0)
    fig.suptitle(f"TATA shift, {res.variant_background} background ({n_label(len(sel))} positions)\n{suffix}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def _ism(res: PromoterMpraResults, suffix: str) -> Figure:
    import matplotlib as mpl

    ism = res.ism
    fig = _new_figure(max(6.0, 0.18 * max(ism["position"].nunique(), 1) + 2.0), 3.0)
    ax = fig.add_subplot()
    if len(ism):
        pos = np.sort(ism["position"].unique())
        grid = np.full((4, pos.size), np.nan)
        col = {p: i for i, p in enumerate(pos)}
        for r in ism.itertuples(index=False):
            grid["ACGT".index(r.alt), col[r.position]] = r.log2fc
        refs = ism.drop_duplicates("position").set_index("position")["ref"]
        lim = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
        lim = lim or 1.0
        # a cell without a variant (the reference base itself) is grey, never the white of log2 FC = 0
        cmap = mpl.colormaps["RdBu_r"].with_extremes(bad="0.75")
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-lim, vmax=lim, aspect="auto",
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, label="log2 FC vs baseline")
        ax.set_xticks(np.arange(pos.size))
        ax.set_xticklabels([f"{refs[p]}\n{p}" if i % 5 == 0 else refs[p] for i, p in enumerate(pos)],
                           fontsize=MIN_FONT)
        ax.set_yticks(range(4))
        ax.set_yticklabels(list("ACGT"))
    else:
        ax.text(0.5, 0.5, "no ISM variant", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("fragment position (0-based) and reference base")
    ax.set_ylabel("alternative base\n(grey: reference)")
    ax.set_title(f"Local ISM of the baseline oligo (all 3 alternatives; {n_label(len(ism))} variants, "
                 f"{ism['position'].nunique()} positions)\n{suffix}", fontsize=9)
    fig.tight_layout()
    return fig


def _ism_grid(rows) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(grid [4, n positions] of log2 FC by alternative A/C/G/T, positions, reference bases)``;
    the reference base's cell is NaN (drawn grey)."""
    pos = np.sort(rows["position"].unique())
    grid = np.full((4, pos.size), np.nan)
    col = {p: i for i, p in enumerate(pos)}
    for r in rows.itertuples(index=False):
        grid["ACGT".index(r.alt), col[r.position]] = r.log2fc
    refs = rows.drop_duplicates("position").set_index("position")["ref"]
    return grid, pos, [str(refs[p]) for p in pos]


def _background_ism(res: PromoterMpraResults, suffix: str) -> Figure:
    import matplotlib as mpl

    bg = res.background_ism
    types = list(dict.fromkeys(bg["insert_type"])) if len(bg) else []
    itype = res.summary_insert_type if res.summary_insert_type in types else (types[0] if types else "")
    sel = bg[bg["insert_type"] == itype] if itype else bg
    panels = [g for _, g in sel.groupby("background_order", sort=True)]
    n_pos = max((g["position"].nunique() for g in panels), default=1)
    fig = _new_figure(max(6.0, 0.16 * n_pos + 2.5), 1.0 + 1.9 * max(len(panels), 1))
    if not panels:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, res.background_ism_reason or "no background ISM variant", ha="center", va="center",
                transform=ax.transAxes, wrap=True)
        ax.set_xlabel("fragment position (0-based) and reference base")
        ax.set_ylabel("alternative base")
        ax.set_title(f"Background ISM ({n_label(0)} variants)\n{suffix}", fontsize=9)
        fig.tight_layout()
        return fig
    values = sel["log2fc"].to_numpy(float)
    lim = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    lim = lim or 1.0
    # a cell without a variant (the reference base itself) is grey, never the white of log2 FC = 0
    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad="0.75")
    fig.set_layout_engine("constrained")  # panel titles, tick labels and the shared colour bar never overlap
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    im = None
    for ax, g in zip(axes, panels, strict=True):
        grid, pos, refs = _ism_grid(g)
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-lim, vmax=lim, aspect="auto",
                       interpolation="nearest")
        labels = [f"{r}\n{p}" if i % 5 == 0 or pos.size <= 20 else r for i, (p, r) in enumerate(zip(pos, refs,
                                                                                                   strict=True))]
        note = label_every(ax, "x", labels, max_labels=80)
        ax.set_yticks(range(4), list("ACGT"), fontsize=MIN_FONT)
        ax.set_ylabel("alt\n(grey: ref)", fontsize=MIN_FONT)
        r0 = g.iloc[0]
        ax.set_title(f"{r0['background']} (oligo {int(r0['oligo_index'])}, {r0['background_source']};"
                     f" {n_label(len(g))} variants)", fontsize=MIN_FONT + 1)
        ax.set_xlabel(f"fragment position (0-based), reference base{note}", fontsize=MIN_FONT)
    fig.colorbar(im, ax=list(axes), label="log2 FC vs unmutated background", shrink=0.6)
    fig.suptitle(f"Background ISM, {itype} insert: {len(panels)} backgrounds, {n_label(len(sel))} variants"
                 f"\n{suffix}", fontsize=9)
    return fig


def draw_figures(results: PromoterMpraResults, *, title_suffix: str) -> list[tuple[str, Figure]]:
    """The figures of :data:`FIGURE_FILES`, as ``(file name, figure)`` pairs in that order."""
    endo = set(results.endogenous["Oligo_index"].tolist())
    figs = (
        _correlations(results, title_suffix),
        _scatter(results, title_suffix, endo),
        _tata(results, title_suffix),
        _ism(results, title_suffix),
        _background_ism(results, title_suffix),
    )
    return list(zip(FIGURE_FILES, figs, strict=True))


def write_figures(results: PromoterMpraResults, out_dir: Path, *, title_suffix: str) -> list[Path]:
    """Write :data:`FIGURE_FILES` into ``out_dir`` (atomically); return their paths."""
    if not isinstance(title_suffix, str) or not title_suffix.strip():
        raise ValueError(f"title_suffix: expected a non-empty string naming the model, got {title_suffix!r}")
    return save_all(draw_figures(results, title_suffix=title_suffix), out_dir)
