"""Ridge matching (experiments-spec §1.4 item 5) against independent answers: scikit-learn's own
pipeline, the closed-form ridge, a brute-force leave-one-out choice of alpha, and a planted signal."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from seqbench.stats.ridge import (
    RIDGE_ALPHAS,
    RidgeMatch,
    RidgeMatchError,
    fit_ridge_match,
    fit_ridge_matches,
    match_metrics,
)


def _planted(n: int, p: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(2.0, 1.0, (n, p)) * rng.uniform(0.5, 3.0, p)  # features on different scales
    w = rng.normal(0.0, 1.0, p)
    y = 1.5 + X @ w + rng.normal(0.0, noise, n)
    return X, y, w


def test_predict_equals_scikit_learns_pipeline():
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, _ = _planted(120, 6, 0.5, 1)
    m = fit_ridge_match(X[:80], y[:80], [f"f{i}" for i in range(6)], condition="Liver")
    ref = make_pipeline(StandardScaler(), RidgeCV()).fit(X[:80], y[:80] - y[:80].mean())
    np.testing.assert_allclose(m.predict(X[80:]), ref.predict(X[80:]), rtol=1e-10, atol=1e-12)
    assert m.y_offset == pytest.approx(y[:80].mean()) and m.n_train == 80
    assert tuple(RidgeCV().alphas) == RIDGE_ALPHAS  # scikit-learn's default, as the authors


def test_coefficients_are_the_closed_form_ridge_and_alpha_the_leave_one_out_best():
    X, y, _ = _planted(40, 5, 2.0, 2)
    m = fit_ridge_match(X, y, list("abcde"), condition="c")
    Z = (X - X.mean(0)) / X.std(0)  # the scaler: population standard deviation
    yc = y - y.mean()
    coef = np.linalg.solve(Z.T @ Z + m.alpha * np.eye(5), Z.T @ yc)
    np.testing.assert_allclose(m.coef, coef, rtol=1e-8, atol=1e-10)
    assert m.intercept == pytest.approx(0.0, abs=1e-10)  # centred y, centred Z

    def loo_mse(alpha: float) -> float:  # refit without each gene in turn (intercept included)
        err = []
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            Zi, yi = Z[keep], yc[keep]
            zm, ym = Zi.mean(0), yi.mean()
            b = np.linalg.solve((Zi - zm).T @ (Zi - zm) + alpha * np.eye(5), (Zi - zm).T @ (yi - ym))
            err.append((yc[i] - (ym + (Z[i] - zm) @ b)) ** 2)
        return float(np.mean(err))

    best = min(RIDGE_ALPHAS, key=loo_mse)
    assert m.alpha == best


def test_planted_weights_and_test_r_from_the_noise_variance():
    """y = X w + noise: the fitted direction is the planted one, and the test r is what the noise implies."""
    n, p, noise = 2000, 8, 1.0
    X, y, w = _planted(n, p, noise, 3)
    train, test = slice(0, 1500), slice(1500, None)
    m = fit_ridge_match(X[train], y[train], [str(i) for i in range(p)], condition="t")
    recovered = np.asarray(m.coef) / np.asarray(m.scaler_scale)  # back to the raw feature scale
    assert np.corrcoef(recovered, w)[0, 1] > 0.999
    signal = X[test] @ w
    expected_r = math.sqrt(signal.var() / (signal.var() + noise**2))
    got = match_metrics(y[test] - m.y_offset, m.predict(X[test]))
    assert got["pearson"] == pytest.approx(expected_r, abs=0.02)
    assert got["rmse"] == pytest.approx(noise, rel=0.1)


def test_metrics_against_scipy_and_the_definitions():
    rng = np.random.default_rng(4)
    t, p = rng.normal(size=50), rng.normal(size=50)
    got = match_metrics(t, p)
    assert got["pearson"] == pytest.approx(sps.pearsonr(t, p)[0])
    assert got["spearman"] == pytest.approx(sps.spearmanr(t, p)[0])
    assert got["r2"] == pytest.approx(1 - ((t - p) ** 2).sum() / ((t - t.mean()) ** 2).sum())
    assert got["rmse"] == pytest.approx(math.sqrt(((t - p) ** 2).mean()))
    null = match_metrics(t, np.zeros_like(t))  # intercept-only after centring: no correlation exists
    assert math.isnan(null["pearson"]) and null["r2"] == pytest.approx(1 - (t**2).sum() / ((t - t.mean()) ** 2).sum())


def test_json_round_trip_and_refusals():
    X, y, _ = _planted(60, 3, 0.3, 5)
    m = fit_ridge_match(X, y, ["a", "b", "c"], condition="Heart")
    back = RidgeMatch.from_json(json.loads(json.dumps(m.to_json())))
    assert back == m
    np.testing.assert_array_equal(back.predict(X, ["a", "b", "c"]), m.predict(X))
    with pytest.raises(RidgeMatchError, match=r"feature 1 is 'c'; expected 'b'"):
        m.predict(X[:, [0, 2, 1]], ["a", "c", "b"])
    bad = m.to_json()
    del bad["coef"]
    with pytest.raises(RidgeMatchError, match=r"models.json: lacks 'coef'"):
        RidgeMatch.from_json(bad, where="models.json")
    short = {**m.to_json(), "coef": [1.0]}
    with pytest.raises(RidgeMatchError, match=r"coef has 1 values for 3 features"):
        RidgeMatch.from_json(short)


def test_fewer_training_genes_than_features_is_refused():
    X, y, _ = _planted(5, 8, 0.1, 6)
    with pytest.raises(RidgeMatchError, match=r"condition 'Testis': 5 training genes for 8 features; expected at"
                                              r" least as many training genes as features"):
        fit_ridge_match(X, y, [str(i) for i in range(8)], condition="Testis")


def test_many_conditions_at_once_equal_one_fit_per_condition():
    """fit_ridge_matches (one multi-target RidgeCV) against a loop of one-condition fits: same alpha choice,
    same coefficients; the conditions are built to pick different alphas."""
    rng = np.random.default_rng(11)
    n, p = 60, 5
    X = rng.normal(size=(n, p)) * np.array([1.0, 3.0, 0.2, 1.0, 5.0]) + 2.0
    w = rng.normal(size=(p, 4))
    noise = np.array([0.05, 1.0, 4.0, 20.0])  # from nearly noiseless to mostly noise: alphas differ
    Y = X @ w + rng.normal(size=(n, 4)) * noise + np.array([1.0, -2.0, 0.0, 5.0])
    names = [f"f{j}" for j in range(p)]
    conds = ["a", "b", "c", "d"]
    many = fit_ridge_matches(X, Y, names, conds)
    alphas = set()
    for j, c in enumerate(conds):
        one = fit_ridge_match(X, Y[:, j], names, condition=c)
        got = many[j]
        assert got.condition == c and got.alpha == one.alpha and got.n_train == n
        np.testing.assert_allclose(got.coef, one.coef, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose([got.intercept, got.y_offset], [one.intercept, one.y_offset], atol=1e-12)
        np.testing.assert_allclose(got.predict(X), one.predict(X), atol=1e-10)
        alphas.add(got.alpha)
    assert len(alphas) > 1
    with pytest.raises(RidgeMatchError, match="3 training genes for 5 features"):
        fit_ridge_matches(X[:3], Y[:3], names, conds)
    Y2 = Y.copy()
    Y2[0, 2] = np.nan
    with pytest.raises(RidgeMatchError, match="condition 'c': non-finite"):
        fit_ridge_matches(X, Y2, names, conds)
