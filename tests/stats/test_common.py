"""seqbench.stats.common: BH FDR against statsmodels and a hand computation; correlations against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import fdrcorrection

from seqbench.stats.common import correlate, fdr_bh, pearson_log


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
