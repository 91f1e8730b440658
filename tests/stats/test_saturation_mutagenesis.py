"""Saturation-mutagenesis statistics against independent computations (NumPy, pandas, closed forms)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from seqbench.stats.saturation_mutagenesis import (
    SUMMARY_KEYS,
    correlations,
    ols_slope,
    reduce_saturation,
    write_tables,
)


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
