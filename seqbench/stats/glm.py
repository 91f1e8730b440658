"""Generalised linear models on sparse indicator designs: Poisson and Gamma with a log link, and OLS.

The Bergman promoter x enhancer MPRA (experiments-spec §5.4) fits ``y ~ covariates + C(promoter) +
C(enhancer)`` with up to 1,000 promoter and 1,000 enhancer levels on up to a million rows.  A dense
design matrix would be 1e6 x 2e3 float64 = 16 GB (the authors' notebook left statsmodels' IRLS for
a dogleg optimizer because of memory).  Here the design is a :class:`scipy.sparse.csr_matrix` with
at most ``1 + n_covariates + n_factors`` non-zeros a row, the weighted normal matrix ``X'WX``
(``p x p``, 2,000 x 2,000 float64 = 32 MB) is assembled by a sparse product, and each IRLS step is
solved by :class:`seqbench.stats.linalg.NormalSolver` (Cholesky with a condition estimate; an
eigendecomposition decides the rank when that is in doubt).  Memory is ``O(n + p**2)``; time per
iteration ``O(n k**2 + p**3)``.

Models and conventions
----------------------
* Design (:func:`indicator_design`): column 0 is the intercept, then the numeric covariates in the
  order given, then for each factor its levels except the reference (treatment coding), in sorted
  order (or category order for a categorical column).  The reference level of a factor is the
  caller's (``references``, e.g. the paper's baseline elements) or else the first level.  Column
  names follow statsmodels/patsy: ``Intercept``, the covariate name, ``factor[T.level]``.
* Families (:func:`fit_glm`), all fitted by iteratively reweighted least squares (Fisher scoring,
  exact Newton for a canonical link):

  ========  ======  ====================  ============================  =========================
  family    link    variance ``V(mu)``    IRLS weight ``w``              dispersion ``scale``
  ========  ======  ====================  ============================  =========================
  poisson   log     ``mu``                ``mu``                         1
  gamma     log     ``mu**2``             1                              Pearson chi2 / (n - rank)
  gaussian  ident.  1                     1                              RSS / (n - rank)
  ========  ======  ====================  ============================  =========================

  The working response is ``z = eta + (y - mu) / mu`` (log link) or ``y`` (identity).  Starting
  values are statsmodels' (``mu0 = (y + mean(y)) / 2``).  A step that raises the deviance is
  halved (up to 30 times), as R's ``glm.fit`` does.  Convergence: the largest change of a
  coefficient in one iteration, ``max |b_k - b_{k-1}|``, falls below ``tol`` (default 1e-9, natural
  log units).  A criterion on the coefficients, not the deviance: the Gamma family with a log link
  is not canonical, so Fisher scoring converges linearly, and a deviance that has settled to 1e-10
  can still leave the coefficients 1e-5 away.
* Deviances: Poisson ``2 sum(y log(y/mu) - (y - mu))`` (``y log y = 0`` at 0); Gamma
  ``2 sum(-log(y/mu) + (y - mu)/mu)``; Gaussian ``sum((y - mu)**2)``.
* Rank: ``rank`` is the numerical rank of ``X'WX`` at the last solve (Jacobi-scaled eigenvalues
  above ``10 * p * eps`` times the largest; :mod:`seqbench.stats.linalg`).  Below ``p`` (e.g.
  promoters and enhancers in disconnected blocks: ``rank = n_promoters + n_enhancers - n_blocks``
  plus the covariates) the fit is flagged ``rank_deficient``, each IRLS step takes the
  minimum-norm solution (statsmodels' ``pinv``), the fitted values are still the unique MLE, and the
  dispersion divides by ``n - rank``, as statsmodels' ``df_resid`` does.
* Standard errors (optional): ``sqrt(scale * diag((X'WX)^-1))`` at the solution (the Moore-Penrose
  inverse when rank deficient; meaningful only for identifiable coefficients).
* Variance explained (:func:`variance_explained`): ``sklearn.metrics.r2_score(log2(obs + 1),
  log2(fitted + 1))``, as the paper's "enhancer_varexpl" (spec §5.4): the share of the variation of
  log expression that the fit explains.

Pure NumPy/SciPy/pandas; no Ray.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from seqbench.stats.indicator_ols import factor_codes
from seqbench.stats.linalg import NormalSolver

__all__ = [
    "FAMILIES",
    "GLMResult",
    "SparseDesign",
    "fit_glm",
    "fit_ols",
    "indicator_design",
    "variance_explained",
]

#: family name -> link name
FAMILIES = {"poisson": "log", "gamma": "log", "gaussian": "identity"}
_ETA_MAX = 700.0  # exp(700) ~ 1e304: keeps mu finite during the first iterations


@dataclass(frozen=True)
class SparseDesign:
    """A treatment-coded design: the matrix and what its columns mean.

    Attributes
    ----------
    matrix:
        ``scipy.sparse.csr_matrix [n, p]`` float64.
    names:
        Column names ``[p]`` (``Intercept``, covariates, ``factor[T.level]``).
    terms:
        ``[p]`` the term each column belongs to (``Intercept``, the covariate or the factor name).
    levels:
        ``[p]`` the factor level of each column (``""`` for the intercept and covariates).
    references:
        factor -> its reference level (the level without a column).
    factor_levels:
        factor -> all its observed levels, in column order with the reference first.
    """

    matrix: sparse.csr_matrix
    names: tuple[str, ...]
    terms: tuple[str, ...]
    levels: tuple[str, ...]
    references: dict[str, str]
    factor_levels: dict[str, tuple[str, ...]] = field(repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape


@dataclass(frozen=True)
class GLMResult:
    """A fitted GLM.

    Attributes
    ----------
    family, link:
        As in :data:`FAMILIES`.
    params:
        Coefficients ``[p]`` indexed by the design's column names (natural-log scale for a log link).
    bse:
        Standard errors ``[p]`` (``None`` unless asked for).
    fitted:
        ``mu [n]``, the fitted means.
    deviance, scale:
        Final deviance and dispersion (see the module docstring).
    converged, n_iter:
        Whether the largest coefficient change fell below ``tol`` within ``max_iter`` iterations, and
        the iterations used.
    rank_deficient, rank:
        The normal matrix was singular at the last solve (minimum-norm solution), and its numerical
        rank (``n_params`` at full rank).
    n, n_params:
        Rows and columns of the design.
    """

    family: str
    link: str
    params: pd.Series
    bse: pd.Series | None
    fitted: np.ndarray = field(repr=False)
    deviance: float
    scale: float
    converged: bool
    n_iter: int
    n: int
    n_params: int
    design: SparseDesign | None = field(default=None, repr=False)
    #: ``X'WX`` was singular (a column that is a combination of others, e.g. promoters and enhancers
    #: in disconnected blocks): the minimum-norm solution was taken; coefficients within the
    #: confounded groups are then not identifiable, fitted values still are
    rank_deficient: bool = False
    #: numerical rank of ``X'WX`` at the last solve (``None`` only for a result built by hand)
    rank: int | None = None

    def factor_effects(self, factor: str, *, include_reference: bool = True) -> pd.Series:
        """Coefficients of one factor indexed by level; the reference level is 0 when included."""
        if self.design is None:
            raise ValueError("factor_effects needs the fit's design (fit_glm(design=SparseDesign))")
        d = self.design
        if factor not in d.references:
            raise KeyError(f"{factor!r} is not a factor of the design; factors: {list(d.references)}")
        mask = np.asarray([t == factor for t in d.terms])
        values = self.params.to_numpy()[mask]
        levels = [lv for lv, m in zip(d.levels, mask, strict=True) if m]
        out = pd.Series(values, index=pd.Index(levels, dtype=object, name=factor), name="estimate")
        if include_reference:
            ref = pd.Series([0.0], index=pd.Index([d.references[factor]], dtype=object, name=factor), name="estimate")
            out = pd.concat([ref, out])
        return out


def indicator_design(
    data: pd.DataFrame,
    factors: Sequence[str],
    *,
    covariates: Sequence[str] = (),
    references: Mapping[str, str] | None = None,
) -> SparseDesign:
    """The sparse treatment-coded design ``1 + covariates + factors`` of ``data``.

    Parameters
    ----------
    data:
        One row per observation, holding every factor and covariate column.
    factors:
        Factor columns in formula order.
    covariates:
        Numeric columns entered as free coefficients (finite values only).
    references:
        factor -> reference level; a factor not named here uses its first level (sorted, or category
        order).  A reference that is not an observed level is refused.

    Returns
    -------
    SparseDesign
        ``p = 1 + len(covariates) + sum(L_f - 1)`` columns; CSR with ``n * (1 + len(covariates))``
        plus one non-zero per row and factor whose level is not the reference.
    """
    references = dict(references or {})
    n = len(data)
    if n == 0:
        raise ValueError("data has no rows; nothing to fit")
    unknown = [f for f in references if f not in factors]
    if unknown:
        raise ValueError(f"references: {unknown[0]!r} is not one of the factors {list(factors)}")
    names: list[str] = ["Intercept"]
    terms: list[str] = ["Intercept"]
    levels_out: list[str] = [""]
    rows = [np.arange(n, dtype=np.int64)]
    cols = [np.zeros(n, dtype=np.int64)]
    vals = [np.ones(n, dtype=np.float64)]
    for cov in covariates:
        if cov not in data.columns:
            raise ValueError(f"covariate column {cov!r} is missing; columns are {list(data.columns)}")
        v = pd.to_numeric(data[cov], errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(v).all():
            first = int(np.flatnonzero(~np.isfinite(v))[0])
            raise ValueError(f"covariate {cov!r}: non-finite value at row {first} (0-based)")
        rows.append(np.arange(n, dtype=np.int64))
        cols.append(np.full(n, len(names), dtype=np.int64))
        vals.append(v)
        names.append(cov)
        terms.append(cov)
        levels_out.append("")
    refs: dict[str, str] = {}
    factor_levels: dict[str, tuple[str, ...]] = {}
    for f in factors:
        if f not in data.columns:
            raise ValueError(f"factor column {f!r} is missing; columns are {list(data.columns)}")
        codes, levels = factor_codes(data[f], name=f)
        levels = np.asarray([str(x) for x in levels], dtype=object)
        ref = str(references[f]) if f in references else str(levels[0])
        hit = np.flatnonzero(levels == ref)
        if hit.size == 0:
            raise ValueError(f"factor {f!r}: reference level {ref!r} does not occur in the data")
        ref_code = int(hit[0])
        # column of each level: the reference has none (-1); the others follow in level order
        col_of = np.full(levels.size, -1, dtype=np.int64)
        others = np.flatnonzero(np.arange(levels.size) != ref_code)
        col_of[others] = len(names) + np.arange(others.size)
        c = col_of[codes]
        keep = c >= 0
        rows.append(np.flatnonzero(keep).astype(np.int64))
        cols.append(c[keep])
        vals.append(np.ones(int(keep.sum()), dtype=np.float64))
        for k in others:
            names.append(f"{f}[T.{levels[k]}]")
            terms.append(f)
            levels_out.append(str(levels[k]))
        refs[f] = ref
        factor_levels[f] = (ref, *(str(levels[k]) for k in others))
    matrix = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, len(names))
    )
    matrix.sum_duplicates()
    return SparseDesign(matrix, tuple(names), tuple(terms), tuple(levels_out), refs, factor_levels)


def _deviance(family: str, y: np.ndarray, mu: np.ndarray) -> float:
    if family == "poisson":
        with np.errstate(divide="ignore", invalid="ignore"):
            ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
        return float(2.0 * np.sum(ylogy - (y - mu)))
    if family == "gamma":
        return float(2.0 * np.sum(-np.log(y / mu) + (y - mu) / mu))
    return float(np.sum((y - mu) ** 2))


def _check_response(family: str, y: np.ndarray) -> None:
    bad = ~np.isfinite(y)
    if bad.any():
        raise ValueError(f"response: {int(bad.sum())} non-finite value(s) (first at row {int(np.flatnonzero(bad)[0])})")
    if family == "poisson" and (y < 0).any():
        raise ValueError(f"poisson response must be >= 0; row {int(np.flatnonzero(y < 0)[0])} is negative")
    if family == "gamma" and (y <= 0).any():
        raise ValueError(f"gamma response must be > 0; row {int(np.flatnonzero(y <= 0)[0])} is not")


def _weighted_gram(x: sparse.csr_matrix, w: np.ndarray) -> np.ndarray:
    """``X' diag(w) X`` as a dense ``[p, p]`` array (sparse product, dense result)."""
    xw = sparse.csr_matrix((x.data * np.repeat(w, np.diff(x.indptr)), x.indices, x.indptr), shape=x.shape)
    gram = (x.T.tocsr() @ xw).toarray()
    return gram


