"""Statistics of the knock-down experiment against closed forms and independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.metrics import average_precision_score

from seqbench.experiments.enhancer_knockdown import stats as st


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
    assert sub.validated.any() and not sub.validated.all()  # both classes, so the AUPRC check below bites
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


def test_gasperini_1_20kb_correlation_in_summary():
    rng = np.random.default_rng(3)
    pairs = _pairs(120)
    res = st.reduce_knockdown(pairs, _means(pairs, rng), st.CandidateRules())
    e = res.effects
    g = e[(e.dataset == "gasperini2019") & (e.distance > 1000) & (e.distance < 20_000)]
    s = res.summary()
    assert s["pearson_gasperini2019_1_20kb"] == pytest.approx(sps.pearsonr(g.log2_fc_pred, g.observed_log2fc)[0])
    assert s["spearman_gasperini2019_1_20kb"] == pytest.approx(sps.spearmanr(g.log2_fc_pred, g.observed_log2fc)[0])
    assert list(s) == list(st.SUMMARY_KEYS)


def _overlap_table():
    # TSS A (chr1:1000): validated v1 [10_000, 12_000), v2 [30_000, 32_000); TSS B (chr1:5000): validated w [0, 2_000)
    return pd.DataFrame(
        {
            "ziga_key": ["v1", "a", "b", "c", "v2", "d", "e", "w", "f"],
            "chrom": ["chr1"] * 9,
            "main_tss_start": [1000] * 7 + [5000] * 2,
            "fix_start": [10_000, 11_999, 12_000, 8_000, 30_000, 29_000, 40_000, 0, 11_000],
            "fix_end": [12_000, 13_999, 14_000, 10_000, 32_000, 33_000, 42_000, 2_000, 13_000],
            "validated": [True, False, False, False, True, True, False, True, False],
        }
    )


def test_overlap_excluded_hand_made():
    t = _overlap_table()
    got = st.overlap_excluded(t)
    # a overlaps v1 by 1 bp -> dropped; b, c only touch v1 (half-open) -> kept; d is validated (overlapping
    # v2 does not drop it: validated < validated_b fails); e overlaps nothing; f overlaps v1's window but at
    # another TSS, and w (its TSS's validated window) is far -> kept; validated pairs are never dropped
    assert list(t.ziga_key[got]) == ["a"]
    # brute force, the authors' self-join: same TSS, different key, overlap, validated < validated_b
    brute = [
        any(
            r.main_tss_start == o.main_tss_start
            and r.ziga_key != o.ziga_key
            and r.fix_start < o.fix_end
            and o.fix_start < r.fix_end
            and int(r.validated) < int(o.validated)
            for o in t.itertuples()
        )
        for r in t.itertuples()
    ]
    assert list(got) == brute
    # order and index do not matter
    shuffled = t.sample(frac=1.0, random_state=0).set_index(pd.Index(range(100, 109)))
    assert list(st.overlap_excluded(shuffled)) == list(shuffled.ziga_key == "a")


def test_overlap_excluded_matches_brute_force_random():
    rng = np.random.default_rng(5)
    n = 200
    start = rng.integers(0, 50_000, n)
    t = pd.DataFrame(
        {
            "ziga_key": [f"k{i}" for i in range(n)],
            "chrom": "chr1",
            "main_tss_start": rng.choice([1000, 2000, 3000], n),
            "fix_start": start,
            "fix_end": start + rng.integers(1, 4000, n),
            "validated": rng.random(n) < 0.2,
        }
    )
    got = st.overlap_excluded(t).to_numpy()
    s, e, v, tss = (t[c].to_numpy() for c in ("fix_start", "fix_end", "validated", "main_tss_start"))
    ov = (s[:, None] < e[None, :]) & (s[None, :] < e[:, None]) & (tss[:, None] == tss[None, :])
    brute = (ov & ~v[:, None] & v[None, :]).any(axis=1)
    assert got.any() and (got == brute).all()


def test_recalibration_auprc_matches_sklearn():
    t = _overlap_table()
    t["dataset"] = "fulco2019"
    t["distance"] = [5_000, 6_000, 800, 20_000, 50_000, 3_000, 40_000, 2_000, 9_000]
    t["predicted_percent"] = [10.0, 30.0, 50.0, 3.0, 2.0, 8.0, 1.0, 25.0, 6.0]
    fit = {"slope": -0.5, "intercept": 2.0}
    r = st.recalibration_auprc(t, fit)
    row = r[r.dataset == "combined"].iloc[0]
    # kept: d > 1 kb and not the overlapping non-validated 'a' (b has d = 800)
    keep = t[t.ziga_key.isin(["v1", "c", "v2", "d", "e", "w", "f"])]
    y = keep.validated.to_numpy()
    assert row.n == 7 and row.n_overlap_excluded == 1 and row.n_validated == 4
    assert row.random_baseline == pytest.approx(4 / 7)
    assert row.auprc_raw == pytest.approx(average_precision_score(y, keep.predicted_percent))
    fitted = keep.predicted_percent * keep.distance**0.5 / 100.0  # 10**(log10 p + 0.5 log10 d - 2)
    assert row.auprc_recalibrated_fitted == pytest.approx(average_precision_score(y, fitted))
    authors = 10 ** (np.log10(keep.predicted_percent) + 0.7222 * np.log10(keep.distance) - 3.5296)
    assert row.auprc_recalibrated_authors == pytest.approx(average_precision_score(y, authors))
    assert row.auprc_recalibrated_fitted != pytest.approx(row.auprc_raw)  # the recalibration reorders pairs
    assert np.allclose(st.recalibrated_percent(keep, -0.5, 2.0), fitted)
    # undefined fit or a single class: NaN
    r2 = st.recalibration_auprc(t, {"slope": float("nan"), "intercept": float("nan")})
    assert np.isnan(r2.auprc_recalibrated_fitted).all()
    one = st.recalibration_auprc(t[t.validated], fit)
    assert np.isnan(one.auprc_raw).all()


# ---------------------------------------------------------------- Enformer-ABC and basal expression


def test_ci_indices_are_the_authors_for_99_resamples():
    from seqbench.experiments.enhancer_knockdown import analyses as la

    assert la.ci_indices(99) == (2, 98)  # floor(100 * 0.025), ceil(100 * 0.975), 0-based
    assert la.ci_indices(1) == (0, 0)


def test_bootstrap_auprc_matches_a_brute_force_loop():
    from seqbench.experiments.enhancer_knockdown import analyses as la
    from seqbench.sequence.shuffles import RawStream

    rng = np.random.default_rng(7)
    m = 40
    y = rng.random(m) < 0.3
    s1, s2 = rng.random(m) + y * 0.5, rng.random(m)
    got = la.bootstrap_auprc(y, {"a": s1, "b": s2}, 99, seed=123).set_index("predictor")
    # the documented recipe, by hand: row floor(u * m) for u the top 53 bits of each raw word / 2**53
    words = RawStream(123).words(99 * m)
    rows = [[int((int(w) >> 11) * m // 2**53) for w in words[k * m : (k + 1) * m]] for k in range(99)]
    for name, s in (("a", s1), ("b", s2)):
        boots = sorted(
            average_precision_score(y[r], s[r]) for r in map(np.asarray, rows) if y[r].any() and not y[r].all()
        )
        assert got.loc[name, "auprc"] == pytest.approx(average_precision_score(y, s))
        assert got.loc[name, "n_bootstrap_defined"] == len(boots)
        assert got.loc[name, "ci_low"] == pytest.approx(boots[2])
        assert got.loc[name, "ci_high"] == pytest.approx(boots[98])


def test_enformer_abc_closed_form_and_authors_half_delta():
    from seqbench.experiments.enhancer_knockdown import analyses as la

    rng = np.random.default_rng(8)
    pairs = _pairs(30)
    pairs["enhancer_start"] = pairs["fix_start"] + 750
    pairs["enhancer_end"] = pairs["fix_end"] - 750
    e = st.pair_effects(pairs, _means(pairs, rng))
    el = pairs[["chrom", "enhancer_start", "enhancer_end"]].drop_duplicates().reset_index(drop=True)
    el["dnase"], el["h3k27ac"] = rng.uniform(0.1, 2, len(el)), rng.uniform(0.1, 2, len(el))
    both = la.add_enformer_abc(e, la.element_activity(el, "h3k27ac_dnase"))
    only = la.add_enformer_abc(e, la.element_activity(el, "dnase"))
    i = 11
    r = el[(el.enhancer_start == pairs.enhancer_start[i])].iloc[0]
    assert both.enformer_abc[i] == pytest.approx(np.sqrt(r.dnase * r.h3k27ac) / pairs.distance[i])
    assert only.enformer_abc[i] == pytest.approx(r.dnase / pairs.distance[i])
    # B9: the authors' delta |2**(ref-1) - 2**(alt-1)| is half the change; the ranking (and AUPRC) is the same
    assert np.allclose(both.delta_authors, both.abs_delta / 2)
    far = both[both.distance > 1000]
    assert average_precision_score(far.validated, far.delta_authors) == pytest.approx(
        average_precision_score(far.validated, far.abs_delta)
    )


def test_basal_ols_matches_statsmodels_formula_and_the_law_sign():
    import statsmodels.formula.api as smf

    from seqbench.experiments.enhancer_knockdown import analyses as la
    from seqbench.models.planted import law

    rng = np.random.default_rng(9)
    n = 80
    d = rng.integers(1_500, 90_000, n).astype(float)
    n_prom = rng.integers(0, 5, n)  # promoter motifs of the pair's gene (0: the basal P0 only)
    # the planted law's knock-down at the TSS (3 landmark bins, all promoter hits in the TSS bin):
    # ref = 3 A (3 n + P0)(1 + B enh), removed = 3 A (3 n + P0) B g(d); with the +1 pseudocount
    # pct = 100 pi B g / (pi (1 + B enh) + 1), pi = 3 A (3 n + P0): rising in pi at a fixed enhancer
    enh_other = np.full(n, 0.5)
    g = 1 / (1 + d / law.D0)
    prom = 3 * law.A * (3 * n_prom + law.P0)
    ref = prom * (1 + law.B_K562 * (enh_other + g))
    alt = prom * (1 + law.B_K562 * enh_other)
    f = pd.DataFrame(
        {
            "distance": d,
            "predicted_percent": np.abs((alt + 1) / (ref + 1) - 1) * 100,
            "promoter_strength": prom,
            "validated": rng.random(n) < 0.5,
        }
    )
    got = la.basal_ols(f)
    ref_fit = smf.ols(
        "np.log10(predicted_percent + 0.001) ~ np.log10(distance) + np.log10(promoter_strength + 1) + validated",
        data=f.assign(validated=f.validated.astype(float)),
    ).fit()
    assert got["n"] == n and got["r2"] == pytest.approx(ref_fit.rsquared)
    assert got["coef_log10_promoter"] == pytest.approx(ref_fit.params["np.log10(promoter_strength + 1)"])
    assert got["coef_log10_distance"] == pytest.approx(ref_fit.params["np.log10(distance)"])
    # the law: at a fixed enhancer the predicted % rises with promoter strength (the +1 pseudocount)
    assert got["coef_log10_promoter"] > 0 and got["coef_log10_distance"] < 0
    # validated constant: left out, and said so
    one = la.basal_ols(f.assign(validated=True))
    assert np.isnan(one["coef_validated"]) and "constant" in one["note"]
