"""Ordinary least squares for designs made only of categorical factors.

The models are the ones statsmodels writes as ``y ~ a + b + c`` (additive, with an intercept and
treatment coding) and ``y ~ a:b`` (the cell-means model of an interaction), fitted without ever
building the dense ``n x p`` design matrix: the normal equations ``X'X`` and ``X'y`` are assembled
from level counts, level co-occurrence counts and group sums (:func:`numpy.bincount`), so
327,520 rows x 234 columns take a few tens of milliseconds.

Conventions
-----------
``y``        float64 ``[n]``: the response, finite (a NaN or inf is refused).
factors      columns of a :class:`pandas.DataFrame`, each ``[n]``, of strings, integers or a
             :class:`pandas.CategoricalDtype`; missing values are refused.
levels       the *observed* values of a factor.  Plain columns are sorted (Python order, as patsy
             sorts them); a categorical keeps its category order.  The first level is the
             reference (treatment coding), so it has no coefficient.  Unused categories of a
             categorical are dropped (patsy would keep them as all-zero columns).
names        exactly as statsmodels/patsy name coefficients: ``Intercept``, ``a[T.level]``;
             cell means of ``y ~ a:b`` are named ``a[x]:b[p]`` (as patsy names ``y ~ 0 + a:b``),
             ordered with the first factor varying fastest.
R²           in sample, ``1 - SS_res / SS_tot``, identical to :func:`sklearn.metrics.r2_score`
             (1.0 for a constant ``y`` fitted exactly, 0.0 for a constant ``y`` fitted inexactly).

Rank deficiency
---------------
A level that is aliased with others (for example ``a + b`` where a level of ``b`` occurs only
together with one level of ``a`` and that is its only level) makes ``X'X`` singular.  Then the
coefficients are the *minimum-norm* least-squares solution (``(X'X)^+ X'y``, which equals
``pinv(X) @ y``, the solution statsmodels' default ``pinv`` method aims at), ``rank`` is below
``n_params``, and the fitted values, residuals and R² are still the unique projection.  The rank is
decided by :class:`seqbench.stats.linalg.NormalSolver`, shared with :mod:`seqbench.stats.glm`:
eigenvalues of the Jacobi-scaled ``X'X`` above ``10 * p * eps`` times the largest (an
eigendecomposition is only computed when Cholesky fails or its condition estimate is in doubt).  An empty
level cannot occur, because levels are taken from the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seqbench.stats.linalg import NormalSolver

__all__ = ["IndicatorOLSResult", "factor_codes", "fit_cell_means", "fit_indicator_ols", "r2_score"]


@dataclass(frozen=True)
class IndicatorOLSResult:
    """A fitted categorical OLS model.

    Attributes
    ----------
    formula:
        The model in statsmodels notation, for example ``"y ~ promoter_id + enhancer_id"``.
    params:
        ``[n_params]`` coefficients, indexed by statsmodels/patsy names (see the module docstring).
    terms, levels:
        ``[n_params]`` object arrays: the factor (``"Intercept"`` for the intercept; ``"a:b"`` for a
        cell mean) and the level (``""`` for the intercept; ``"x:p"`` joined with ``":"`` for a
        cell) of each coefficient, so callers need not parse ``params.index``.
    fitted, residuals:
        float64 ``[n]`` in the row order of the input; ``residuals = y - fitted``.
    r2:
        In-sample R², equal to ``sklearn.metrics.r2_score(y, fitted)``.
    n:
        Number of rows.
    n_params:
        Number of free coefficients (intercept + non-reference levels; or number of observed cells).
    rank:
        Numerical rank of the design; below ``n_params`` when levels are aliased.
    """

    formula: str
    params: pd.Series
    terms: np.ndarray
    levels: np.ndarray
    fitted: np.ndarray = field(repr=False)
    residuals: np.ndarray = field(repr=False)
    r2: float
    n: int
    n_params: int
    rank: int


def r2_score(y: np.ndarray, fitted: np.ndarray) -> float:
    """In-sample R² with :func:`sklearn.metrics.r2_score` semantics (``force_finite=True``)."""
    y = np.asarray(y, dtype=np.float64)
    ss_res = float(np.sum((y - np.asarray(fitted, dtype=np.float64)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2)) if y.size else 0.0
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def factor_codes(column: pd.Series, *, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes ``[n]`` (int64, ``0..L-1``) and observed levels ``[L]`` of a factor column.

    Levels are sorted unless the column is categorical (then category order, unused ones dropped).
    ``name`` is used in the error message; it defaults to ``column.name``.
    """
    label = name if name is not None else column.name
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.int64)
        categories = np.asarray(column.cat.categories, dtype=object)
        if codes.size and codes.min() < 0:
            raise ValueError(f"factor {label!r}: {int((codes < 0).sum())} missing value(s); every row needs a level")
        used = np.bincount(codes, minlength=categories.size) > 0
        if not used.all():
            remap = np.cumsum(used) - 1
            codes = remap[codes]
            categories = categories[used]
        return codes, categories
    codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size and codes.min() < 0:
        raise ValueError(f"factor {label!r}: {int((codes < 0).sum())} missing value(s); every row needs a level")
    return codes, np.asarray(uniques, dtype=object)


