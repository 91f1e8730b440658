"""Sparse GLMs (Poisson / Gamma with a log link, OLS) against statsmodels and closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import linalg, sparse
from sklearn.metrics import r2_score

from seqbench.stats.glm import fit_glm, fit_ols, indicator_design, variance_explained


def _random_design(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "promoter": rng.choice([f"p{i}" for i in range(7)], n),
            "enhancer": rng.choice([f"e{i}" for i in range(5)], n),
            "log_dna": rng.normal(5.0, 1.0, n),
        }
    )
    a = {f"p{i}": v for i, v in enumerate(rng.normal(0, 1, 7))}
    b = {f"e{i}": v for i, v in enumerate(rng.normal(0, 0.5, 5))}
    eta = 0.6 * df["log_dna"] - 2.0 + df["promoter"].map(a) + df["enhancer"].map(b)
    df["count"] = rng.poisson(np.exp(eta))
    df["value"] = rng.gamma(3.0, np.exp(eta) / 3.0)
    return df


def test_design_columns_follow_treatment_coding_with_given_references():
    df = _random_design(0, 50)
    d = indicator_design(df, ["promoter", "enhancer"], covariates=["log_dna"], references={"promoter": "p3"})
    assert d.names[:2] == ("Intercept", "log_dna")
    assert "promoter[T.p3]" not in d.names and "promoter[T.p0]" in d.names and "enhancer[T.e0]" not in d.names
    assert d.references == {"promoter": "p3", "enhancer": "e0"}
    dense = d.matrix.toarray()
    # every row: intercept, covariate, one indicator per factor unless at the reference
    for i, r in enumerate(df.itertuples()):
        want = {0, 1}
        for f, lev in (("promoter", r.promoter), ("enhancer", r.enhancer)):
            if lev != d.references[f]:
                want.add(d.names.index(f"{f}[T.{lev}]"))
        assert set(np.flatnonzero(dense[i])) == want
        assert dense[i, 1] == pytest.approx(r.log_dna)
    with pytest.raises(ValueError, match="reference level 'p99'"):
        indicator_design(df, ["promoter"], references={"promoter": "p99"})


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("family", "response", "sm_family"),
    [("poisson", "count", sm.families.Poisson()), ("gamma", "value", sm.families.Gamma(sm.families.links.Log()))],
)
def test_matches_statsmodels_glm(seed, family, response, sm_family):
    df = _random_design(seed)
    d = indicator_design(df, ["promoter", "enhancer"], covariates=["log_dna"], references={"enhancer": "e2"})
    ours = fit_glm(d, df[response], family, standard_errors=True)
    ref = sm.GLM(df[response].to_numpy(), d.matrix.toarray(), family=sm_family).fit(tol=1e-13, maxiter=200)
    assert ours.converged
    assert not ours.rank_deficient and ours.rank == d.shape[1] == ref.df_model + 1  # full rank: not flagged
    np.testing.assert_allclose(ours.params.to_numpy(), ref.params, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse, rtol=1e-5)
    np.testing.assert_allclose(ours.fitted, ref.fittedvalues, rtol=1e-6)
    assert ours.deviance == pytest.approx(ref.deviance, rel=1e-8)
    assert ours.scale == pytest.approx(ref.scale, rel=1e-6)


def test_ols_matches_statsmodels():
    df = _random_design(3)
    d = indicator_design(df, ["promoter", "enhancer"], covariates=["log_dna"])
    y = np.log2(df["count"].to_numpy() + 1.0)
    ours = fit_ols(d, y, standard_errors=True)
    ref = sm.OLS(y, d.matrix.toarray()).fit()
    assert not ours.rank_deficient and ours.rank == d.shape[1]
    np.testing.assert_allclose(ours.params.to_numpy(), ref.params, atol=1e-10)
    np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse, rtol=1e-8)


def _balanced(seed: int, n_p: int = 6, n_e: int = 4, reps: int = 3) -> tuple[pd.DataFrame, np.random.Generator]:
    rng = np.random.default_rng(seed)
    p, e, _ = np.meshgrid(np.arange(n_p), np.arange(n_e), np.arange(reps), indexing="ij")
    return pd.DataFrame({"promoter": [f"p{i}" for i in p.ravel()], "enhancer": [f"e{i}" for i in e.ravel()]}), rng


def test_poisson_on_a_balanced_design_gives_log_ratios_of_marginal_means():
    """Main-effects Poisson on a complete balanced table is the independence model: fitted = row x col / total,
    so each coefficient is log(marginal mean of the level / marginal mean of the reference), whatever y is."""
    df, rng = _balanced(0)
    df["y"] = rng.poisson(rng.uniform(2, 40, len(df)))  # not multiplicative at all
    res = fit_glm(indicator_design(df, ["promoter", "enhancer"], references={"promoter": "p2"}), df["y"], "poisson")
    pm = df.groupby("promoter")["y"].mean()
    em = df.groupby("enhancer")["y"].mean()
    for lev in pm.index.drop("p2"):
        assert res.params[f"promoter[T.{lev}]"] == pytest.approx(np.log(pm[lev] / pm["p2"]), abs=1e-9)
    for lev in em.index.drop("e0"):
        assert res.params[f"enhancer[T.{lev}]"] == pytest.approx(np.log(em[lev] / em["e0"]), abs=1e-9)
    assert res.params["Intercept"] == pytest.approx(np.log(pm["p2"] * em["e0"] / df["y"].mean()), abs=1e-9)


def test_gamma_recovers_an_exactly_multiplicative_table():
    df, rng = _balanced(1)
    a = dict(zip([f"p{i}" for i in range(6)], rng.uniform(0.05, 5.0, 6), strict=True))
    b = dict(zip([f"e{i}" for i in range(4)], rng.uniform(1.0, 3.0, 4), strict=True))
    df["y"] = df["promoter"].map(a) * df["enhancer"].map(b)
    res = fit_glm(indicator_design(df, ["promoter", "enhancer"]), df["y"], "gamma")
    assert res.converged
    for lev in list(a)[1:]:
        assert res.params[f"promoter[T.{lev}]"] == pytest.approx(np.log(a[lev] / a["p0"]), abs=1e-8)
    for lev in list(b)[1:]:
        assert res.params[f"enhancer[T.{lev}]"] == pytest.approx(np.log(b[lev] / b["e0"]), abs=1e-8)
    np.testing.assert_allclose(res.fitted, df["y"], rtol=1e-8)


def test_group_only_fits_equal_group_means():
    """With one factor the Poisson and Gamma MLEs of each group mean are the arithmetic means."""
    df, rng = _balanced(2)
    df = df.iloc[rng.permutation(len(df))[:50]].reset_index(drop=True)  # unbalanced now
    df["y"] = rng.gamma(2.0, 3.0, len(df))
    means = df.groupby("promoter")["y"].transform("mean").to_numpy()
    for family in ("poisson", "gamma"):
        res = fit_glm(indicator_design(df, ["promoter"]), df["y"], family)
        np.testing.assert_allclose(res.fitted, means, rtol=1e-9)


def test_convergence_flag_and_factor_effects():
    df = _random_design(4)
    d = indicator_design(df, ["promoter", "enhancer"], covariates=["log_dna"])
    short = fit_glm(d, df["value"], "gamma", max_iter=2)
    assert not short.converged and short.n_iter == 2
    full = fit_glm(d, df["value"], "gamma")
    assert full.converged and full.n_iter > 2
    eff = full.factor_effects("promoter")
    assert eff.iloc[0] == 0.0 and eff.index[0] == "p0" and len(eff) == 7
    assert eff["p4"] == full.params["promoter[T.p4]"]


def test_refuses_bad_responses_and_accepts_plain_matrices():
    x = sparse.csr_matrix(np.column_stack([np.ones(4), [0, 1, 0, 1]]))
    with pytest.raises(ValueError, match="poisson response must be >= 0"):
        fit_glm(x, [1, -1, 2, 3], "poisson")
    with pytest.raises(ValueError, match="gamma response must be > 0"):
        fit_glm(x, [1, 0, 2, 3], "gamma")
    with pytest.raises(ValueError, match="family 'binomial'"):
        fit_glm(x, [1, 0, 2, 3], "binomial")
    res = fit_glm(x, [1.0, 3.0, 2.0, 5.0], "poisson", names=["a", "b"])
    assert res.params["b"] == pytest.approx(np.log(4.0 / 1.5))  # log(mean of group 1 / mean of group 0)


def test_variance_explained_is_r2_of_log2_plus_one():
    rng = np.random.default_rng(5)
    obs = rng.gamma(2.0, 5.0, 100)
    fit = obs * rng.uniform(0.5, 1.5, 100)
    assert variance_explained(obs, fit) == pytest.approx(r2_score(np.log2(obs + 1), np.log2(fit + 1)), abs=1e-14)
    assert variance_explained(obs, obs) == 1.0


def test_disconnected_blocks_are_flagged_rank_deficient_and_still_fit():
    """Promoters {p0, p1} only ever meet enhancers {e0, e1}, and {p2, p3} only {e2, e3}: the
    promoter and enhancer effects of the second block are confounded (one free shift between
    them), so X'X is singular.  The fit still reproduces the cell means; the flag says so."""
    rows = [(p, e) for p in ("p0", "p1") for e in ("e0", "e1")] + [(p, e) for p in ("p2", "p3") for e in ("e2", "e3")]
    df = pd.DataFrame(rows * 3, columns=["promoter", "enhancer"])
    a = {"p0": 1.0, "p1": 2.0, "p2": 3.0, "p3": 0.5}
    b = {"e0": 1.0, "e1": 1.5, "e2": 2.0, "e3": 4.0}
    df["y"] = df["promoter"].map(a) * df["enhancer"].map(b)
    design = indicator_design(df, ["promoter", "enhancer"])
    gamma = fit_glm(design, df["y"], "gamma")
    assert gamma.rank_deficient
    np.testing.assert_allclose(gamma.fitted, df["y"], rtol=1e-6)  # multiplicative within each block
    ols = fit_glm(design, df["y"], "gaussian")
    x = design.matrix.toarray()
    coef = np.linalg.lstsq(x, df["y"].to_numpy(), rcond=None)[0]  # fitted values are unique even so
    assert ols.rank_deficient and np.linalg.matrix_rank(x) < x.shape[1]
    np.testing.assert_allclose(ols.fitted, x @ coef, rtol=1e-8)
    connected = df.copy()
    connected.loc[0, "enhancer"] = "e2"  # one pair bridging the blocks
    assert not fit_glm(indicator_design(connected, ["promoter", "enhancer"]), connected["y"], "gamma").rank_deficient