def fit_glm(
    design: SparseDesign | sparse.spmatrix | np.ndarray,
    y,
    family: str,
    *,
    max_iter: int = 100,
    tol: float = 1e-9,
    standard_errors: bool = False,
    names: Sequence[str] | None = None,
) -> GLMResult:
    """Fit a GLM by IRLS on a (sparse) design.

    Parameters
    ----------
    design:
        A :class:`SparseDesign`, or any ``[n, p]`` matrix (sparse or dense; column names from
        ``names`` or ``x0..``).
    y:
        Response ``[n]``: counts >= 0 (poisson), > 0 (gamma), finite (gaussian).
    family:
        ``"poisson"``, ``"gamma"`` (both log link) or ``"gaussian"`` (identity link).
    max_iter, tol:
        IRLS iteration limit and coefficient tolerance (see the module docstring).
    standard_errors:
        Also compute ``bse`` (one extra ``p x p`` inverse).

    Returns
    -------
    GLMResult
        ``converged`` is False when ``max_iter`` was reached first (the last iterate is returned).
    """
    if family not in FAMILIES:
        raise ValueError(f"family {family!r}: expected one of {', '.join(FAMILIES)}")
    if isinstance(design, SparseDesign):
        x = design.matrix
        col_names = list(design.names)
        sd: SparseDesign | None = design
    else:
        x = sparse.csr_matrix(design, dtype=np.float64)
        col_names = list(names) if names is not None else [f"x{i}" for i in range(x.shape[1])]
        sd = None
    x = sparse.csr_matrix(x, dtype=np.float64)
    yv = np.asarray(y, dtype=np.float64).ravel()
    n, p = x.shape
    if yv.size != n:
        raise ValueError(f"y has {yv.size} values but the design has {n} rows")
    if len(col_names) != p:
        raise ValueError(f"names: {len(col_names)} given for {p} columns")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    _check_response(family, yv)
    link = FAMILIES[family]

    if link == "identity":
        solver = NormalSolver(_weighted_gram(x, np.ones(n)))
        beta = solver.solve(x.T @ yv)
        mu = x @ beta
        dev = _deviance(family, yv, mu)
        converged, n_iter = True, 1
    else:
        mu = (yv + yv.mean()) / 2.0
        eta = np.log(mu)
        dev = _deviance(family, yv, mu)
        beta = np.zeros(p)
        converged, n_iter = False, 0
        solver = None
        for it in range(1, max_iter + 1):
            n_iter = it
            w = mu if family == "poisson" else np.ones(n)
            z = eta + (yv - mu) / mu
            solver = NormalSolver(_weighted_gram(x, w))
            new_beta = solver.solve(x.T @ (w * z))
            step = new_beta - beta
            for _ in range(31):
                new_eta = np.clip(x @ new_beta, -_ETA_MAX, _ETA_MAX)
                new_mu = np.exp(new_eta)
                new_dev = _deviance(family, yv, new_mu)
                if it == 1 or (np.isfinite(new_dev) and new_dev <= dev * (1.0 + 1e-12) + 1e-12):
                    break
                step = step / 2.0  # step halving: the full step raised the deviance
                new_beta = beta + step
            change = float(np.max(np.abs(new_beta - beta))) if p else 0.0
            beta, eta, mu, dev = new_beta, new_eta, new_mu, new_dev
            if it > 1 and change < tol:
                converged = True
                break
        # refresh the weights at the solution for the standard errors
        if standard_errors:
            solver = NormalSolver(_weighted_gram(x, mu if family == "poisson" else np.ones(n)))
    rank = solver.rank if solver is not None else p
    df_resid = n - rank
    if family == "poisson":
        scale = 1.0
    elif family == "gamma":
        scale = float(np.sum(((yv - mu) / mu) ** 2) / df_resid) if df_resid > 0 else math.nan
    else:
        scale = float(np.sum((yv - mu) ** 2) / df_resid) if df_resid > 0 else math.nan
    index = pd.Index(col_names, dtype=object)
    bse = None
    if standard_errors and solver is not None:
        bse = pd.Series(np.sqrt(solver.inverse_diagonal() * scale), index=index, name="bse")
    return GLMResult(
        family=family,
        link=link,
        params=pd.Series(beta, index=index, name="estimate"),
        bse=bse,
        fitted=np.asarray(mu, dtype=np.float64),
        deviance=dev,
        scale=scale,
        converged=converged,
        n_iter=n_iter,
        n=n,
        n_params=p,
        design=sd,
        rank_deficient=rank < p,
        rank=rank,
    )


def fit_ols(design: SparseDesign | sparse.spmatrix | np.ndarray, y, *, standard_errors: bool = False) -> GLMResult:
    """Ordinary least squares on a (sparse) design: :func:`fit_glm` with the Gaussian family."""
    return fit_glm(design, y, "gaussian", standard_errors=standard_errors)


def variance_explained(observed, fitted) -> float:
    """``sklearn.metrics.r2_score(log2(observed + 1), log2(fitted + 1))`` (spec §5.4).

    ``observed`` and ``fitted`` are linear-scale values > -1 of the same length.
    """
    from sklearn.metrics import r2_score

    obs = np.asarray(observed, dtype=np.float64)
    fit = np.asarray(fitted, dtype=np.float64)
    if obs.shape != fit.shape or obs.ndim != 1:
        raise ValueError(f"variance_explained: 1-D arrays of one length expected, got {obs.shape} and {fit.shape}")
    return float(r2_score(np.log2(obs + 1.0), np.log2(fit + 1.0)))