def _response(data: pd.DataFrame, y: str) -> np.ndarray:
    if y not in data.columns:
        raise ValueError(f"response column {y!r} is missing; columns are {list(data.columns)}")
    values = data[y].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"response {y!r}: {int(bad.sum())} non-finite value(s) (first at row {first}, 0-based)"
            "; drop or impute them before fitting"
        )
    return values


def _check_factors(data: pd.DataFrame, factors: Sequence[str]) -> list[str]:
    factors = list(factors)
    if not factors:
        raise ValueError("factors: at least one factor is needed")
    if len(set(factors)) != len(factors):
        raise ValueError(f"factors: each factor may appear once, got {factors}")
    missing = [f for f in factors if f not in data.columns]
    if missing:
        raise ValueError(f"factor column {missing[0]!r} is missing; columns are {list(data.columns)}")
    return factors


def _solve_normal_equations(xtx: np.ndarray, xty: np.ndarray, y_mean: float) -> tuple[np.ndarray, int]:
    """Solve ``X'X b = X'y`` for a design whose column 0 is the intercept.

    ``xty`` is ``X'(y - y_mean)``.  The rank-revealing :class:`~seqbench.stats.linalg.NormalSolver`
    decides the rank.  Full rank: its (Jacobi-scaled Cholesky) solution for the centred ``y``, then
    ``y_mean`` is added to the intercept.  Rank deficient: the minimum-norm solution for the
    *uncentred* ``y`` (centring would change which solution has minimum norm when the intercept
    itself is aliased).  Returns the coefficients ``[p]`` and the numerical rank.
    """
    solver = NormalSolver(xtx)
    if not solver.rank_deficient:
        beta = solver.solve(xty)
        beta[0] += y_mean
        return beta, solver.rank
    # X'y = X'(y - mean) + mean * X'1, and X'1 is the intercept column of X'X.
    return solver.solve(xty + y_mean * xtx[:, 0]), solver.rank


def _format_formula(y: str, factors: Sequence[str], sep: str) -> str:
    return f"{y} ~ {sep.join(factors)}"


