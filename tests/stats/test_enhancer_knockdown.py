"""Statistics of the knock-down experiment against closed forms and independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.metrics import average_precision_score

from seqbench.stats import enhancer_knockdown as st


def _pairs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    d = rng.integers(500, 130_000, n)
    return pd.DataFrame(
        {
            "ziga_key": [f"k{i}" for i in range(n)],
            "dataset": np.where(np.arange(n) % 2 == 0, "fulco2019", "gasperini2019"),
            "gene": [f"G{i // 5}" for i in range(n)],
            "chrom": "chr1",
            "sequence_start": 0,
            "sequence_end": 393_216,
            "main_tss_start": 196_608,
            "main_tss_end": 196_736,
            "main_tss_bin": 448,
            "fix_start": 196_672 + d - 1000,
            "fix_end": 196_672 + d + 1000,
            "distance": d,
            "validated": rng.random(n) < 0.4,
            "observed_log2fc": rng.normal(-0.2, 0.2, n),
            "observed_percent": rng.uniform(0, 50, n),
            "abc_score": rng.random(n),
            "window": np.arange(n) // 5,
        }
    )


def _means(pairs, rng):
    rows = []
    ref = {w: 5.0 + w for w in pairs["window"].unique()}
    for w, v in ref.items():
        rows.append((w, -1, "none", -1, v))
    for i, w in enumerate(pairs["window"]):
        rows.append((w, i, "replace_with_n", -1, ref[w] * rng.uniform(0.5, 1.1)))
        for r in range(3):
            rows.append((w, i, "shuffle", r, ref[w] * rng.uniform(0.5, 1.1)))
    return pd.DataFrame(rows, columns=["window", "pair", "modification", "replicate", "value"])


def test_pair_effects_closed_form():
    rng = np.random.default_rng(1)
    pairs = _pairs()
    means = _means(pairs, rng)
    e = st.pair_effects(pairs, means)
    i = 7
    ref = 5.0 + pairs.window[i]
    sh = means[(means.pair == i) & (means.modification == "shuffle")]["value"].mean()
    nv = means[(means.pair == i) & (means.modification == "replace_with_n")]["value"].iloc[0]
    assert e.log2_fc_pred[i] == pytest.approx(np.log2(sh + 1) - np.log2(ref + 1))
    assert e.log2_fc_pred_n[i] == pytest.approx(np.log2(nv + 1) - np.log2(ref + 1))
    assert e.predicted_percent[i] == pytest.approx(abs((sh + 1) / (ref + 1) - 1) * 100)
    assert e.abs_delta[i] == pytest.approx(abs(sh - ref))  # B9 fixed
    assert e.abs_delta_authors[i] == pytest.approx(abs(sh - ref - 2))  # the authors' value, for comparison
    assert (e.n_shuffles == 3).all()


def test_statistics_match_scipy_and_sklearn():
    rng = np.random.default_rng(2)
    pairs = _pairs(80)
    e = st.pair_effects(pairs, _means(pairs, rng))
    c = st.correlations(e)
    f = e[e.dataset == "fulco2019"]
    row = c[(c.dataset == "fulco2019") & (c.subset == "all")].iloc[0]
    assert row.pearson == pytest.approx(sps.pearsonr(f.log2_fc_pred, f.observed_log2fc)[0])
    assert row.spearman == pytest.approx(sps.spearmanr(f.log2_fc_pred, f.observed_log2fc)[0])
    a = st.auprc_by_bin(e)
    sub = e[(e.distance >= 3000) & (e.distance < 12_500)]
    got = a[(a.dataset == "combined") & (a.distance_bin == "3-12.5")].iloc[0]
    if sub.validated.any() and not sub.validated.all():
        assert got.auprc_abs_log2fc == pytest.approx(average_precision_score(sub.validated, sub.abs_log2_fc_pred))
    assert got.random_baseline == pytest.approx(sub.validated.mean())
    t = st.threshold_table(e)
    r = t[(t.dataset == "combined") & (t.min_observed_percent == 0) & (t.threshold_percent == 10)].iloc[0]
    far = e[e.distance > 1000]
    called, pos = far.predicted_percent > 10, far.validated
    assert r.true_positives == (called & pos).sum() and r.recall == pytest.approx((called & pos).sum() / pos.sum())
    g = st.gene_effects(e, 10.0)
    best = e.groupby("gene").predicted_percent.max()
    assert g[g.dataset == "combined"].fraction_genes_without_effect.iloc[0] == pytest.approx((best <= 10).mean())
    m = st.median_effects(e)
    v = e[e.validated & (e.distance > 990) & (e.distance < 100_000)]
    mr = m[(m.dataset == "combined") & m.validated & (m.window == "1-100kb")].iloc[0]
    assert mr.median_predicted_percent == pytest.approx(v.predicted_percent.median())


def test_candidate_rules_and_test_locations():
    e = pd.DataFrame(
        {
            "ziga_key": list("abcdefg"),
            "gene": ["G1", "G1", "G1", "G2", "G2", "G3", "G1"],
            "chrom": "chr1",
            "main_tss_start": [100_000] * 3 + [300_000] * 2 + [500_000, 100_000],
            "main_tss_end": [100_128] * 3 + [300_128] * 2 + [500_128, 100_128],
            "main_tss_bin": 448,
            "sequence_start": 0,
            "sequence_end": 393_216,
            "distance": [10_000, 15_000, 5_000, 5_000, 50_000, 5_000, 95_000],
            "predicted_percent": [40.0, 5.0, 0.5, 0.05, 40.0, 0.05, 50.0],
        }
    )
    e["fix_start"] = e.main_tss_start + 64 + e.distance - 1000
    e["fix_end"] = e.fix_start + 2000
    e["log2_fc_pred"] = np.log2(1 - e.predicted_percent / 100)
    kinds = st.classify_candidates(e, st.CandidateRules())
    # a: strong; b: intermediate (strong gene, 3-20 kb, 4-8 %); c, d: weak_for_gene (G2 has the strong e);
    # e: 40 % at 50 kb is strong; f: weak (3-8 kb, < 0.1 %, gene without a strong one); g: beyond 90 kb
    assert list(kinds) == ["strong", "intermediate", "weak_for_gene", "weak_for_gene", "strong", "weak", ""]
    rules = st.CandidateRules(n_total=2 * 6 * 6 * 3, top_strongest=1, weak_locations=1)
    cand = st.select_candidates(e, rules)
    assert list(cand.columns) == list(st.CANDIDATE_COLUMNS)
    n_prom, n_enh = 3, 6
    n_test = rules.n_total // (n_prom * n_enh * 6)
    assert cand.test_location.sum() == n_test == 2
    chosen = set(cand.loc[cand.test_location, "ziga_key"])
    assert chosen == {"a", "f"}  # the strongest by |log2 FC| (tie a/e: table order), then the first weak one
