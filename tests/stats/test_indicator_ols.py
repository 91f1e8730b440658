"""Categorical OLS from counts and group sums, checked against statsmodels and planted models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.formula.api as smf
from sklearn.metrics import r2_score as sk_r2_score

from seqbench.stats.indicator_ols import factor_codes, fit_cell_means, fit_indicator_ols, r2_score

FACTORS = {
    "a": [f"a{i}" for i in range(5)],
    "b": ["chr1:100-228", "chr2:5-133", "chrX:9-137"],
    "c": [f"c{i:02d}" for i in range(8)],
}


def _unbalanced(seed: int, n: int = 160) -> pd.DataFrame:
    """Random unbalanced data; level ``c_once`` of ``c`` appears exactly once."""
    rng = np.random.default_rng(seed)
    data = {k: rng.choice(v, size=n, p=rng.dirichlet(np.ones(len(v)))) for k, v in FACTORS.items()}
    df = pd.DataFrame(data)
    df.loc[n // 2, "c"] = "c_once"
    # every original level present at least once, so the comparison covers all of them
    for k, levels in FACTORS.items():
        df.loc[: len(levels) - 1, k] = levels
    df["y"] = rng.normal(3.0, 2.0, size=n) + df["a"].str.len()
    return df


@pytest.mark.parametrize("factors", [["a"], ["b", "a"], ["a", "b", "c"]])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_statsmodels_on_unbalanced_data(factors: list[str], seed: int) -> None:
    df = _unbalanced(seed)
    ours = fit_indicator_ols(df, "y", factors)
    ref = smf.ols("y ~ " + " + ".join(factors), data=df).fit()
    assert list(ours.params.index) == list(ref.params.index)
    np.testing.assert_allclose(ours.params.to_numpy(), ref.params.to_numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.fitted, ref.fittedvalues.to_numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.residuals, ref.resid.to_numpy(), rtol=1e-9, atol=1e-9)
    assert ours.r2 == pytest.approx(ref.rsquared, abs=1e-12)
    assert ours.r2 == pytest.approx(sk_r2_score(df["y"], ours.fitted), abs=1e-12)
    assert ours.n == len(df)
    assert ours.n_params == ref.params.size == ours.rank
    assert ours.formula == "y ~ " + " + ".join(factors)
    # terms/levels describe each coefficient without parsing names
    for name, term, level in zip(ours.params.index, ours.terms, ours.levels, strict=True):
        assert name == ("Intercept" if term == "Intercept" else f"{term}[T.{level}]")


def test_balanced_additive_design_is_exact_and_recovers_effects() -> None:
    rng = np.random.default_rng(7)
    rows, cols = [f"r{i}" for i in range(6)], [f"k{j}" for j in range(4)]
    mu, alpha, beta = 1.5, rng.normal(size=6), rng.normal(size=4)
    grid = pd.MultiIndex.from_product([range(6), range(4)]).to_frame(index=False, name=["i", "j"])
    df = pd.DataFrame(
        {
            "row": np.array(rows)[grid["i"]],
            "col": np.array(cols)[grid["j"]],
            "y": mu + alpha[grid["i"]] + beta[grid["j"]],
        }
    ).sample(frac=1.0, random_state=3)  # row order must not matter
    fit = fit_indicator_ols(df, "y", ["row", "col"])
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    assert fit.params["Intercept"] == pytest.approx(mu + alpha[0] + beta[0], abs=1e-12)
    for i in range(1, 6):
        assert fit.params[f"row[T.r{i}]"] == pytest.approx(alpha[i] - alpha[0], abs=1e-12)
    for j in range(1, 4):
        assert fit.params[f"col[T.k{j}]"] == pytest.approx(beta[j] - beta[0], abs=1e-12)
    np.testing.assert_allclose(fit.fitted, df["y"].to_numpy(), atol=1e-12)
    assert fit.n_params == 1 + 5 + 3


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_cell_means_r2_is_one_minus_within_over_total() -> None:
    df = _unbalanced(11)
    fit = fit_cell_means(df, "y", ["a", "b"])
    cell_mean = df.groupby(["a", "b"])["y"].transform("mean")
    within = float(((df["y"] - cell_mean) ** 2).sum())
    total = float(((df["y"] - df["y"].mean()) ** 2).sum())
    assert fit.r2 == pytest.approx(1.0 - within / total, abs=1e-12)
    np.testing.assert_allclose(fit.fitted, cell_mean.to_numpy(), atol=1e-12)
    assert fit.n_params == df.groupby(["a", "b"]).ngroups
    ref = smf.ols("y ~ a:b", data=df).fit()
    assert fit.r2 == pytest.approx(ref.rsquared, abs=1e-10)
    ref0 = smf.ols("y ~ 0 + a:b", data=df).fit()
    np.testing.assert_allclose(fit.params.to_numpy(), ref0.params.loc[fit.params.index].to_numpy(), atol=1e-10)
    observed = [name for name in ref0.params.index if name in set(fit.params.index)]
    assert list(fit.params.index) == observed  # patsy's column order, empty cells left out


def test_aliased_levels_give_minimum_norm_solution_and_unique_fit() -> None:
    rng = np.random.default_rng(5)
    # b is a relabelling of a (x->p, y->q, z->o), so every b column is aliased with a columns, and
    # the references differ (a: x, b: o), so the intercept is aliased too: b[T.p] = 1 - a[T.y] - a[T.z].
    a = rng.choice(["x", "y", "z"], size=60)
    a[:3] = ["x", "y", "z"]
    b = np.where(a == "x", "p", np.where(a == "y", "q", "o"))
    df = pd.DataFrame({"a": a, "b": b, "y": rng.normal(size=60) + 10.0})
    fit = fit_indicator_ols(df, "y", ["a", "b"])
    assert fit.rank < fit.n_params
    y_dm, x_dm = patsy.dmatrices("y ~ a + b", df, return_type="dataframe")
    assert list(x_dm.columns) == list(fit.params.index)
    min_norm, *_ = np.linalg.lstsq(x_dm.to_numpy(), y_dm.to_numpy().ravel(), rcond=None)
    np.testing.assert_allclose(fit.params.to_numpy(), min_norm, atol=1e-9)
    group_mean = df.groupby("a")["y"].transform("mean").to_numpy()
    np.testing.assert_allclose(fit.fitted, group_mean, atol=1e-10)


def test_categorical_unused_levels_are_dropped_and_order_kept() -> None:
    df = _unbalanced(2)
    as_str = fit_indicator_ols(df, "y", ["a", "c"])
    cat = df.assign(c=pd.Categorical(df["c"], categories=sorted(set(df["c"])) + ["never_seen"]))
    as_cat = fit_indicator_ols(cat, "y", ["a", "c"])
    pd.testing.assert_series_equal(as_str.params, as_cat.params, rtol=1e-12)
    codes, levels = factor_codes(cat["c"])
    assert "never_seen" not in set(levels)
    assert codes.max() == len(levels) - 1


def test_integer_levels_are_named_like_patsy() -> None:
    df = _unbalanced(4).assign(k=lambda d: np.arange(len(d)) % 3 + 1)
    ours = fit_indicator_ols(df, "y", ["k"])
    ref = smf.ols("y ~ C(k)", data=df).fit()
    assert list(ours.params.index) == ["Intercept", "k[T.2]", "k[T.3]"]
    np.testing.assert_allclose(ours.params.to_numpy(), ref.params.to_numpy(), atol=1e-10)


def test_r2_score_matches_sklearn_edge_cases() -> None:
    y = np.array([1.0, 1.0, 1.0])
    assert r2_score(y, y) == sk_r2_score(y, y)
    assert r2_score(y, y + 1.0) == sk_r2_score(y, y + 1.0)
    rng = np.random.default_rng(0)
    z, f = rng.normal(size=20), rng.normal(size=20)
    assert r2_score(z, f) == pytest.approx(sk_r2_score(z, f), abs=1e-12)


@pytest.mark.parametrize(
    ("mutate", "factors", "match"),
    [
        (lambda d: d.drop(columns="b"), ["a", "b"], "factor column 'b' is missing"),
        (lambda d: d.drop(columns="y"), ["a"], "response column 'y' is missing"),
        (
            lambda d: d.assign(y=d["y"].where(d.index != 3)),
            ["a"],
            r"'y': 1 non-finite value\(s\) \(first at row 3",
        ),
        (lambda d: d.assign(a=d["a"].where(d.index != 5)), ["a"], r"factor 'a': 1 missing value"),
        (lambda d: d, [], "at least one factor"),
        (lambda d: d, ["a", "a"], "each factor may appear once"),
        (lambda d: d.iloc[:0], ["a"], "no rows"),
    ],
)
def test_errors_name_the_problem(mutate, factors: list[str], match: str) -> None:
    df = mutate(_unbalanced(0))
    with pytest.raises(ValueError, match=match):
        fit_indicator_ols(df, "y", factors)


def test_disconnected_blocks_rank_is_levels_minus_blocks_and_fit_is_unique() -> None:
    """2 blocks of 300 promoters x 300 enhancers, within-block pairs only (180,000 rows, 1,199
    columns): rank = 600 + 600 - 2 (intercept + treatment coding span all level indicators, which
    obey one relation per connected block), fitted = promoter mean + enhancer mean - block mean."""
    rng = np.random.default_rng(3)
    parts = []
    for b in range(2):
        pi, ei = np.divmod(np.arange(300 * 300), 300)
        parts.append(pd.DataFrame({"p": [f"b{b}p{i:03d}" for i in pi], "e": [f"b{b}e{j:03d}" for j in ei]}))
    df = pd.concat(parts, ignore_index=True)
    df["y"] = rng.normal(size=len(df)) + df["p"].str[-1].astype(int) * 0.3
    fit = fit_indicator_ols(df, "y", ["p", "e"])
    assert fit.n_params == 1199 and fit.rank == 600 + 600 - 2
    g = {f: df.groupby(f)["y"].transform("mean").to_numpy() for f in ("p", "e")}
    block = df.groupby(df["p"].str[:2])["y"].transform("mean").to_numpy()
    np.testing.assert_allclose(fit.fitted, g["p"] + g["e"] - block, rtol=0, atol=1e-9)


def test_singular_design_that_plain_cholesky_accepts_has_its_rank() -> None:
    """Two 2 x 2 blocks, one row per pair: X'X is exactly singular (rank 6 of 7) yet numpy's Cholesky
    factorises it; the shared solver reports rank 6 and the minimum-norm coefficients."""
    rows = [(p, e) for p in ("p0", "p1") for e in ("e0", "e1")] + [(p, e) for p in ("p2", "p3") for e in ("e2", "e3")]
    df = pd.DataFrame(rows, columns=["p", "e"]).assign(y=[1.0, 2.0, 4.0, 3.0, 0.5, 1.5, 2.5, 6.0])
    y_dm, x_dm = patsy.dmatrices("y ~ p + e", df, return_type="dataframe")
    x = x_dm.to_numpy()
    np.linalg.cholesky(x.T @ x)  # does not raise
    fit = fit_indicator_ols(df, "y", ["p", "e"])
    assert fit.rank == np.linalg.matrix_rank(x) == 6 < fit.n_params == 7
    min_norm = np.linalg.lstsq(x, y_dm.to_numpy().ravel(), rcond=None)[0]
    np.testing.assert_allclose(fit.params.to_numpy(), min_norm, atol=1e-10)
