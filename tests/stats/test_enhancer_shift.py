"""Statistics of the enhancer shift on hand-made data, against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from seqbench.experiments.enhancer_shift import stats as st


def _values(rows):
    return pd.DataFrame(rows, columns=["ziga_key", "placement", "insert", "signed_distance", "value"])


def test_placement_effects_average_linear_then_log():
    v = _values(
        [
            ("a", "removed", "none", 0, 2.0),
            ("a", "native", "enhancer", -5000, 9.0),
            ("a", "native", "neutral", -5000, 3.0),
            ("a", "native", "shuffle", -5000, 2.0),
            ("a", "native", "shuffle", -5000, 4.0),
            ("a", "shifted", "enhancer", 3000, 15.0),
            ("a", "shifted", "neutral", 3000, 3.0),
            ("a", "shifted", "shuffle", 3000, 1.0),
            ("a", "shifted", "shuffle", 3000, 6.0),
        ]
    )
    e = st.placement_effects(v).set_index(["placement", "signed_distance"])
    nat = e.loc[("native", -5000)]
    assert nat["shuffle"] == 3.0 and nat["n_shuffles"] == 2  # linear mean of 2 and 4
    assert nat["log2_fc"] == pytest.approx(math.log2(4.0) - math.log2(10.0))
    assert nat["predicted_percent"] == pytest.approx(abs(4.0 / 10.0 - 1) * 100)  # 60 %
    assert nat["direction"] == -1 and nat["distance"] == 5000
    sh = e.loc[("shifted", 3000)]
    assert sh["shuffle"] == 3.5 and sh["predicted_percent"] == pytest.approx((1 - 4.5 / 16.0) * 100)
    assert sh["log2_fc_neutral"] == pytest.approx(math.log2(4 / 16))
    assert sh["log2_fc_removed"] == pytest.approx(math.log2(3 / 16))
    assert sh["removed"] == 2.0
    with pytest.raises(ValueError, match="non-finite"):
        st.placement_effects(v.assign(value=[np.nan] + [1.0] * 8))


def test_best_direction_and_profile():
    rows = []
    pct = {("a", -3000): 30, ("a", 3000): 40, ("a", -20000): 9, ("a", 20000): 5,
           ("b", -3000): 10, ("b", 3000): 8, ("b", -20000): 2, ("b", 20000): 3}
    for (k, sd), p in pct.items():
        # enhancer 99, shuffle chosen so that (shuffle+1)/(enhancer+1) = 1 - p/100
        rows += [(k, "shifted", "enhancer", sd, 99.0), (k, "shifted", "shuffle", sd, 100 * (1 - p / 100) - 1)]
    best = st.best_direction(st.placement_effects(_values(rows))).set_index(["ziga_key", "distance"])
    assert best.loc[("a", 3000), "predicted_percent"] == pytest.approx(40)
    assert best.loc[("a", 3000), "direction"] == 1 and best.loc[("a", 20000), "direction"] == -1
    assert best.loc[("b", 20000), "predicted_percent_upstream"] == pytest.approx(2)
    assert best.loc[("b", 20000), "predicted_percent_downstream"] == pytest.approx(3)
    prof = st.distance_profile(best.reset_index()).set_index("distance")
    assert prof.loc[3000, "median"] == pytest.approx(np.median([40, 10]))
    assert prof.loc[20000, "q25"] == pytest.approx(np.quantile([9, 3], 0.25))
    assert list(prof["n"]) == [2, 2]


def test_bootstrap_matches_a_naive_loop_and_is_seeded():
    rng = np.random.default_rng(3)
    y = rng.normal(size=40)
    a = y + rng.normal(scale=0.5, size=40)
    b = y + rng.normal(scale=2.0, size=40)
    got = st.bootstrap_delta_pearson(a, b, y, 300, seed=11, block=64)
    # the documented draws: raw PCG64 words, row = floor(top 53 bits / 2**53 * m), one resample at a time
    bits = np.random.PCG64(np.random.SeedSequence(11))
    want = []
    for _ in range(300):
        u = (bits.random_raw(40).astype(np.uint64) >> np.uint64(11)).astype(np.float64) / 2.0**53
        row = (u * 40).astype(np.int64)
        want.append(sps.pearsonr(a[row], y[row])[0] - sps.pearsonr(b[row], y[row])[0])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(got, st.bootstrap_delta_pearson(a, b, y, 300, seed=11, block=64))
    assert not np.array_equal(got, st.bootstrap_delta_pearson(a, b, y, 300, seed=12, block=64))
    assert (got > 0).mean() > 0.9  # a tracks y better than b


def test_classification_against_closed_forms():
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0], dtype=bool)
    s = np.array([0.9, 0.8, 0.7, 0.4, 0.35, 0.3, 0.2, 0.1])
    c = st.classification(y, {"x": s})
    # average precision = sum over positives of precision at their rank / #positives
    ranks = np.argsort(-s)
    hits = np.cumsum(y[ranks])
    ap = np.sum((hits / np.arange(1, 9))[y[ranks]]) / y.sum()
    assert c["auprc_x"] == pytest.approx(ap)
    u = sps.mannwhitneyu(s[y], s[~y]).statistic
    assert c["roc_auc_x"] == pytest.approx(u / (y.sum() * (~y).sum()))
    assert c["prevalence"] == pytest.approx(3 / 8)
    assert math.isnan(st.classification(np.ones(3, bool), {"x": np.arange(3.0)})["auprc_x"])


def _planted_values(n_pairs=6, distances=(3000, 10000, 20000, 50000), seed=0):
    """Hand-made constructs whose enhancer effect decays as g(d) = 1/(1 + d/5000)."""
    rng = np.random.default_rng(seed)
    rows, pairs = [], []
    for i in range(n_pairs):
        k = f"e{i}"
        strength = rng.uniform(1, 5)
        native = int(rng.choice([-1, 1]) * rng.uniform(4000, 90000))
        rows.append((k, "removed", "none", 0, 1.0))

        def put(pl, sd, s=strength, key=k):
            g = 1 / (1 + abs(sd) / 5000)
            rows.extend([(key, pl, "enhancer", sd, 1.0 + s * g), (key, pl, "neutral", sd, 1.0),
                         (key, pl, "shuffle", sd, 1.0), (key, pl, "shuffle", sd, 1.0)])

        put("native", native)
        for d in distances:
            put("shifted", -d)
            put("shifted", d)
        obs = 100 * strength / (1 + strength) * rng.uniform(0.5, 1.5)
        pairs.append((k, True, abs(native), native, obs, True))
    for i in range(4):  # not validated: weak, placed at 20 kb only
        k = f"n{i}"
        rows.append((k, "removed", "none", 0, 1.0))
        for pl, sd in (("native", 30000), ("shifted", -20000), ("shifted", 20000)):
            eff = 0.002 * (i + 1)
            rows.extend([(k, pl, "enhancer", sd, 1 + eff), (k, pl, "neutral", sd, 1.0), (k, pl, "shuffle", sd, 1.0)])
        pairs.append((k, False, 30000, 30000, 1.0, False))
    pairs_df = pd.DataFrame(pairs, columns=["ziga_key", "validated", "distance", "signed_distance",
                                            "observed_percent", "shifted"])
    return _values(rows), pairs_df


def test_reduce_on_a_planted_decay():
    values, pairs = _planted_values()
    r = st.reduce_enhancer_shift(values, pairs, compare_distance=20000, far_distance=80000, n_bootstrap=500,
                                 bootstrap_seed=5)
    s = r.summary()
    assert set(s) == set(st.SUMMARY_KEYS)
    assert s["median_profile_is_decreasing"] is True
    assert s["n_enhancers_shifted"] == 6 and s["n_enhancers_other"] == 4 and s["n_classified"] == 10
    # the profile median is the median over enhancers of |(1)/(1 + s g) - 1| = s g / (1 + s g) (x 2: +1 pseudocount)
    ps = r.pairs.set_index("ziga_key")
    strengths = {}
    for k in ps.index[ps["shifted"]]:
        e = values[(values.ziga_key == k) & (values.placement == "shifted") & (values["insert"] == "enhancer")
                   & (values.signed_distance == 3000)]["value"].iloc[0]
        strengths[k] = (e - 1) * (1 + 3000 / 5000)
    for d in (3000, 10000, 20000, 50000):
        g = 1 / (1 + d / 5000)
        want = np.median([100 * s_ * g / (2 + s_ * g) for s_ in strengths.values()])
        assert r.profile.set_index("distance").loc[d, "median"] == pytest.approx(want)
    # Spearman, counts and classification against direct computations
    S = ps[ps["shifted"]]
    rho = sps.spearmanr(S["native_percent"], S["observed_percent"]).statistic
    assert s["spearman_native_observed"] == pytest.approx(rho)
    assert s["n_native_exceeds_observed"] == int((S["native_percent"] > S["observed_percent"]).sum())
    assert s["n_shifted_exceeds_observed"] == int((S["shifted_percent_max"] > S["observed_percent"]).sum())
    assert (S["shifted_distance_max"] == 3000).all()  # the nearest placement is the strongest
    assert s["n_shifted_above_10pct"] == int((S["shifted_percent_max"] > 10).sum())
    assert s["auprc_native"] == pytest.approx(1.0) and s["roc_auc_shifted"] == pytest.approx(1.0)
    assert s["prevalence"] == pytest.approx(0.6)
    d = S["shifted_percent_max"] - S["observed_percent"]
    assert s["shifted_minus_observed_median"] == pytest.approx(float(np.median(d)))
    assert s["shifted_minus_observed_sd"] == pytest.approx(float(np.std(d, ddof=1)))
    lr = np.log10(S["shifted_percent_compare"]), np.log10(S["native_percent"]), np.log10(S["observed_percent"])
    assert s["delta_r"] == pytest.approx(sps.pearsonr(lr[0], lr[2])[0] - sps.pearsonr(lr[1], lr[2])[0])
    assert 0 <= s["bootstrap_delta_r_p_positive"] <= 1
    assert set(s["notes"]) == {k for k, v in s.items() if v is None}


def test_undefined_values_are_explained_in_notes():
    values, pairs = _planted_values(n_pairs=2, distances=(3000, 20000))
    r = st.reduce_enhancer_shift(values, pairs, compare_distance=20000, far_distance=80000, n_bootstrap=20,
                                 bootstrap_seed=1)
    s = r.summary()
    assert s["delta_r"] is None and s["bootstrap_delta_r_q025"] is None and s["median_percent_10kb"] is None
    assert set(s["notes"]) == {k for k, v in s.items() if v is None}
    assert "a correlation needs >= 3" in s["notes"]["delta_r"]
    assert s["notes"]["median_percent_10kb"] == "10 kb is not one of inputs.distances"
    one_class = pairs[pairs["shifted"]]
    s2 = st.reduce_enhancer_shift(values[values["ziga_key"].isin(one_class["ziga_key"])], one_class,
                                  compare_distance=20000, far_distance=80000, n_bootstrap=20,
                                  bootstrap_seed=1).summary()
    assert "need both classes" in s2["notes"]["auprc_native"]


def test_write_tables(tmp_path):
    import json

    values, pairs = _planted_values(n_pairs=3)
    r = st.reduce_enhancer_shift(values, pairs, compare_distance=20000, far_distance=80000, n_bootstrap=50,
                                 bootstrap_seed=1)
    paths = st.write_tables(r, tmp_path)
    assert all(p.is_file() for p in paths)
    back = pd.read_parquet(tmp_path / "enhancer_shift_trajectories.parquet")
    pd.testing.assert_frame_equal(back, r.best.reset_index(drop=True), check_dtype=False)
    summary = json.loads((tmp_path / st.SUMMARY_FILE).read_text())
    assert summary == json.loads(json.dumps(r.summary()))
