"""seqbench.stats.common: BH FDR against statsmodels and a hand computation; correlations against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import fdrcorrection

from seqbench.stats.common import MIN_PAIRS, correlate, fdr_bh, pearson_log


def test_fdr_bh_hand_example():
    # sorted p: .01 .02 .03 .04 .20, m = 5: p*m/rank = .05 .05 .05 .05 .20 -> running min from the top
    p = [0.04, 0.01, 0.20, 0.03, 0.02]
    rejected, q = fdr_bh(p, alpha=0.05)
    np.testing.assert_allclose(q, [0.05, 0.05, 0.20, 0.05, 0.05])
    assert rejected.tolist() == [True, True, False, True, True]
    # the step-up: p(3) = .04 alone would pass (.04*3/3 = .04), and lifts nothing above it
    rejected, q = fdr_bh([0.001, 0.5, 0.04], alpha=0.05)
    np.testing.assert_allclose(q, [0.003, 0.5, 0.06])
    assert rejected.tolist() == [True, False, False]


@pytest.mark.parametrize("seed", range(5))
def test_fdr_bh_matches_statsmodels(seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 1, 30), rng.uniform(0, 0.01, 10)])
    p[3] = p[7]  # a tie
    rej, q = fdr_bh(p, alpha=0.1)
    rej_sm, q_sm = fdrcorrection(p, alpha=0.1, method="indep")
    np.testing.assert_allclose(q, q_sm, rtol=1e-12)
    assert (rej == rej_sm).all()


def test_fdr_bh_nan_left_out_and_bad_input():
    rej, q = fdr_bh([0.01, np.nan, 0.04])
    np.testing.assert_allclose(q[[0, 2]], fdrcorrection([0.01, 0.04])[1])
    assert np.isnan(q[1]) and not rej[1]
    with pytest.raises(ValueError, match="outside"):
        fdr_bh([0.5, 1.5])
    with pytest.raises(ValueError, match="1-D"):
        fdr_bh([[0.1]])


def test_pearson_log_definition():
    rng = np.random.default_rng(3)
    pred = rng.gamma(2.0, 3.0, 50)
    meas = pred * rng.lognormal(0, 0.3, 50)
    meas[4] = np.nan  # dropped
    meas[9] = 0.0  # no log: dropped
    c = pearson_log(pred, meas)
    ok = np.isfinite(meas) & (meas > 0)
    assert c.n == 48
    assert c.pearson_r == pytest.approx(stats.pearsonr(np.log2(pred[ok] + 1), np.log2(meas[ok]))[0], abs=1e-12)
    assert c.spearman_r == pytest.approx(stats.spearmanr(pred[ok], meas[ok])[0], abs=1e-12)
    tiny = correlate([1.0, 2.0], [2.0, 1.0])
    assert tiny.n == 2 and np.isnan(tiny.pearson_r)


def test_correlate_minimum_pairs_rule():
    # n >= MIN_PAIRS (3) finite pairs and both sides varying, else NaN (value and p-value)
    assert MIN_PAIRS == 3
    two = correlate([1.0, 2.0, np.nan, np.inf], [2.0, 1.0, 5.0, 3.0])
    assert two.n == 2 and all(np.isnan([two.pearson_r, two.pearson_p, two.spearman_r, two.spearman_p]))
    three = correlate([1.0, 2.0, 4.0, np.nan], [1.0, 3.0, 2.0, 7.0])
    assert three.n == 3
    assert three.pearson_r == stats.pearsonr([1.0, 2.0, 4.0], [1.0, 3.0, 2.0])[0]
    assert three.spearman_r == stats.spearmanr([1.0, 2.0, 4.0], [1.0, 3.0, 2.0])[0]
    flat = correlate([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    assert flat.n == 4 and np.isnan(flat.pearson_r) and np.isnan(flat.spearman_r)


def test_every_experiment_correlates_through_common():
    """The experiments' correlation entry points are ``correlate`` (one rule), not their own copies."""
    import math
    import re
    from pathlib import Path

    import pandas as pd

    from seqbench.experiments.enhancer_knockdown import stats as kd
    from seqbench.experiments.enhancer_shift import stats as es
    from seqbench.experiments.multiplicativity import stats as mx
    from seqbench.experiments.saturation_mutagenesis import stats as sm

    root = Path(kd.__file__).resolve().parents[1]
    own = [
        f"{p.relative_to(root)}: {m.group(0)}"
        for p in sorted(root.glob("*/*.py"))
        for m in re.finditer(r"\b(pearsonr|spearmanr|corrcoef)\(|def _(pearson|corr)\(", p.read_text())
    ]
    assert not own, f"correlations outside seqbench.stats.common: {own}"

    x, y = [1.0, 2.0, 4.0, np.nan, 3.0], [1.0, 3.0, 2.0, 5.0, 6.0]
    assert sm.correlations(x, y) == correlate(x, y).as_dict()
    assert math.isnan(sm.correlations([1.0, 2.0], [2.0, 1.0])["pearson_r"])
    effects = pd.DataFrame(
        {"dataset": "fulco2019", "distance": [10, 20], "log2_fc_pred": [0.1, 0.2], "observed_log2fc": [0.3, 0.1]}
    )
    row = kd.correlations(effects).iloc[0]
    assert row["n"] == 2 and math.isnan(row["pearson"]) and math.isnan(row["spearman"])
    assert np.isnan(es.bootstrap_delta_pearson([1.0, 2.0], [2.0, 1.0], [1.0, 3.0], 5, seed=1)).all()
    wide = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [2.0, 1.0, 3.0, np.nan], "c": [1.0, 3.0, 2.0, 5.0]})
    corr = mx._corr_columns(wide, "g")
    assert math.isnan(corr.loc["a", "b"])  # two complete rows
    assert corr.loc["a", "c"] == pytest.approx(correlate(wide["a"], wide["c"]).pearson_r, abs=1e-12)
