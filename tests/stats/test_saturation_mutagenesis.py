"""Saturation-mutagenesis statistics against independent computations (NumPy, pandas, closed forms)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from seqbench.experiments.saturation_mutagenesis.stats import (
    REPLICATE_R,
    SUMMARY_KEYS,
    correlations,
    ols_fit,
    ols_slope,
    reduce_saturation,
    strong_effects,
    winsorize,
    write_tables,
)

ROOT = Path(__file__).resolve().parents[2]


def test_correlations_match_closed_forms():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = 0.5 * x + rng.normal(size=40)
    c = correlations(x, y)
    r = np.corrcoef(x, y)[0, 1]
    assert c["pearson_r"] == pytest.approx(r, abs=1e-12)
    t = r * math.sqrt((40 - 2) / (1 - r**2))  # p of Pearson r from the t distribution
    assert c["pearson_p"] == pytest.approx(2 * st.t.sf(abs(t), 38), rel=1e-8)
    rho = pd.Series(x).rank().corr(pd.Series(y).rank())
    assert c["spearman_r"] == pytest.approx(rho, abs=1e-12) and c["n"] == 40
    # undefined: constant column, fewer than 3 pairs; NaN pairs are dropped
    assert math.isnan(correlations(np.zeros(5), np.arange(5.0))["pearson_r"])
    assert math.isnan(correlations([1.0, 2.0], [1.0, 3.0])["spearman_r"])
    assert correlations([1.0, 2.0, np.nan, 4.0, 5.0], [1.0, 2.5, 3.0, 4.0, 6.0])["n"] == 4


def test_ols_slope_matches_polyfit():
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    y = 2.0 - 3.0 * x + 0.1 * rng.normal(size=30)
    slope, icpt = ols_slope(x, y)
    ps, pi = np.polyfit(x, y, 1)
    assert slope == pytest.approx(ps, rel=1e-10) and icpt == pytest.approx(pi, rel=1e-10)
    assert all(math.isnan(v) for v in ols_slope(np.ones(4), np.arange(4.0)))


def _effects() -> pd.DataFrame:
    """Three loci: A positive, B negative (|r| matters), C with no predicted effect (r undefined)."""
    rng = np.random.default_rng(2)
    parts = []
    for assay, scale in (("cage", 1.0), ("dnase", 0.4)):
        for locus, sign, n in (("A", 1.0, 25), ("B", -1.0, 30), ("C", 0.0, 10)):
            pred = rng.normal(size=n) if sign else np.zeros(n)
            obs = sign * 2.0 * pred + rng.normal(scale=0.5, size=n) + (1.0 if locus == "B" else 0.0)
            parts.append(pd.DataFrame({"assay": assay, "locus": locus, "delta": scale * pred, "log2FC": obs,
                                       "ref_pred": rng.uniform(1, 5, n), "n_tracks": 2}))
    return pd.concat(parts, ignore_index=True)


def test_summary_against_independent_computation(tmp_path):
    eff = _effects()
    res = reduce_saturation(eff, calibration_loci=("A", "B"))
    s = res.summary()
    assert list(s) == list(SUMMARY_KEYS)
    json.dumps(s, allow_nan=False)  # strict JSON: NaN reported as null
    for assay in ("cage", "dnase"):
        e = eff[eff["assay"] == assay]
        r = {k: np.corrcoef(g["delta"], g["log2FC"])[0, 1] for k, g in e.groupby("locus") if k != "C"}
        assert s[f"{assay}_mean_abs_r"] == pytest.approx(np.mean(np.abs(list(r.values()))), abs=1e-12)
        assert s[f"{assay}_median_r"] == pytest.approx(np.median(list(r.values())), abs=1e-12)
        assert s[f"{assay}_pooled_pearson"] == pytest.approx(np.corrcoef(e["delta"], e["log2FC"])[0, 1], abs=1e-12)
        assert s[f"{assay}_pooled_spearman"] == pytest.approx(e["delta"].corr(e["log2FC"], method="spearman"),
                                                              abs=1e-12)
        ab = e[e["locus"].isin(["A", "B"])]
        assert s[f"{assay}_calibration_r_pooled"] == pytest.approx(np.corrcoef(ab["delta"], ab["log2FC"])[0, 1],
                                                                   abs=1e-12)
        assert s[f"{assay}_calibration_r_a"] == pytest.approx(r["A"], abs=1e-12)
        assert s[f"{assay}_calibration_slope_b"] == pytest.approx(
            np.polyfit(e.loc[e["locus"] == "B", "delta"], e.loc[e["locus"] == "B", "log2FC"], 1)[0], rel=1e-9
        )
    assert s["cage_calibration_r_b"] < 0 < s["cage_mean_abs_r"]
    pl = res.per_locus
    assert math.isnan(pl.loc[(pl["assay"] == "cage") & (pl["locus"] == "C"), "pearson_r"].iloc[0])
    assert s["n_loci"] == 3 and s["n_variants"] == 65
    # a calibration locus that is absent gives nulls, not an error
    s2 = reduce_saturation(eff, calibration_loci=("A", "Z")).summary()
    assert s2["cage_calibration_r_b"] is None and s2["cage_calibration_r_pooled"] is None
    paths = write_tables(res, tmp_path)
    assert all(p.is_file() for p in paths)
    back = pd.read_parquet(tmp_path / "saturation_mutagenesis_per_locus.parquet")
    assert list(back["locus"]) == ["A", "B", "C", "A", "B", "C"]


def test_winsorize_matches_scipy_mstats():
    from scipy.stats import mstats

    rng = np.random.default_rng(3)
    for n in (5, 99, 100, 250, 1001):
        x = rng.standard_t(2, size=n)
        want = np.asarray(mstats.winsorize(x, limits=(0.01, 0.01)))
        np.testing.assert_array_equal(winsorize(x), want)
    # NaN is kept and not counted
    x = np.r_[np.arange(200.0), np.nan]
    w = winsorize(x)
    assert math.isnan(w[-1]) and w[0] == w[1] == 2.0 and w[197] == w[198] == w[199] == 197.0


def _effects_big() -> pd.DataFrame:
    """Loci F9, LDLR, HBB, IRF4 (in REPLICATE_R), X (not), each >= 100 variants so that winsorising clips."""
    rng = np.random.default_rng(4)
    parts = []
    for assay in ("cage", "dnase"):
        for locus, slope, n, level in (("F9", 0.3, 120, 2.0), ("LDLR", 2.5, 150, 40.0), ("HBB", 1.0, 200, 9.0),
                                       ("IRF4", -0.5, 110, 0.5), ("X", 1.5, 130, 100.0)):
            pred = rng.standard_t(3, size=n) * (0.6 if assay == "cage" else 0.3)
            obs = slope * pred / 0.6 + rng.normal(scale=0.8, size=n)
            parts.append(pd.DataFrame({"assay": assay, "locus": locus, "delta": pred, "log2FC": obs,
                                       "ref_pred": level * rng.uniform(0.5, 1.5, n), "n_tracks": 1}))
    return pd.concat(parts, ignore_index=True)


def test_extras_against_independent_computation():
    from scipy.stats import mstats, zscore

    sk = pytest.importorskip("sklearn.metrics")
    eff = _effects_big()
    res = reduce_saturation(eff, calibration_loci=("F9", "LDLR"))
    s = res.summary()
    assert list(s) == list(SUMMARY_KEYS)
    for assay in ("cage", "dnase"):
        e = eff[eff["assay"] == assay]
        dz, oz = [], []
        for _, g in e.groupby("locus", sort=False):
            dz.append(zscore(np.asarray(mstats.winsorize(g["delta"].to_numpy(), limits=(0.01, 0.01)))))
            oz.append(zscore(g["log2FC"].to_numpy()))
        dz, oz = np.concatenate(dz), np.concatenate(oz)
        assert s[f"{assay}_pooled_pearson_z"] == pytest.approx(np.corrcoef(dz, oz)[0, 1], abs=1e-12)
        v = res.variants[res.variants["assay"] == assay]
        np.testing.assert_allclose(v["delta_z"], dz, atol=1e-12)
        np.testing.assert_allclose(v["log2FC_z"], oz, atol=1e-12)
        pred, obs = e["delta"].abs() > 0.5, e["log2FC"].abs() > 1.0
        assert 0 < pred.sum() < len(e) and 0 < obs.sum() < len(e)
        assert s[f"{assay}_precision_strong"] == pytest.approx(sk.precision_score(obs, pred), abs=1e-12)
        assert s[f"{assay}_recall_strong"] == pytest.approx(sk.recall_score(obs, pred), abs=1e-12)
        r = e.groupby("locus", sort=False).apply(lambda g: np.corrcoef(g["delta"], g["log2FC"])[0, 1])
        level = np.log10(e.groupby("locus", sort=False)["ref_pred"].median() + 1.0)
        assert s[f"{assay}_r_vs_ref_level"] == pytest.approx(np.corrcoef(r, level)[0, 1], abs=1e-12)
        known = [k for k in r.index if k in REPLICATE_R]
        assert known == ["F9", "LDLR", "HBB", "IRF4"]
        want = np.corrcoef(r[known], [REPLICATE_R[k] for k in known])[0, 1]
        assert s[f"{assay}_r_vs_replicate_r"] == pytest.approx(want, abs=1e-12)
    pl = res.per_locus
    assert math.isnan(pl.loc[pl["locus"] == "X", "replicate_r"].iloc[0])
    assert pl.loc[pl["locus"] == "LDLR", "replicate_r"].iloc[0] == 0.99
    # thresholds are arguments
    e = eff[eff["assay"] == "cage"]
    s2 = reduce_saturation(eff, pred_threshold=0.2, obs_threshold=0.5).summary()
    pred, obs = e["delta"].abs() > 0.2, e["log2FC"].abs() > 0.5
    assert s2["cage_precision_strong"] == pytest.approx(sk.precision_score(obs, pred), abs=1e-12)
    assert s2["cage_recall_strong"] == pytest.approx(sk.recall_score(obs, pred), abs=1e-12)
    # reducing the variant table again gives the same z-scores (no duplicated columns)
    again = reduce_saturation(res.variants, calibration_loci=("F9", "LDLR"))
    assert list(again.variants.columns).count("delta_z") == 1
    assert again.summary() == s


def test_extras_undefined_cases():
    # nothing predicted strong, nothing measured strong -> NaN precision / recall
    sp = strong_effects(np.zeros(5), np.ones(5) * 2.0)
    assert math.isnan(sp["precision"]) and sp["recall"] == 0.0 and sp["n_obs_strong"] == 5
    assert math.isnan(strong_effects(np.ones(3), np.zeros(3))["recall"])
    # the small fixture: locus C has constant delta -> no z-scores; only A, B -> r_vs_* undefined (< 3 loci)
    res = reduce_saturation(_effects(), calibration_loci=("A", "B"))
    v = res.variants
    assert v.loc[v["locus"] == "C", "delta_z"].isna().all() and v.loc[v["locus"] == "C", "log2FC_z"].notna().all()
    s = res.summary()
    assert s["cage_r_vs_ref_level"] is None and s["cage_r_vs_replicate_r"] is None
    assert s["cage_pooled_pearson_z"] is not None




def test_ols_fit_matches_statsmodels():
    """The authors' DNASE fit, statsmodels ``OLS.from_formula('log2FC ~ log2_pred')``."""
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    x = rng.normal(size=60)
    y = 0.3 + 1.5 * x + rng.normal(scale=0.7, size=60)
    y[7] = np.nan  # dropped, as the fit drops missing rows
    fit = ols_fit(x, y)
    ok = np.isfinite(y)
    res = smf.ols("log2FC ~ log2_pred", data=pd.DataFrame({"log2_pred": x[ok], "log2FC": y[ok]})).fit()
    assert fit["n"] == 59
    assert fit["slope"] == pytest.approx(res.params["log2_pred"], rel=1e-10)
    assert fit["intercept"] == pytest.approx(res.params["Intercept"], rel=1e-10)
    assert fit["slope_se"] == pytest.approx(res.bse["log2_pred"], rel=1e-10)
    assert fit["r2"] == pytest.approx(res.rsquared, rel=1e-10)
    assert math.isnan(ols_fit(np.ones(5), np.arange(5.0))["slope"])  # constant x: no slope
    assert math.isnan(ols_fit([1.0, 2.0], [1.0, 3.0])["slope_se"])  # < 3 pairs


