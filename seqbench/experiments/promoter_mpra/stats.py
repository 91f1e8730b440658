"""Reduce of the Weingarten-Gabbay promoter MPRA job (experiments-spec §3.4): pure pandas/NumPy/SciPy.

Input: prediction rows (``construct_id, member, <track>...``, one float per track: the 3-bin
landmark sum of one member), the design table of :func:`seqbench.experiments.promoter_mpra.design.expand`
and the measured tables (``Oligo_index``, ``mean_exp`` linear, set columns).

* ``pred`` of a construct = mean over its members of a track, natural scale (§0.4).
* Set correlations (:func:`seqbench.stats.common.pearson_log`): Pearson of ``log2(pred + 1)`` vs
  ``log2(mean_exp)`` and Spearman of the raw values; rows with NaN ``mean_exp`` dropped.  Sets:
  ``native``, ``endogenous`` (native ∪ PIC, one row per oligo), ``tf_motifs`` (overall and per
  background group), ``core_motifs`` (overall and per background), ``tata_shift`` (per
  background).  Per-background p-values get Benjamini–Hochberg q-values within each set family
  (:func:`seqbench.stats.common.fdr_bh`).
* Core-promoter log2 fold changes vs the background oligo (``Configuration_summary == 0``):
  observed ``log2(alt) − log2(bg)``, predicted ``log2(alt + 1) − log2(bg + 1)``; per element
  (present vs absent) a two-sided Mann–Whitney U test of each.
* Directionality of PIC pairs (matched by ``TFIIB_ID``): Pearson of Fw vs Rv, measured
  (``log2``) and predicted (``log2(x + 1)``), and of the measured vs predicted ``log2(Fw/Rv)``.
* TATA shift profile, occlusion profile and local ISM (``log2(mean + 1) − log2(base + 1)``).
* Background ISM (§3.5): per background and insert type, ``log2(pred + 1) − log2(base + 1)`` of
  every substitution against that background's unmutated construct in the same insert type; rows
  in the authors' order (background, position, alternative, insert type), and one summary row
  per background and insert type (largest effect, mean |log2 FC| per position).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import construct_means
from seqbench.report.tables import write_frames, write_json
from seqbench.stats.common import correlate, fdr_bh, pearson_log

KEY_COLUMNS = ("construct_id", "member", "landmark_bin")
CORE_ELEMENTS = ("BREu", "TATA", "BREd", "Int", "MTE", "DPE")


def _group(name: str) -> str:
    return str(name).split("_", 1)[0]


def _corr_row(set_name: str, group: str, insert_type: str, track: str, pred, measured) -> dict[str, Any]:
    c = pearson_log(np.asarray(pred, dtype=np.float64), np.asarray(measured, dtype=np.float64))
    return {"set": set_name, "group": group, "insert_type": insert_type, "track": track, **c.as_dict()}


def set_correlations(
    oligo_pred: pd.DataFrame,
    sets: dict[str, pd.DataFrame],
    tracks: list[str],
) -> pd.DataFrame:
    """Correlations per (set, group, insert type, track); ``group`` is ``"all"`` or a background.

    ``oligo_pred``: ``oligo_index, insert_type, <tracks>``.  ``sets[name]``: ``Oligo_index,
    mean_exp`` and, for per-background groups, ``Background``.  Adds ``q_bh`` (BH over the
    per-background rows of one set, insert type and track; NaN on ``"all"`` rows).
    """
    rows = []
    for set_name, frame in sets.items():
        merged = frame.merge(oligo_pred, left_on="Oligo_index", right_on="oligo_index", how="inner")
        for itype, sub in merged.groupby("insert_type", sort=True):
            for track in tracks:
                if set_name != "tata_shift":
                    rows.append(_corr_row(set_name, "all", itype, track, sub[track], sub["mean_exp"]))
                if "Background" in sub.columns and set_name != "endogenous":
                    per_oligo_bg = set_name in ("core_motifs", "tata_shift")
                    key = sub["Background"] if per_oligo_bg else sub["Background"].map(_group)
                    for grp, g in sub.groupby(key, sort=True):
                        rows.append(_corr_row(set_name, str(grp), itype, track, g[track], g["mean_exp"]))
    table = pd.DataFrame(rows)
    table["q_bh"] = np.nan
    per = table["group"] != "all"
    for _, idx in table[per].groupby(["set", "insert_type", "track"]).groups.items():
        _, q = fdr_bh(table.loc[idx, "pearson_p"].to_numpy())
        table.loc[idx, "q_bh"] = q
    return table


def core_effects(core: pd.DataFrame, pred: pd.DataFrame, track: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Log2 fold changes vs each background's ``Configuration_summary == 0`` oligo, and per-element tests.

    Returns ``(effects, tests)``: ``effects`` one row per configured oligo (``obs_lfc``,
    ``pred_lfc``, element presence); ``tests`` per (insert type, element, quantity) the two-sided
    Mann–Whitney U p-value of present vs absent.
    """
    from scipy.stats import mannwhitneyu

    merged = core.merge(pred, left_on="Oligo_index", right_on="oligo_index", how="inner")
    out = []
    for _key, sub in merged.groupby(["insert_type", "Background"], sort=True):
        base = sub[sub["Configuration_summary"] == 0]
        if base.empty:
            continue
        b_obs, b_pred = float(base["mean_exp"].iloc[0]), float(base[track].iloc[0])
        rest = sub[sub["Configuration_summary"] != 0].copy()
        rest["obs_lfc"] = np.log2(rest["mean_exp"]) - math.log2(b_obs) if b_obs > 0 else np.nan
        rest["pred_lfc"] = np.log2(rest[track] + 1.0) - math.log2(b_pred + 1.0)
        out.append(rest)
    cols = ["insert_type", "Background", "Oligo_index", "Configuration_summary", "obs_lfc", "pred_lfc"]
    if not out:
        return pd.DataFrame(columns=cols), pd.DataFrame(columns=["insert_type", "element", "quantity", "n_present",
                                                                   "n_absent", "u", "p"])
    effects = pd.concat(out, ignore_index=True)
    for e in CORE_ELEMENTS:
        effects[f"has_{e}"] = effects[f"{e}_position"].notna()
    effects = effects[cols + [f"has_{e}" for e in CORE_ELEMENTS]]
    tests = []
    for itype, sub in effects.groupby("insert_type", sort=True):
        for e in CORE_ELEMENTS:
            has = sub[f"has_{e}"].to_numpy(bool)
            for q in ("obs_lfc", "pred_lfc"):
                v = sub[q].to_numpy(np.float64)
                a, b = v[has & np.isfinite(v)], v[~has & np.isfinite(v)]
                if a.size and b.size:
                    res = mannwhitneyu(a, b, alternative="two-sided")
                    u, p = float(res.statistic), float(res.pvalue)
                else:
                    u = p = math.nan
                tests.append({"insert_type": itype, "element": e, "quantity": q, "n_present": int(a.size),
                              "n_absent": int(b.size), "u": u, "p": p})
    return effects, pd.DataFrame(tests)