def _blocks(sizes: list[tuple[int, int]], seed: int, reps=None) -> pd.DataFrame:
    """Promoters x enhancers in disconnected blocks: block ``b`` pairs its own promoters with its own
    enhancers only, every pair once (or ``reps[b]`` times); a planted multiplicative truth plus noise."""
    rng = np.random.default_rng(seed)
    parts = []
    for b, (n_p, n_e) in enumerate(sizes):
        pi, ei = np.divmod(np.arange(n_p * n_e), n_e)
        r = 1 if reps is None else reps[b]
        pi, ei = np.repeat(pi, r), np.repeat(ei, r)
        a, e = rng.normal(0.0, 1.0, n_p), rng.normal(0.0, 0.5, n_e)
        parts.append(
            pd.DataFrame(
                {
                    "promoter": [f"b{b}p{i:03d}" for i in pi],
                    "enhancer": [f"b{b}e{j:03d}" for j in ei],
                    "eta": a[pi] + e[ei],
                }
            )
        )
    df = pd.concat(parts, ignore_index=True)
    df["block"] = df["promoter"].str[:2]
    df["count"] = rng.poisson(np.exp(1.0 + df["eta"])).astype(np.float64)
    df["value"] = rng.gamma(5.0, np.exp(1.0 + df["eta"]) / 5.0)
    df["cov"] = rng.normal(size=len(df))
    return df


