"""seqbench.experiments.promoter_mpra.stats on small hand-made tables with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from seqbench.experiment import construct_means
from seqbench.experiments.promoter_mpra.stats import core_effects, directionality, reduce_promoter_mpra


def _preds(values: dict[int, list[float]]) -> pd.DataFrame:
    rows = [(cid, m, 447, v) for cid, vs in values.items() for m, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["construct_id", "member", "landmark_bin", "cage"])


def test_construct_means_natural_scale():
    design = pd.DataFrame({"construct_id": [1, 0], "kind": ["b", "a"]})  # joined by key, not by position
    means = construct_means(_preds({0: [1.0, 3.0], 1: [0.0, 8.0]}), design, ["cage"])
    assert means["cage"].tolist() == [2.0, 4.0]  # mean first, log after
    assert means["kind"].tolist() == ["a", "b"]


def test_core_effects_fold_changes_and_mann_whitney():
    core = pd.DataFrame(
        {
            "Oligo_index": [0, 1, 2, 3],
            "mean_exp": [2.0, 8.0, 4.0, 2.0],
            "Background": ["A_CE_bg"] * 4,
            "Configuration_summary": [0, 1, 2, 3],
            **{f"{e}_position": [np.nan, -30.0, np.nan, -30.0] if e == "TATA" else [np.nan] * 4
               for e in ("BREu", "TATA", "BREd", "Int", "MTE", "DPE")},
        }
    )
    pred = pd.DataFrame({"oligo_index": [0, 1, 2, 3], "insert_type": "minimal", "cage": [1.0, 7.0, 3.0, 1.0]})
    eff, tests = core_effects(core, pred, "cage")
    np.testing.assert_allclose(eff["obs_lfc"], [2.0, 1.0, 0.0])  # log2(8/2), log2(4/2), log2(2/2)
    np.testing.assert_allclose(eff["pred_lfc"], [2.0, 1.0, 0.0])  # log2(8/2), log2(4/2), log2(2/2) (+1 each)
    t = tests[(tests["element"] == "TATA") & (tests["quantity"] == "pred_lfc")].iloc[0]
    assert (t["n_present"], t["n_absent"]) == (2, 1)
    from scipy.stats import mannwhitneyu

    assert t["p"] == pytest.approx(mannwhitneyu([2.0, 0.0], [1.0], alternative="two-sided").pvalue)


def test_directionality_pairs_by_tfiib():
    pic = pd.DataFrame(
        {
            "Oligo_index": [0, 1, 2, 3, 4, 5],
            "mean_exp": [1.0, 2.0, 4.0, 8.0, 2.0, 2.0],
            "CP_Orientation": ["Fw", "Rv", "Fw", "Rv", "Fw", "Rv"],
            "TFIIB_ID": ["a", "a", "b", "b", "c", "c"],
        }
    )
    pred = pd.DataFrame({"oligo_index": range(6), "insert_type": "minimal", "cage": [0.0, 1.0, 3.0, 7.0, 1.0, 7.0]})
    pairs, d = directionality(pic, pred, "cage")
    assert pairs["TFIIB_ID"].tolist() == ["a", "b", "c"]
    mf, mr = np.log2([1, 4, 2]), np.log2([2, 8, 2])
    pf, pr = np.log2([1, 4, 2]), np.log2([2, 8, 8])
    assert d["r_measured_fw_rv"].iloc[0] == pytest.approx(np.corrcoef(mf, mr)[0, 1])
    assert d["r_predicted_fw_rv"].iloc[0] == pytest.approx(np.corrcoef(pf, pr)[0, 1])
    assert d["r_log_ratio"].iloc[0] == pytest.approx(np.corrcoef(mf - mr, pf - pr)[0, 1])


def test_reduce_ism_occlusion_and_bh():
    # 8 oligos: 0..3 native; 4..7 TATA shift in RPLP0 (positions -30..0) and in 2 core backgrounds
    design = pd.DataFrame(
        {
            "construct_id": range(12),
            "oligo_index": [0, 1, 2, 3, 4, 5, 6, 7, 4, 4, 4, 4],
            "insert_type": "minimal",
            "kind": ["oligo"] * 8 + ["baseline", "ism", "ism", "occlusion"],
            "position": [-1] * 9 + [50, 50, 10],
            "ref": [""] * 9 + ["A", "A", ""],
            "alt": [""] * 9 + ["C", "G", ""],
            "tata_position": [np.nan] * 11 + [-20.0],
        }
    )
    vals = {i: [v, v] for i, v in enumerate([1.0, 3.0, 7.0, 15.0, 3.0, 1.0, 7.0, 3.0, 3.0, 1.0, 3.0, 0.0])}
    native = pd.DataFrame({"Oligo_index": [0, 1, 2, 3], "mean_exp": [1.0, 4.0, 8.0, np.nan]})
    pic = pd.DataFrame(columns=["Oligo_index", "mean_exp", "CP_Orientation", "TFIIB_ID"])
    core = pd.DataFrame(
        {"Oligo_index": [4, 5, 6, 7], "mean_exp": [1.0, 2.0, 4.0, 8.0], "Background": ["X_bg", "X_bg", "Y_bg", "Y_bg"],
         "Configuration_summary": [0, 1, 0, 1], **{f"{e}_position": np.nan for e in ("BREu", "TATA", "BREd", "Int",
                                                                                       "MTE", "DPE")}}
    )
    tata = pd.DataFrame({"Oligo_index": [4, 5, 6, 7], "mean_exp": [2.0, 1.0, 4.0, 2.0],
                         "Background": ["RPLP0_bg"] * 4, "TATA_position": [-30, -20, -10, 0]})
    tf = pd.DataFrame(columns=["Oligo_index", "mean_exp", "Background", "Motif_info"])
    res = reduce_promoter_mpra(_preds(vals), design, native=native, pic=pic, core=core, tata=tata, tf=tf)
    s = res.summary()
    # native: log2(pred + 1) = 1, 2, 3 vs log2(measured) = 0, 2, 3 (oligo 3 unmeasured, dropped)
    assert s["r_native"] == pytest.approx(np.corrcoef([1, 2, 3], [0, 2, 3])[0, 1])
    # TATA shift: log2(pred+1) = 2, 1, 3, 2 vs log2(measured) = 1, 0, 2, 1: perfectly linear
    assert s["r_tata_shift_variant_background"] == pytest.approx(1.0)
    # ISM: log2(1 + 1) - log2(3 + 1) = -1 and 0
    assert res.ism["log2fc"].tolist() == [-1.0, 0.0] and s["ism_top_position"] == 50
    assert res.occlusion["log2_pred_occluded"].tolist() == [0.0]
    assert res.occlusion["log2_pred_shifted"].tolist() == [1.0]  # the TATA-shift prediction at -20
    c = res.correlations
    per = c[(c["set"] == "core_motifs") & (c["group"] != "all")]
    assert len(per) == 2 and per["pearson_r"].isna().all()  # 2 oligos per background: no r
    assert math.isnan(s["r_directionality_measured"] or math.nan)