def directionality(pic: pd.DataFrame, pred: pd.DataFrame, track: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fw/Rv PIC pairs by ``TFIIB_ID``: the pairs and, per insert type, the three correlations."""
    merged = pic.merge(pred, left_on="Oligo_index", right_on="oligo_index", how="inner")
    fw = merged[merged["CP_Orientation"] == "Fw"].drop_duplicates(["insert_type", "TFIIB_ID"])
    rv = merged[merged["CP_Orientation"] == "Rv"].drop_duplicates(["insert_type", "TFIIB_ID"])
    pairs = fw.merge(rv, on=["insert_type", "TFIIB_ID"], suffixes=("_fw", "_rv"))
    pairs = pairs[["insert_type", "TFIIB_ID", "Oligo_index_fw", "Oligo_index_rv", "mean_exp_fw", "mean_exp_rv",
                   f"{track}_fw", f"{track}_rv"]].rename(columns={f"{track}_fw": "pred_fw", f"{track}_rv": "pred_rv"})
    rows = []
    for itype, p in pairs.groupby("insert_type", sort=True):
        mf, mr = np.log2(p["mean_exp_fw"].to_numpy(float)), np.log2(p["mean_exp_rv"].to_numpy(float))
        pf, pr = np.log2(p["pred_fw"].to_numpy(float) + 1), np.log2(p["pred_rv"].to_numpy(float) + 1)
        rows.append(
            {
                "insert_type": itype,
                "n_pairs": len(p),
                "r_measured_fw_rv": correlate(mf, mr).pearson_r,
                "r_predicted_fw_rv": correlate(pf, pr).pearson_r,
                "r_log_ratio": correlate(mf - mr, pf - pr).pearson_r,
            }
        )
    return pairs, pd.DataFrame(rows)


#: the keys of :meth:`PromoterMpraResults.summary`, in order
SUMMARY_KEYS: tuple[str, ...] = (
    "summary_insert_type",
    "r_native",
    "spearman_native",
    "r_endogenous",
    "spearman_endogenous",
    "n_endogenous",
    "r_endogenous_dnase",
    "r_tf_motifs",
    "r_core_motifs",
    "n_core_backgrounds",
    "n_core_backgrounds_significant",
    "r_tata_shift_variant_background",
    "r_directionality_measured",
    "r_directionality_predicted",
    "r_directionality_log_ratio",
    "r_occlusion_vs_tata_shift",
    "n_occlusion_variants",
    "n_ism_variants",
    "ism_top_position",
    "ism_top_log2fc",
    "n_ism_backgrounds",
    "n_background_ism_variants",
    "background_ism_top_background",
    "background_ism_top_position",
    "background_ism_top_log2fc",
    "background_ism_note",
)

#: columns of the background ISM tables
BACKGROUND_ISM_COLUMNS = ("background_order", "background", "background_source", "oligo_index", "insert_type",
                          "position", "ref", "alt", "pred", "base_pred", "log2fc")
BACKGROUND_ISM_SUMMARY_COLUMNS = ("background_order", "background", "background_source", "oligo_index",
                                  "insert_type", "n_variants", "n_positions", "base_pred", "top_position",
                                  "top_alt", "top_log2fc", "mean_abs_log2fc")


def background_ism(means: pd.DataFrame, readout: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Background ISM effects and their per-background summary (§3.5).

    ``means``: construct means with the design's labels (``kind`` ``background_ism`` and
    ``background``).  Each variant's ``log2fc = log2(pred + 1) − log2(base_pred + 1)``, where
    ``base_pred`` is the unmutated background in the same insert type; rows in construct order,
    which is the authors' order (background, position, alternative, insert type).  Summary: per
    (background, insert type) the number of variants and positions, ``base_pred``, the variant
    with the largest |log2 FC| (first in that order on a tie) and the mean over positions of the
    mean |log2 FC| of the position's three alternatives.
    """
    if "background_order" not in means.columns:  # a design planned before the background ISM existed
        means = means.assign(background_order=-1, background="", background_source="")
    ism = means[means["kind"] == "background_ism"].sort_values("construct_id", kind="mergesort")
    base = means[means["kind"] == "background"]
    base_pred = base.set_index(["background_order", "insert_type"])[readout]
    if len(ism):
        b = base_pred.reindex(pd.MultiIndex.from_arrays([ism["background_order"], ism["insert_type"]])).to_numpy()
    else:
        b = np.zeros(0)
    pred = ism[readout].to_numpy(np.float64)
    table = pd.DataFrame(
        {
            "background_order": ism["background_order"].to_numpy(np.int64),
            "background": ism["background"].to_numpy(object),
            "background_source": ism["background_source"].to_numpy(object),
            "oligo_index": ism["oligo_index"].to_numpy(np.int64),
            "insert_type": ism["insert_type"].to_numpy(object),
            "position": ism["position"].to_numpy(np.int64),
            "ref": ism["ref"].to_numpy(object),
            "alt": ism["alt"].to_numpy(object),
            "pred": pred,
            "base_pred": np.asarray(b, dtype=np.float64),
            "log2fc": np.log2(pred + 1.0) - np.log2(np.asarray(b, dtype=np.float64) + 1.0),
        },
        columns=list(BACKGROUND_ISM_COLUMNS),
    )
    rows = []
    for (order, itype), g in table.groupby(["background_order", "insert_type"], sort=True):
        eff = g["log2fc"].abs()
        top = g.loc[eff.idxmax()] if eff.notna().any() else None
        rows.append(
            {
                "background_order": int(order),
                "background": g["background"].iloc[0],
                "background_source": g["background_source"].iloc[0],
                "oligo_index": int(g["oligo_index"].iloc[0]),
                "insert_type": itype,
                "n_variants": len(g),
                "n_positions": int(g["position"].nunique()),
                "base_pred": float(g["base_pred"].iloc[0]),
                "top_position": int(top["position"]) if top is not None else -1,
                "top_alt": str(top["alt"]) if top is not None else "",
                "top_log2fc": float(top["log2fc"]) if top is not None else math.nan,
                "mean_abs_log2fc": float(eff.groupby(g["position"]).mean().mean()),
            }
        )
    return table, pd.DataFrame(rows, columns=list(BACKGROUND_ISM_SUMMARY_COLUMNS))


@dataclass
class PromoterMpraResults:
    correlations: pd.DataFrame
    oligo_predictions: pd.DataFrame
    core_effects: pd.DataFrame
    core_tests: pd.DataFrame
    pic_pairs: pd.DataFrame
    directionality: pd.DataFrame
    tata_profile: pd.DataFrame
    occlusion: pd.DataFrame
    ism: pd.DataFrame
    #: background ISM (§3.5): one row per variant, authors' order; and one per background x insert type
    background_ism: pd.DataFrame
    background_ism_summary: pd.DataFrame
    #: why the background ISM keys are empty, or "" (the design's own reason, e.g. switched off)
    background_ism_reason: str
    summary_insert_type: str
    variant_background: str
    ism_baseline: float
    #: measured endogenous set (``Oligo_index``, ``mean_exp``), for the scatter figure
    endogenous: pd.DataFrame

    def _r(self, set_name: str, group: str = "all", track: str = "cage", col: str = "pearson_r") -> float:
        c = self.correlations
        if c.empty:
            return math.nan
        sel = c[(c["set"] == set_name) & (c["group"] == group) & (c["track"] == track)
                & (c["insert_type"] == self.summary_insert_type)]
        return float(sel[col].iloc[0]) if len(sel) else math.nan

    def _background_ism_summary(self) -> dict[str, Any]:
        """The background ISM keys, read from the summary insert type (else the first one ISM'd)."""
        bs = self.background_ism_summary
        types = list(dict.fromkeys(bs["insert_type"])) if len(bs) else []
        itype = self.summary_insert_type if self.summary_insert_type in types else (types[0] if types else "")
        sel = bs[bs["insert_type"] == itype] if itype else bs
        out: dict[str, Any] = {
            "n_ism_backgrounds": int(bs["background_order"].nunique()) if len(bs) else 0,
            "n_background_ism_variants": int(len(self.background_ism)),
            "background_ism_top_background": None,
            "background_ism_top_position": None,
            "background_ism_top_log2fc": math.nan,
            "background_ism_note": "",
        }
        finite = sel[np.isfinite(sel["top_log2fc"].to_numpy(np.float64))] if len(sel) else sel
        if len(finite):
            top = finite.loc[finite["top_log2fc"].abs().idxmax()]
            out.update(
                background_ism_top_background=str(top["background"]),
                background_ism_top_position=int(top["top_position"]),
                background_ism_top_log2fc=float(top["top_log2fc"]),
                background_ism_note=f"{itype} insert",
            )
        else:
            out["background_ism_note"] = self.background_ism_reason or "no background ISM prediction"
        return out

    def summary(self) -> dict[str, Any]:
        """Flat strict-JSON dict with stable keys (NaN becomes ``None``)."""
        c = self.correlations
        core_bg = c[(c["set"] == "core_motifs") & (c["group"] != "all") & (c["track"] == "cage")
                    & (c["insert_type"] == self.summary_insert_type)] if not c.empty else c
        tata_bg = ""
        if not c.empty:
            tata_groups = c[(c["set"] == "tata_shift") & (c["group"] != "all")]["group"].unique()
            tata_bg = next((g for g in tata_groups if _group(g) == self.variant_background), "")
        d = self.directionality
        dsel = d[d["insert_type"] == self.summary_insert_type] if not d.empty else d
        ism = self.ism
        top = ism.loc[ism["log2fc"].abs().idxmax()] if len(ism) else None
        occ = self.occlusion
        out: dict[str, Any] = {
            "summary_insert_type": self.summary_insert_type,
            "r_native": self._r("native"),
            "spearman_native": self._r("native", col="spearman_r"),
            "r_endogenous": self._r("endogenous"),
            "spearman_endogenous": self._r("endogenous", col="spearman_r"),
            "n_endogenous": self._r("endogenous", col="n"),
            "r_endogenous_dnase": self._r("endogenous", track="dnase"),
            "r_tf_motifs": self._r("tf_motifs"),
            "r_core_motifs": self._r("core_motifs"),
            "n_core_backgrounds": int(len(core_bg)),
            "n_core_backgrounds_significant": int((core_bg["q_bh"] < 0.05).sum()) if len(core_bg) else 0,
            "r_tata_shift_variant_background": self._r("tata_shift", tata_bg) if tata_bg else math.nan,
            "r_directionality_measured": float(dsel["r_measured_fw_rv"].iloc[0]) if len(dsel) else math.nan,
            "r_directionality_predicted": float(dsel["r_predicted_fw_rv"].iloc[0]) if len(dsel) else math.nan,
            "r_directionality_log_ratio": float(dsel["r_log_ratio"].iloc[0]) if len(dsel) else math.nan,
            "r_occlusion_vs_tata_shift": (
                correlate(occ["log2_pred_occluded"], occ["log2_pred_shifted"]).pearson_r if len(occ) else math.nan
            ),
            "n_occlusion_variants": int(len(occ)),
            "n_ism_variants": int(len(ism)),
            "ism_top_position": int(top["position"]) if top is not None else None,
            "ism_top_log2fc": float(top["log2fc"]) if top is not None else math.nan,
        }
        out.update(self._background_ism_summary())
        out["n_endogenous"] = None if not math.isfinite(out["n_endogenous"]) else int(out["n_endogenous"])
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def reduce_promoter_mpra(
    predictions: pd.DataFrame,
    design: pd.DataFrame,
    *,
    native: pd.DataFrame,
    pic: pd.DataFrame,
    core: pd.DataFrame,
    tata: pd.DataFrame,
    tf: pd.DataFrame,
    readout: str = "cage",
    tracks: list[str] | None = None,
    variant_background: str = "RPLP0",
    background_ism_reason: str = "",
) -> PromoterMpraResults:
    """All statistics of §3.4 from prediction rows and the design (see the module docstring)."""
    tracks = list(tracks or [readout])
    if readout not in tracks:
        tracks.insert(0, readout)
    means = construct_means(predictions, design, tracks)
    oligo_pred = means[means["kind"] == "oligo"][["oligo_index", "insert_type", *tracks]].reset_index(drop=True)
    endogenous = pd.concat(
        [native[["Oligo_index", "mean_exp"]], pic[["Oligo_index", "mean_exp"]]], ignore_index=True
    ).drop_duplicates("Oligo_index")
    sets = {
        "native": native[["Oligo_index", "mean_exp"]],
        "endogenous": endogenous,
        "tf_motifs": tf[["Oligo_index", "mean_exp", "Background"]],
        "core_motifs": core[["Oligo_index", "mean_exp", "Background"]],
        "tata_shift": tata[["Oligo_index", "mean_exp", "Background"]],
    }
    sets = {k: v.dropna(subset=["mean_exp"]) for k, v in sets.items()}
    correlations = set_correlations(oligo_pred, sets, tracks)
    effects, tests = core_effects(core.dropna(subset=["mean_exp"]), oligo_pred, readout)
    pairs, direc = directionality(pic.dropna(subset=["mean_exp"]), oligo_pred, readout)
    types = sorted(oligo_pred["insert_type"].unique())
    summary_type = "minimal" if "minimal" in types else (types[0] if types else "minimal")

    # TATA shift profile (every background, every insert type)
    tp = tata.merge(oligo_pred, left_on="Oligo_index", right_on="oligo_index", how="inner")
    tata_profile = pd.DataFrame(
        {
            "Background": tp["Background"].to_numpy(),
            "insert_type": tp["insert_type"].to_numpy(),
            "TATA_position": tp["TATA_position"].to_numpy(np.int64),
            "Oligo_index": tp["Oligo_index"].to_numpy(np.int64),
            "mean_exp": tp["mean_exp"].to_numpy(float),
            "log2_measured": np.log2(tp["mean_exp"].to_numpy(float)),
            "pred": tp[readout].to_numpy(float),
            "log2_pred": np.log2(tp[readout].to_numpy(float) + 1.0),
        }
    ).sort_values(["Background", "insert_type", "TATA_position"], kind="mergesort").reset_index(drop=True)

    var = means[means["kind"].isin(["baseline", "ism", "occlusion"])]
    base = var[var["kind"] == "baseline"]
    base_pred = float(base[readout].iloc[0]) if len(base) else math.nan
    ism_rows = var[var["kind"] == "ism"]
    ism = pd.DataFrame(
        {
            "position": ism_rows["position"].to_numpy(np.int64),
            "ref": ism_rows["ref"].to_numpy(object),
            "alt": ism_rows["alt"].to_numpy(object),
            "pred": ism_rows[readout].to_numpy(float),
            "log2fc": np.log2(ism_rows[readout].to_numpy(float) + 1.0) - math.log2(base_pred + 1.0)
            if len(ism_rows) else np.zeros(0),
        }
    ).sort_values(["position", "alt"], kind="mergesort").reset_index(drop=True)
    occ_rows = var[var["kind"] == "occlusion"]
    occ = pd.DataFrame(
        {
            "TATA_position": occ_rows["tata_position"].to_numpy(float).astype(np.int64),
            "block_start": occ_rows["position"].to_numpy(np.int64),
            "pred": occ_rows[readout].to_numpy(float),
            "log2_pred_occluded": np.log2(occ_rows[readout].to_numpy(float) + 1.0),
        }
    )
    var_insert = str(base["insert_type"].iloc[0]) if len(base) else summary_type
    shifted = tata_profile[
        (tata_profile["Background"].map(_group) == variant_background) & (tata_profile["insert_type"] == var_insert)
    ][["TATA_position", "log2_pred", "log2_measured"]].drop_duplicates("TATA_position")
    occ = occ.merge(shifted.rename(columns={"log2_pred": "log2_pred_shifted"}), on="TATA_position", how="left")
    occ = occ.sort_values("TATA_position", kind="mergesort").reset_index(drop=True)
    bg_ism, bg_ism_summary = background_ism(means, readout)
    return PromoterMpraResults(
        correlations=correlations,
        oligo_predictions=oligo_pred,
        core_effects=effects,
        core_tests=tests,
        pic_pairs=pairs,
        directionality=direc,
        tata_profile=tata_profile,
        occlusion=occ,
        ism=ism,
        background_ism=bg_ism,
        background_ism_summary=bg_ism_summary,
        background_ism_reason=background_ism_reason,
        summary_insert_type=summary_type,
        variant_background=variant_background,
        ism_baseline=base_pred,
        endogenous=sets["endogenous"].reset_index(drop=True),
    )


TABLE_FILES = (
    "correlations",
    "oligo_predictions",
    "core_effects",
    "core_tests",
    "pic_pairs",
    "directionality",
    "tata_profile",
    "occlusion",
    "ism",
    "background_ism",
    "background_ism_summary",
)


def write_tables(results: PromoterMpraResults, out_dir: Path) -> list[Path]:
    """Each table as ``promoter_mpra_<name>.csv`` (and ``.parquet``), plus the summary JSON."""
    written = write_frames({f"promoter_mpra_{name}": getattr(results, name) for name in TABLE_FILES}, out_dir, csv=True)
    written.append(write_json(Path(out_dir) / "promoter_mpra_summary.json", results.summary()))
    return written