def test_rank_of_disconnected_blocks_is_levels_minus_blocks():
    """Why ``rank = n_promoters + n_enhancers - n_blocks``: the intercept + treatment-coded columns
    span the same space as all ``P + E`` level indicators; the only linear relations among those are,
    per block, sum(promoter indicators) = sum(enhancer indicators) = the block's indicator (each
    block is a connected bipartite graph), one per block and independent (disjoint rows).  Checked
    here with SVD on small dense designs; the big tests below use the formula."""
    for sizes in ([(3, 4)], [(3, 4), (2, 5)], [(3, 4), (2, 5), (4, 2)]):
        d = indicator_design(_blocks(sizes, 0), ["promoter", "enhancer"])
        n_p, n_e = sum(s[0] for s in sizes), sum(s[1] for s in sizes)
        assert d.shape[1] == n_p + n_e - 1
        assert np.linalg.matrix_rank(d.matrix.toarray()) == n_p + n_e - len(sizes)


@pytest.fixture(scope="module")
def big_blocks():
    """2 blocks of 300 promoters x 300 enhancers, every within-block pair once: 180,000 rows x 1,199
    columns, true rank 600 + 600 - 2 = 1,198 (see the test above)."""
    df = _blocks([(300, 300), (300, 300)], seed=7)
    return df, indicator_design(df, ["promoter", "enhancer"]), 600 + 600 - 2


