"""The shared rank-revealing normal-equation solver, against numpy's SVD-based lstsq / pinv / matrix_rank."""

from __future__ import annotations

import numpy as np
import pytest

from seqbench.stats.linalg import NormalSolver, default_rtol, solve_normal


def test_full_rank_is_the_plain_solution_on_the_fast_path():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 30)) * rng.uniform(0.01, 100.0, 30)  # columns of very different scales
    y = rng.normal(size=200)
    beta, rank, deficient = solve_normal(x.T @ x, x.T @ y)
    assert rank == 30 and not deficient
    np.testing.assert_allclose(beta, np.linalg.lstsq(x, y, rcond=None)[0], rtol=1e-10)
    solver = NormalSolver(x.T @ x)
    assert solver.method == "cholesky"
    np.testing.assert_allclose(solver.inverse_diagonal(), np.diag(np.linalg.inv(x.T @ x)), rtol=1e-10)


def test_exactly_singular_gives_rank_min_norm_solution_and_pinv_diagonal():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 3, size=(50, 6)).astype(np.float64)
    # two exact dependencies in integers (no round-off in X or X'X): c6 = c0 + c1, c7 = 2 c2 - c3
    x = np.column_stack([base, base[:, 0] + base[:, 1], 2 * base[:, 2] - base[:, 3]])
    y = rng.normal(size=50)
    xtx = x.T @ x
    solver = NormalSolver(xtx)
    assert solver.rank == np.linalg.matrix_rank(x) == 6 and solver.rank_deficient and solver.method == "eigh"
    beta = solver.solve(x.T @ y)
    np.testing.assert_allclose(beta, np.linalg.lstsq(x, y, rcond=None)[0], atol=1e-10)  # minimum norm
    np.testing.assert_allclose(solver.inverse_diagonal(), np.diag(np.linalg.pinv(xtx)), rtol=1e-8)


def test_rank_does_not_depend_on_column_units():
    rng = np.random.default_rng(2)
    base = rng.integers(0, 4, size=(40, 5)).astype(np.float64)
    x = np.column_stack([base, base[:, 0] - base[:, 4]])  # rank 5 of 6
    units = np.array([1e-6, 1.0, 1e3, 1.0, 1e6, 1e-3])
    for xs in (x, x * units):
        solver = NormalSolver(xs.T @ xs)
        assert solver.rank == 5 and solver.rank_deficient
        y = rng.normal(size=40)
        fitted = xs @ solver.solve(xs.T @ y)
        np.testing.assert_allclose(fitted, x @ np.linalg.lstsq(x, y, rcond=None)[0], atol=1e-8)


def test_ill_conditioned_full_rank_is_checked_by_eigh_and_kept_full_rank():
    """Condition ~1e10: the condition estimate sends it to the eigendecomposition, which keeps rank p
    (the tolerance is ``10 p eps`` ~ 7e-14 here) and the Cholesky solution is used."""
    rng = np.random.default_rng(3)
    p = 30
    q = np.linalg.qr(rng.normal(size=(p, p)))[0]
    a = (q * np.logspace(0, -10, p)) @ q.T
    a = (a + a.T) / 2
    b = rng.normal(size=p)
    solver = NormalSolver(a)
    assert solver.method == "cholesky+eigh" and solver.rank == p and not solver.rank_deficient
    assert solver.rtol == default_rtol(p) == pytest.approx(10 * p * np.finfo(float).eps)
    x = solver.solve(b)
    assert np.linalg.norm(a @ x - b) <= 1e-12 * np.linalg.norm(x)  # backward stable, as Cholesky is


def test_tolerance_is_a_parameter_and_checked():
    a = np.array([[1.0, 1.0 - 1e-7], [1.0 - 1e-7, 1.0]])  # eigenvalues 2 and 1e-7 (diagonal is already 1)
    assert NormalSolver(a).rank == 2
    assert NormalSolver(a, rtol=1e-6).rank == 1
    with pytest.raises(ValueError, match="rtol"):
        NormalSolver(a, rtol=1.5)
    with pytest.raises(ValueError, match="square"):
        NormalSolver(np.ones((2, 3)))
