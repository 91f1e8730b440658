"""One rank-revealing solver for normal equations ``X'WX b = X'Wy``, shared by the GLM and OLS fits.

The matrices are small and dense (``p x p``, ``p`` up to about 2,000), symmetric positive
semi-definite, and built from indicator designs, where an exactly singular ``X'X`` is common
(promoters and enhancers in disconnected blocks, aliased levels).  A plain Cholesky factorisation
does *not* reliably say so: round-off usually leaves a tiny positive pivot (``~1e-8`` after scaling)
instead of a zero, the factorisation succeeds, and the singular system is silently "solved".

Rank
----
The matrix ``A`` is first Jacobi-scaled, ``S = D A D`` with ``D = diag(1 / sqrt(diag(A)))`` (a zero
diagonal entry keeps scale 1), so the criterion does not depend on the units of the columns.  The
**numerical rank** is the number of eigenvalues of ``S`` above ``rtol * lambda_max(S)``; the default
``rtol`` is ``10 * p * eps`` (``eps`` = 2.2e-16; 4.4e-12 at ``p = 2,000``), the tolerance
:func:`seqbench.stats.indicator_ols` used before, an order of magnitude above the round-off an
eigen-solver and the assembly of ``A`` leave in an exact null space and far below the smallest
eigenvalue of any connected indicator design (``~1e-4`` to ``1e-3`` for 1,000 x 1,000 levels).

Cost
----
Computing all eigenvalues every time would be 4-10x the price of a Cholesky factorisation (measured
at ``p = 2,000`` on 2 threads: Cholesky 0.1 s, ``eigvalsh`` 0.4 s, ``eigh`` 1.0 s), and an IRLS fit
solves one system per iteration.  So the work is done in two stages:

1. *Fast path*: Cholesky of ``S`` and LAPACK's 1-norm reciprocal-condition estimate ``rcond``
   (``dpocon``, ``O(p**2)``).  If Cholesky succeeds and ``rcond > gate`` with
   ``gate = max(1e-8, 1e3 * rtol)``, then ``lambda_min / lambda_max >= rcond_1 / f`` is far above
   ``rtol`` (``f``, the estimator's underestimation of ``||S^-1||_1``, is in practice below 10; the
   gate leaves a factor of 1,000), so ``S`` has full rank by the criterion above and the
   Cholesky solution (one step of iterative refinement) is returned -- the same arithmetic as
   before this module existed, bit for bit.
2. *Otherwise* (Cholesky fails, or ``rcond <= gate``): ``scipy.linalg.eigh(S)`` decides the rank.
   Full rank (an ill-conditioned but regular matrix) is still solved by the Cholesky factor when
   there is one.  Rank deficient: the **minimum-norm** solution in the original coordinates,
   ``b = A^+ c`` (the Moore-Penrose inverse of ``A``, not of ``S``), which is what
   :func:`numpy.linalg.lstsq` and statsmodels' ``pinv`` return for the least-squares problem; the
   fitted values ``X b`` are the unique projection whichever solution is taken.

``A^+`` from the scaled eigendecomposition: ``M = D S^+ D`` is a reflexive generalised inverse of
``A``, and ``A^+ = P M P`` with ``P = I - N N'`` the orthogonal projector onto ``range(A)``, where the
columns of ``N`` are an orthonormal basis of ``null(A) = D null(S)``.

Pure NumPy/SciPy.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

__all__ = ["NormalSolver", "default_rtol", "solve_normal"]

_EPS = float(np.finfo(np.float64).eps)
#: fast-path threshold on the reciprocal 1-norm condition estimate (see the module docstring)
RCOND_GATE = 1e-8


def default_rtol(p: int) -> float:
    """``10 * p * eps``: eigenvalues of the scaled matrix at or below ``rtol * lambda_max`` count as zero."""
    return 10.0 * max(int(p), 1) * _EPS


class NormalSolver:
    """Rank-revealing factorisation of a symmetric positive semi-definite ``[p, p]`` matrix.

    Parameters
    ----------
    xtx:
        ``X'X`` or ``X'WX``, float64 ``[p, p]``, symmetric (only this is assumed; it is not checked).
    rtol:
        Relative eigenvalue tolerance of the scaled matrix; ``None`` means :func:`default_rtol`.

    Attributes
    ----------
    p, rank, rank_deficient, rtol:
        Size, numerical rank, ``rank < p`` and the tolerance used.
    method:
        ``"cholesky"`` (fast path), ``"cholesky+eigh"`` (the eigendecomposition confirmed full rank;
        solved by Cholesky) or ``"eigh"`` (solved by the pseudo-inverse).
    rcond:
        LAPACK's reciprocal 1-norm condition estimate of the scaled matrix (0.0 when Cholesky failed).
    """

    def __init__(self, xtx: np.ndarray, *, rtol: float | None = None) -> None:
        a = np.asarray(xtx, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"normal matrix must be square, got shape {a.shape}")
        p = a.shape[0]
        self.p = p
        self.rtol = default_rtol(p) if rtol is None else float(rtol)
        if not (0.0 <= self.rtol < 1.0):
            raise ValueError(f"rtol must be in [0, 1), got {self.rtol}")
        diag = np.diag(a).copy()
        self.scale = 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0))
        self.scaled = a * self.scale[:, None] * self.scale[None, :]
        self.factor = None
        self.rcond = 0.0
        self._vr = self._lr = self._null = None
        if p == 0:
            self.rank, self.method = 0, "cholesky"
            return
        try:
            self.factor = linalg.cho_factor(self.scaled, lower=False, check_finite=False)
        except linalg.LinAlgError:
            self.factor = None
        if self.factor is not None:
            anorm = float(np.abs(self.scaled).sum(axis=0).max())
            rcond, info = lapack.dpocon(self.factor[0], anorm, uplo="U")
            self.rcond = float(rcond) if info == 0 and np.isfinite(rcond) else 0.0
            if self.rcond > max(RCOND_GATE, 1e3 * self.rtol):
                self.rank, self.method = p, "cholesky"
                return
        lam, vec = linalg.eigh(self.scaled, check_finite=False)
        cut = self.rtol * max(float(lam[-1]), 0.0)
        keep = lam > cut
        self.rank = int(keep.sum())
        if self.rank == p and self.factor is not None:
            self.method = "cholesky+eigh"
            return
        self.method = "eigh"
        self.factor = None
        self._vr = vec[:, keep]
        self._lr = lam[keep]
        if self.rank < p:
            # null(A) = D null(S); an orthonormal basis of it for the projector onto range(A)
            self._null = np.linalg.qr(self.scale[:, None] * vec[:, ~keep], mode="reduced")[0]

    @property
    def rank_deficient(self) -> bool:
        return self.rank < self.p

    def _project(self, v: np.ndarray) -> np.ndarray:
        """``P v``: ``v`` without its component in ``null(A)`` (unchanged at full rank)."""
        if self._null is None:
            return v
        return v - self._null @ (self._null.T @ v)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``A^-1 rhs`` at full rank, else the minimum-norm ``A^+ rhs``; ``rhs`` is ``[p]``."""
        rhs = np.asarray(rhs, dtype=np.float64)
        r = rhs * self.scale
        if self.factor is not None:
            z = linalg.cho_solve(self.factor, r, check_finite=False)
            z += linalg.cho_solve(self.factor, r - self.scaled @ z, check_finite=False)  # one refinement step
            return z * self.scale
        if self.p == 0:
            return np.zeros(0)
        r = self._project(rhs) * self.scale
        z = self._vr @ ((self._vr.T @ r) / self._lr)
        return self._project(z * self.scale)

    def inverse_diagonal(self) -> np.ndarray:
        """``diag(A^-1)``, or ``diag(A^+)`` (Moore-Penrose) when rank deficient; ``[p]``."""
        if self.factor is not None:
            return np.diag(linalg.cho_solve(self.factor, np.eye(self.p), check_finite=False)) * self.scale**2
        if self.p == 0:
            return np.zeros(0)
        left = self.scale[:, None] * self._vr
        m = (left / self._lr) @ left.T  # D S^+ D
        if self._null is not None:
            m = self._project(m)
            m = self._project(m.T).T
        return np.diag(m).copy()


def solve_normal(xtx: np.ndarray, xty: np.ndarray, *, rtol: float | None = None) -> tuple[np.ndarray, int, bool]:
    """Solve ``X'X b = X'y`` revealing the rank: ``(b [p], rank, rank_deficient)``.

    ``b`` is the unique solution at full rank and the minimum-norm one otherwise; ``rtol`` as in
    :class:`NormalSolver` (default ``10 * p * eps`` relative to the largest eigenvalue of the
    Jacobi-scaled matrix).
    """
    solver = NormalSolver(xtx, rtol=rtol)
    return solver.solve(xty), solver.rank, solver.rank_deficient