def _block_centre(df: pd.DataFrame, v: np.ndarray) -> np.ndarray:
    """``v`` minus its promoter and enhancer means plus its block mean: 0 iff ``v`` is additive per block
    (complete blocks)."""
    s = pd.Series(v, index=df.index)
    return (
        v
        - s.groupby(df["promoter"]).transform("mean").to_numpy()
        - s.groupby(df["enhancer"]).transform("mean").to_numpy()
        + s.groupby(df["block"]).transform("mean").to_numpy()
    )


def test_disconnected_blocks_at_realistic_size_poisson(big_blocks):
    """Poisson main effects on a complete table are the independence model, block by block:
    fitted = promoter total x enhancer total / block total (closed form, no solver)."""
    df, design, rank = big_blocks
    res = fit_glm(design, df["count"], "poisson")
    assert res.converged and res.rank_deficient and res.rank == rank
    total = {f: df.groupby(f)["count"].transform("sum").to_numpy() for f in ("promoter", "enhancer", "block")}
    want = total["promoter"] * total["enhancer"] / total["block"]
    np.testing.assert_allclose(res.fitted, want, rtol=1e-6)
    assert res.scale == 1.0


def test_disconnected_blocks_at_realistic_size_gamma(big_blocks):
    """Gamma (log link) has no closed form; its MLE is pinned down without our solver by the score
    equations (sum of ``y/mu - 1`` over each promoter's and each enhancer's rows is 0) and ``log mu``
    additive within each block (the log-likelihood is strictly concave in ``eta``, so that is unique)."""
    df, design, rank = big_blocks
    y = df["value"].to_numpy()
    res = fit_glm(design, y, "gamma")
    assert res.converged and res.rank_deficient and res.rank == rank
    mu = res.fitted
    for f in ("promoter", "enhancer"):
        score = pd.Series(y / mu - 1.0).groupby(df[f]).sum()
        assert np.abs(score).max() < 1e-6
    assert np.abs(_block_centre(df, np.log(mu))).max() < 1e-9
    n = len(df)
    assert res.scale == pytest.approx(np.sum(((y - mu) / mu) ** 2) / (n - rank), rel=1e-12)
    assert res.scale != pytest.approx(np.sum(((y - mu) / mu) ** 2) / (n - design.shape[1]), rel=1e-7)


def test_disconnected_blocks_at_realistic_size_ols(big_blocks):
    """Two-way additive OLS on complete blocks: fitted = promoter mean + enhancer mean - block mean."""
    df, design, rank = big_blocks
    y = np.log2(df["count"].to_numpy() + 1.0)
    res = fit_ols(design, y)
    assert res.rank_deficient and res.rank == rank
    np.testing.assert_allclose(res.fitted, y - _block_centre(df, y), rtol=0, atol=1e-8)
    assert res.scale == pytest.approx(np.sum((y - res.fitted) ** 2) / (len(df) - rank), rel=1e-12)
    # one pair bridging the blocks connects them: full rank, not flagged
    bridged = df.copy()
    bridged.loc[0, "enhancer"] = "b1e000"
    full = fit_ols(indicator_design(bridged, ["promoter", "enhancer"]), y)
    assert not full.rank_deficient and full.rank == design.shape[1]