def test_summary_ols_and_aggregation_comparison_and_notes():
    """Summary OLS per assay (statsmodels) and the LDLR aggregate-then-log vs log-then-aggregate r."""
    import statsmodels.formula.api as smf

    eff = _effects_big()
    rng = np.random.default_rng(6)
    eff["delta_log_then_aggregate"] = eff["delta"] + rng.normal(scale=0.05, size=len(eff))
    s = reduce_saturation(eff, calibration_loci=("F9", "LDLR")).summary()
    assert s["notes"] == {}
    for assay in ("cage", "dnase"):
        e = eff[eff["assay"] == assay]
        res = smf.ols("log2FC ~ delta", data=e).fit()
        assert s[f"{assay}_ols_slope"] == pytest.approx(res.params["delta"], rel=1e-10)
        assert s[f"{assay}_ols_intercept"] == pytest.approx(res.params["Intercept"], rel=1e-10)
        assert s[f"{assay}_ols_slope_se"] == pytest.approx(res.bse["delta"], rel=1e-10)
        assert s[f"{assay}_ols_r2"] == pytest.approx(res.rsquared, rel=1e-10)
        ldlr = e[e["locus"] == "LDLR"]
        assert s[f"{assay}_ldlr_r_aggregate_then_log"] == pytest.approx(
            np.corrcoef(ldlr["delta"], ldlr["log2FC"])[0, 1], abs=1e-12)
        assert s[f"{assay}_ldlr_r_log_then_aggregate"] == pytest.approx(
            np.corrcoef(ldlr["delta_log_then_aggregate"], ldlr["log2FC"])[0, 1], abs=1e-12)
    # without LDLR, and without per-member effects: null, and the notes say why
    s2 = reduce_saturation(_effects(), calibration_loci=("A", "Z")).summary()
    assert s2["cage_ldlr_r_log_then_aggregate"] is None
    assert "no locus LDLR" in s2["notes"]["cage_ldlr_r_aggregate_then_log"]
    assert "Z is not in this job" in s2["notes"]["cage_calibration_r_b"]
    assert "need >= 3" in s2["notes"]["cage_r_vs_ref_level"]
    assert set(s2["notes"]) == {k for k, v in s2.items() if v is None}
    s3 = reduce_saturation(_effects_big(), calibration_loci=("F9", "LDLR")).summary()
    assert s3["cage_ldlr_r_aggregate_then_log"] is not None
    assert "per-member predictions" in s3["notes"]["cage_ldlr_r_log_then_aggregate"]
