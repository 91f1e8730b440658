"""The Bergman reduce (filters, fits, variance explained, induced variation) on planted tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst
from sklearn.metrics import r2_score

from seqbench.experiments.promoter_enhancer_mpra.stats import (
    REP_COLUMNS,
    SUMMARY_KEYS,
    filter_barcodes,
    induced_variation,
    reduce_promoter_enhancer,
    replicate_r2,
)


def _counts() -> pd.DataFrame:
    rows = [
        # promoter, enhancer, DNA, reps
        ("p1", "e1", 30, 1, 0, 0, 0),  # kept
        ("p1", "e1", 26, 0, 2, 1, 0),  # kept
        ("p1", "e1", 25, 5, 5, 5, 5),  # DNA not > 25: dropped
        ("p1", "e2", 100, 0, 0, 0, 0),  # RNA 0: dropped
        ("p1", "e2", 100, 3, 3, 3, 3),  # the only kept barcode of (p1, e2): pair dropped
        ("p2", "e1", 40, 2, 2, 2, 2),
        ("p2", "e1", 50, 1, 1, 1, 1),
        ("p2", "e1", 60, 0, 0, 0, 1),
    ]
    return pd.DataFrame(rows, columns=["promoter", "enhancer", "DNA_input", *REP_COLUMNS])


def test_filters_follow_section_5_2():
    pairs, counts = filter_barcodes(_counts())
    assert counts == {"n_barcodes": 8, "n_barcodes_kept": 6, "n_pairs_with_kept_barcodes": 3, "n_pairs": 2}
    assert list(zip(pairs["promoter"], pairs["enhancer"], strict=True)) == [("p1", "e1"), ("p2", "e1")]
    assert pairs["n_barcodes"].tolist() == [2, 3]
    assert pairs["DNA_input"].tolist() == [56.0, 150.0]
    assert pairs["RNA_sum"].tolist() == [4.0, 13.0]
    assert pairs["log_ratio"].to_numpy() == pytest.approx(np.log2([4 / 56, 13 / 150]))
    # the threshold is an input: at 24 the DNA = 25 barcode survives
    assert filter_barcodes(_counts(), min_dna_input=24)[0]["n_barcodes"].tolist() == [3, 3]


def test_replicate_r2_is_squared_pearson_of_the_half_sums():
    c = _counts()
    keep = (c["DNA_input"] > 25) & (c[list(REP_COLUMNS)].sum(axis=1) > 0)
    k = c[keep]
    with np.errstate(divide="ignore"):
        a = np.log2((k.weighted_reads_rep1 + k.weighted_reads_rep2) / k.DNA_input).to_numpy()
        b = np.log2((k.weighted_reads_rep3 + k.weighted_reads_rep4) / k.DNA_input).to_numpy()
    ok = np.isfinite(a) & np.isfinite(b)
    assert ok.sum() == 4  # the two barcodes with a zero half are dropped
    assert replicate_r2(c) == pytest.approx(sst.pearsonr(a[ok], b[ok])[0] ** 2)


def _planted_pairs(seed: int = 0, n_p: int = 15, n_e: int = 12):
    """Pairs with a planted multiplicative truth, Poisson counts and exact multiplicative predictions."""
    rng = np.random.default_rng(seed)
    prom = rng.normal(0.0, 1.2, n_p)
    enh = rng.normal(0.0, 0.6, n_e)
    pp, ee = np.meshgrid(np.arange(n_p), np.arange(n_e), indexing="ij")
    pp, ee = pp.ravel(), ee.ravel()
    drop = rng.random(pp.size) < 0.1
    pp, ee = pp[~drop], ee[~drop]
    dna = rng.integers(60, 400, pp.size).astype(float)
    rna = rng.poisson(2.0 * dna * np.exp(prom[pp] + enh[ee])).astype(float)
    pred = 3.0 * np.exp(0.8 * prom[pp] + 0.2 * enh[ee])
    pairs = pd.DataFrame(
        {
            "promoter": [f"P{i:02d}" for i in pp],
            "enhancer": [f"E{i:02d}" for i in ee],
            "DNA_input": dna,
            "RNA_sum": rna,
            "n_barcodes": 2,
            "pred": pred,
        }
    )
    pairs["log_ratio"] = np.log2(pairs["RNA_sum"] / pairs["DNA_input"])
    return pairs, prom, enh


def test_reduce_recovers_planted_strengths_and_closed_forms():
    pairs, prom, enh = _planted_pairs()
    res = reduce_promoter_enhancer(pairs, base_promoter="P03", base_enhancer="E05", min_partners=8)
    s = res.summary()
    assert list(s) == list(SUMMARY_KEYS)
    assert s["all_converged"] is True and s["any_rank_deficient"] is False
    P = res.promoters.set_index("promoter")
    E = res.enhancers.set_index("enhancer")
    # Poisson on counts: the planted strengths relative to the baseline
    np.testing.assert_allclose(P["coef_poisson_mult"], prom - prom[3], atol=0.05)
    np.testing.assert_allclose(E["coef_poisson_mult"], enh - enh[5], atol=0.05)
    # the DNA covariate: E[RNA] is proportional to DNA, i.e. ln(2) per log2 unit
    assert s["poisson_log_dna_coef"] == pytest.approx(math.log(2), abs=0.05)
    # Gamma on exactly multiplicative predictions: exact
    np.testing.assert_allclose(P["coef_gamma_mult"], 0.8 * (prom - prom[3]), atol=1e-7)
    np.testing.assert_allclose(E["coef_gamma_mult"], 0.2 * (enh - enh[5]), atol=1e-7)
    assert s["varexpl_predicted_promoter_enhancer"] == pytest.approx(1.0, abs=1e-9)
    # promoter-only Gamma fit = per-promoter mean of pred (closed form of the MLE)
    mean_p = pairs.groupby("promoter")["pred"].transform("mean")
    want = r2_score(np.log2(pairs["pred"] + 1), np.log2(mean_p + 1))
    assert s["varexpl_predicted_promoter"] == pytest.approx(want, abs=1e-9)
    assert s["promoter_strength_pearson"] > 0.99 and s["enhancer_strength_pearson"] > 0.95
    assert s["n_pairs"] == len(pairs) and s["n_promoters"] == 15 and s["n_enhancers"] == 12
    assert P.loc["P03", "is_baseline"] and P.loc["P03", "coef_poisson_mult"] == 0.0
    # OLS on log_pred is exact too (log2(pred + 1) is not multiplicative, but its R² is high)
    assert 0.9 < s["r2_ols_pred_mult"] <= 1.0
    models = res.models.set_index("model")
    assert models.loc["gamma_promoter", "formula"] == "pred ~ C(promoter)"
    assert models.loc["poisson_mult", "formula"] == "RNA_sum ~ log_DNA_input + C(promoter) + C(enhancer)"


def test_induced_variation_matches_pandas():
    pairs, _, _ = _planted_pairs(1)
    pairs["log_pred"] = np.log2(pairs["pred"] + 1)
    strength = pd.Series(np.arange(15, dtype=float), index=[f"P{i:02d}" for i in range(15)]).drop("P00")
    tab = induced_variation(pairs, strength, min_partners=10).set_index("promoter")
    n = pairs.groupby("promoter").size()
    assert set(tab.index) == set(n[n > 10].index)
    for p in tab.index:
        rows = pairs[pairs.promoter == p]
        assert tab.loc[p, "sd_log_pred"] == pytest.approx(np.std(rows["log_pred"], ddof=1))
        assert tab.loc[p, "sd_log_ratio"] == pytest.approx(np.std(rows["log_ratio"], ddof=1))
        assert tab.loc[p, "predicted_strength"] == (0.0 if p == "P00" else float(int(p[1:])))


def test_reduce_refuses_bad_inputs():
    pairs, _, _ = _planted_pairs(2)
    with pytest.raises(ValueError, match="baseline promoter 'nope'"):
        reduce_promoter_enhancer(pairs, base_promoter="nope", base_enhancer="E00")
    bad = pairs.copy()
    bad.loc[4, "pred"] = 0.0
    with pytest.raises(ValueError, match="row 4"):
        reduce_promoter_enhancer(bad, base_promoter="P00", base_enhancer="E00")