@pytest.mark.parametrize(
    ("family", "response", "sm_family"),
    [
        ("poisson", "count", sm.families.Poisson()),
        ("gamma", "value", sm.families.Gamma(sm.families.links.Log())),
        ("gaussian", "value", sm.families.Gaussian()),
    ],
)
def test_disconnected_blocks_match_statsmodels_and_min_norm(family, response, sm_family):
    """Three blocks (rank deficient by 2) with a covariate and unequal replication.  statsmodels' IRLS
    does not converge on the singular design itself (its pinv steps oscillate), so the reference is
    statsmodels on the *identifiable* design: the same columns less each extra block's first enhancer
    (full rank, same column space, ``p = rank``).  Its fitted means and dispersion must be ours; our
    coefficients must be the minimum-norm representation of its linear predictor
    (``numpy.linalg.lstsq``), and our standard errors ``sqrt(scale * diag(pinv(X'WX)))``."""
    df = _blocks([(8, 6), (5, 7), (4, 3)], seed=11, reps=[1, 2, 3])
    d = indicator_design(df, ["promoter", "enhancer"], covariates=["cov"])
    x = d.matrix.toarray()
    y = df[response].to_numpy()
    ours = fit_glm(d, y, family, standard_errors=True)
    keep = [k for k, name in enumerate(d.names) if name not in ("enhancer[T.b1e000]", "enhancer[T.b2e000]")]
    assert np.linalg.matrix_rank(x[:, keep]) == len(keep) == np.linalg.matrix_rank(x) == 17 + 16 - 3 + 1
    ref = sm.GLM(y, x[:, keep], family=sm_family).fit(tol=1e-13, maxiter=200)
    assert ours.converged and ref.converged
    assert ours.rank_deficient and ours.rank == len(keep) and ref.df_resid == len(df) - ours.rank
    np.testing.assert_allclose(ours.fitted, ref.fittedvalues, rtol=1e-6)
    assert ours.scale == pytest.approx(ref.scale, rel=1e-6)
    eta = ref.fittedvalues if family == "gaussian" else np.log(ref.fittedvalues)
    np.testing.assert_allclose(ours.params.to_numpy(), np.linalg.lstsq(x, eta, rcond=None)[0], atol=1e-6)
    w = ours.fitted if family == "poisson" else np.ones(len(df))
    bse = np.sqrt(ours.scale * np.diag(np.linalg.pinv(x.T @ (w[:, None] * x))))
    np.testing.assert_allclose(ours.bse.to_numpy(), bse, rtol=1e-8)


def test_singular_design_that_plain_cholesky_accepts_is_flagged():
    """Two disconnected 2 x 2 blocks, one row per pair: X (8 x 7) has rank 6, X'X is exactly singular in
    integers, yet Cholesky succeeds on it (and on its Jacobi-scaled form, which the old solver
    factorised) because round-off leaves a pivot of ~1e-8 instead of 0.  It is flagged now."""
    rows = [(p, e) for p in ("p0", "p1") for e in ("e0", "e1")] + [(p, e) for p in ("p2", "p3") for e in ("e2", "e3")]
    df = pd.DataFrame(rows, columns=["promoter", "enhancer"])
    design = indicator_design(df, ["promoter", "enhancer"])
    x = design.matrix.toarray()
    xtx = x.T @ x
    assert np.linalg.matrix_rank(x) == 6 and x.shape == (8, 7)
    np.linalg.cholesky(xtx)  # does not raise: plain Cholesky cannot see the singularity
    d = 1.0 / np.sqrt(np.diag(xtx))
    linalg.cho_factor(xtx * d[:, None] * d[None, :])  # nor the scaled form
    y = np.array([1.0, 2.0, 4.0, 3.0, 0.5, 1.5, 2.5, 6.0])
    for family in ("gaussian", "gamma", "poisson"):
        res = fit_glm(design, y, family)
        assert res.rank_deficient and res.rank == 6, family
    ols = fit_ols(design, y)
    np.testing.assert_allclose(ols.params.to_numpy(), np.linalg.lstsq(x, y, rcond=None)[0], atol=1e-10)
    assert ols.scale == pytest.approx(np.sum((y - ols.fitted) ** 2) / (8 - 6), rel=1e-12)