def _prepare(
    data: pd.DataFrame, y: str, factors: Sequence[str]
) -> tuple[list[str], np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Checked factor names, the response and each factor's (codes, levels); refuses empty data."""
    factors = _check_factors(data, factors)
    yv = _response(data, y)
    if yv.size == 0:
        raise ValueError("data has no rows; nothing to fit")
    return factors, yv, [factor_codes(data[f], name=f) for f in factors]


def fit_indicator_ols(data: pd.DataFrame, y: str, factors: Sequence[str]) -> IndicatorOLSResult:
    """Fit ``y ~ f1 + f2 + ...`` (intercept, treatment coding) from counts and group sums.

    Parameters
    ----------
    data:
        One row per observation; must hold ``y`` and every factor column.
    y:
        Name of the float response column (finite values only).
    factors:
        Factor column names, in formula order; the coefficient order is ``Intercept`` followed by
        the non-reference levels of each factor in this order (as patsy orders them).

    Returns
    -------
    IndicatorOLSResult
        ``n_params = 1 + sum(L_j - 1)``.  Cost is ``O(n * k + p**3)`` for ``k`` factors and ``p``
        columns; memory is ``O(n + p**2)``.
    """
    factors, yv, coded = _prepare(data, y, factors)
    n = yv.size
    sizes = [lev.size for _, lev in coded]
    # Full column layout (reference levels included); reference columns are dropped below.
    offsets = np.concatenate([[1], 1 + np.cumsum(sizes)[:-1]]).astype(np.int64)
    total = 1 + int(np.sum(sizes))
    y_mean = float(yv.mean())
    yc = yv - y_mean  # centring only moves the intercept; it keeps X'y small and accurate

    xtx = np.zeros((total, total), dtype=np.float64)
    xty = np.zeros(total, dtype=np.float64)
    xtx[0, 0] = n
    xty[0] = yc.sum()
    counts = []
    for (codes, _), size, off in zip(coded, sizes, offsets, strict=True):
        cnt = np.bincount(codes, minlength=size).astype(np.float64)
        counts.append(cnt)
        sl = slice(off, off + size)
        xtx[0, sl] = cnt
        xtx[sl, 0] = cnt
        xtx[sl, sl] = np.diag(cnt)
        xty[sl] = np.bincount(codes, weights=yc, minlength=size)
    for i in range(len(factors)):
        for j in range(i + 1, len(factors)):
            ci, cj = coded[i][0], coded[j][0]
            cross = np.bincount(ci * sizes[j] + cj, minlength=sizes[i] * sizes[j]).astype(np.float64)
            cross = cross.reshape(sizes[i], sizes[j])
            si = slice(offsets[i], offsets[i] + sizes[i])
            sj = slice(offsets[j], offsets[j] + sizes[j])
            xtx[si, sj] = cross
            xtx[sj, si] = cross.T

    keep = np.ones(total, dtype=bool)
    keep[offsets] = False  # reference level of each factor
    idx = np.flatnonzero(keep)
    beta, rank = _solve_normal_equations(xtx[np.ix_(idx, idx)], xty[idx], y_mean)

    full = np.zeros(total, dtype=np.float64)
    full[idx] = beta
    fitted = np.full(n, full[0])
    for (codes, _), size, off in zip(coded, sizes, offsets, strict=True):
        fitted += full[off : off + size][codes]
    residuals = yv - fitted

    names = ["Intercept"]
    terms = ["Intercept"]
    lev_out = [""]
    for f, (_, levels) in zip(factors, coded, strict=True):
        for lev in levels[1:]:
            names.append(f"{f}[T.{lev}]")
            terms.append(f)
            lev_out.append(str(lev))
    return IndicatorOLSResult(
        formula=_format_formula(y, factors, " + "),
        params=pd.Series(beta, index=pd.Index(names, dtype=object), name="estimate"),
        terms=np.asarray(terms, dtype=object),
        levels=np.asarray(lev_out, dtype=object),
        fitted=fitted,
        residuals=residuals,
        r2=r2_score(yv, fitted),
        n=n,
        n_params=int(idx.size),
        rank=rank,
    )


def fit_cell_means(data: pd.DataFrame, y: str, factors: Sequence[str]) -> IndicatorOLSResult:
    """Fit the cell-means model of an interaction, ``y ~ a:b[:c...]``: fitted = mean of the cell.

    Every observed combination of levels is one cell; ``params`` are the cell means (named like
    patsy's ``y ~ 0 + a:b``, first factor varying fastest, observed cells only) and
    ``n_params`` is the number of observed cells.  R² equals ``1 - SS_within / SS_total``.
    """
    factors, yv, coded = _prepare(data, y, factors)
    n = yv.size
    sizes = tuple(lev.size for _, lev in coded)
    if float(np.prod(np.asarray(sizes, dtype=np.float64))) >= 2.0**62:
        raise ValueError(f"factors {factors}: too many level combinations ({sizes}) to index")
    # ravel with the first factor varying fastest, so sorted cell ids follow patsy's column order
    combined = np.ravel_multi_index([c for c, _ in coded][::-1], sizes[::-1])
    cells, inverse = np.unique(combined, return_inverse=True)
    cnt = np.bincount(inverse).astype(np.float64)
    means = np.bincount(inverse, weights=yv) / cnt
    fitted = means[inverse]
    cell_levels = np.unravel_index(cells, sizes[::-1])[::-1]
    names = []
    lev_out = []
    for k in range(cells.size):
        parts = [str(coded[j][1][cell_levels[j][k]]) for j in range(len(factors))]
        names.append(":".join(f"{f}[{p}]" for f, p in zip(factors, parts, strict=True)))
        lev_out.append(":".join(parts))
    term = ":".join(factors)
    return IndicatorOLSResult(
        formula=_format_formula(y, factors, ":"),
        params=pd.Series(means, index=pd.Index(names, dtype=object), name="estimate"),
        terms=np.full(cells.size, term, dtype=object),
        levels=np.asarray(lev_out, dtype=object),
        fitted=fitted,
        residuals=yv - fitted,
        r2=r2_score(yv, fitted),
        n=n,
        n_params=int(cells.size),
        rank=int(cells.size),
    )
