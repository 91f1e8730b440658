"""The Bergman reduce (filters, fits, variance explained, induced variation) on planted tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst
from sklearn.metrics import r2_score

from seqbench.experiments.promoter_enhancer_mpra.stats import (
    INSERT_TYPES,
    PER_INSERT,
    PROMOTER_ONLY_KEYS,
    REP_COLUMNS,
    SINGLE_INSERT_KEYS,
    SUMMARY_KEYS,
    filter_barcodes,
    induced_variation,
    reduce_bergman,
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
    assert list(s) == list(SINGLE_INSERT_KEYS)
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


def _two_inserts(pairs: pd.DataFrame, factor: pd.Series) -> pd.DataFrame:
    """min_plasmid as given, full_plasmid with ``pred`` times a per-pair factor (and the pairs in another order)."""
    full = pairs.assign(pred=pairs["pred"] * factor.to_numpy())
    return pd.concat([pairs.assign(insert_type="min_plasmid"), full.assign(insert_type="full_plasmid").iloc[::-1]],
                     ignore_index=True)


def test_each_insert_type_gets_the_section_5_4_fits_and_the_comparison():
    pairs, prom, enh = _planted_pairs(3)
    both = _two_inserts(pairs, pd.Series(np.full(len(pairs), 2.5)))
    fc = {"n_barcodes": 1000, "n_barcodes_kept": 900}
    res = reduce_bergman(both, base_promoter="P03", base_enhancer="E05", min_partners=8, filter_counts=fc,
                         replicate=0.9)
    s = res.summary()
    assert list(s) == list(SUMMARY_KEYS)
    assert res.primary == "min_plasmid" and s["insert_types"] == ["min_plasmid", "full_plasmid"]
    alone = reduce_promoter_enhancer(pairs, base_promoter="P03", base_enhancer="E05", min_partners=8,
                                     filter_counts=fc, replicate=0.9).summary()
    for k in SINGLE_INSERT_KEYS:  # the headline keys are the min_plasmid fit's
        assert s[k] == pytest.approx(alone[k], rel=1e-9, abs=1e-12) if isinstance(alone[k], float) else s[k] == alone[k]
    # a constant factor: the Gamma/log coefficients are the same (only the intercept moves)
    P = res.promoters.set_index(["insert_type", "promoter"])["coef_gamma_mult"]
    np.testing.assert_allclose(P["full_plasmid"].sort_index(), P["min_plasmid"].sort_index(), atol=1e-7)
    assert s["promoter_strength_pearson_full_plasmid"] == pytest.approx(s["promoter_strength_pearson"], abs=1e-7)
    # pair level: log2(pred + 1) is not scale-free, so the full insert's Pearson is its own
    lr = pairs["log_ratio"].to_numpy()
    assert s["pair_pearson_log_full_plasmid"] == pytest.approx(
        sst.pearsonr(np.log2(2.5 * pairs["pred"] + 1), lr)[0], abs=1e-12)
    assert s["pred_pearson_full_vs_min"] == pytest.approx(
        sst.pearsonr(np.log2(2.5 * pairs["pred"] + 1), np.log2(pairs["pred"] + 1))[0], abs=1e-12)
    best = max(("min_plasmid", "full_plasmid"), key=lambda t: s[f"pair_pearson_log_{t}"])
    assert s["best_insert_pair_pearson"] == best
    # the measured models are the same data: fitted once, shared
    assert res.by_insert["full_plasmid"].fits["poisson_mult"] is res.by_insert["min_plasmid"].fits["poisson_mult"]
    assert list(res.inserts["insert_type"]) == ["min_plasmid", "full_plasmid"]
    assert res.inserts.set_index("insert_type").loc["min_plasmid", "pred_pearson_vs_min"] == pytest.approx(1.0)
    # every null is explained: aavs1 was not run, nor the fragments alone
    nulls = {k for k, v in s.items() if v is None}
    assert nulls == set(s["undefined"])
    assert nulls == {f"{k}_aavs1" for k in PER_INSERT} | {"pred_pearson_aavs1_vs_min"} | (
        set(PROMOTER_ONLY_KEYS) - {"n_fragments_alone"})
    assert s["undefined"]["pair_pearson_log_aavs1"] == "insert type aavs1 is not in inputs.insert_types"
    assert "inputs.promoter_only = false" in s["undefined"]["promoteronly_promoter_spearman"]
    assert set(INSERT_TYPES) == {"min_plasmid", "full_plasmid", "aavs1"}


def test_fragments_alone_are_related_to_the_measured_strengths():
    pairs, prom, enh = _planted_pairs(4)
    rng = np.random.default_rng(0)
    p_ids, e_ids = sorted(pairs["promoter"].unique()), sorted(pairs["enhancer"].unique())
    alone = pd.DataFrame({
        "fragment": [*p_ids, *e_ids],
        "fragment_kind": ["promoter"] * len(p_ids) + ["enhancer"] * len(e_ids),
        "insert_type": "min_plasmid",
        "pred": np.concatenate([np.exp(prom) * 5, 0.2 * np.exp(enh)]) * rng.uniform(0.9, 1.1, len(p_ids) + len(e_ids)),
    })
    res = reduce_bergman(pairs.assign(insert_type="min_plasmid"), alone, base_promoter="P00", base_enhancer="E00")
    s = res.summary()
    a = res.alone.set_index("fragment")
    P = res.promoters.set_index("promoter")
    E = res.enhancers.set_index("enhancer")
    np.testing.assert_array_equal(a.loc[p_ids, "measured_strength"], P.loc[p_ids, "coef_poisson_mult"])
    np.testing.assert_array_equal(a.loc[e_ids, "measured_strength"], E.loc[e_ids, "coef_poisson_mult"])
    np.testing.assert_array_equal(a.loc[p_ids, "pairs_strength"], P.loc[p_ids, "coef_gamma_promoter"])
    lp = np.log2(alone["pred"].to_numpy() + 1)
    n_p = len(p_ids)
    assert s["promoteronly_promoter_spearman"] == pytest.approx(
        sst.spearmanr(lp[:n_p], P.loc[p_ids, "coef_poisson_mult"])[0])
    assert s["promoteronly_enhancer_pearson"] == pytest.approx(
        sst.pearsonr(lp[n_p:], E.loc[e_ids, "coef_poisson_mult"])[0])
    assert s["promoteronly_enhancer_over_promoter_median"] == pytest.approx(
        np.median(alone["pred"][n_p:]) / np.median(alone["pred"][:n_p]))
    assert s["n_fragments_alone"] == n_p + len(e_ids) and s["promoter_only"] is True
    assert s["promoteronly_promoter_spearman"] > 0.9  # the alone predictions follow the planted promoters
    # one insert type: nothing to compare, and the summary says so
    assert s["best_insert_pair_pearson"] is None
    assert s["undefined"]["best_insert_pair_pearson"] == "a single insert type: nothing to compare"


def test_a_readout_blind_to_the_promoter_reports_why_the_promoter_strength_is_undefined():
    """Read at the enhancer (the planted model's ``landmark = "enhancer"``), the prediction carries no promoter
    effect: the predicted promoter coefficients are all 0 and their correlations are undefined, not noise."""
    pairs, prom, enh = _planted_pairs(5)
    e_index = pairs["enhancer"].str[1:].astype(int).to_numpy()
    pairs["pred"] = 0.15 * (1 + 0.5 * np.exp(enh[e_index]))
    res = reduce_bergman(pairs.assign(insert_type="min_plasmid"), base_promoter="P00", base_enhancer="E00",
                         landmark="enhancer")
    s = res.summary()
    assert np.abs(res.promoters["coef_gamma_mult"]).max() < 1e-8
    assert s["promoter_strength_pearson"] is None and s["landmark"] == "enhancer"
    assert "do not depend on the promoter" not in s["undefined"]["promoter_strength_pearson"]
    assert "does not depend on the promoter" in s["undefined"]["promoter_strength_pearson"]
    assert s["enhancer_strength_pearson"] > 0.95
