"""Small statistics shared by the experiments: BH FDR and the one correlation helper.

Pure NumPy/SciPy; no pandas needed.  NaN handling is explicit and documented per function.

Correlations (:func:`correlate`, :func:`pearson_log`) follow one rule, used by every experiment:
a coefficient is computed on the pairs where both values are finite, and only when there are at
least :data:`MIN_PAIRS` (3) of them and both sides vary (``max > min``); otherwise it is NaN, and
so is its p-value.  With two pairs r is always +-1 and says nothing, hence 3.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_PAIRS", "Correlation", "correlate", "fdr_bh", "pearson_log"]

#: fewest finite pairs a correlation is computed on (fewer: NaN); see the module docstring
MIN_PAIRS = 3


def fdr_bh(pvalues, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg FDR: ``(rejected, qvalues)`` in the order of ``pvalues``.

    Same definition as ``statsmodels.stats.multitest.fdrcorrection(p, alpha, method="indep")``:
    ``q_(i) = min_{j >= i} min(1, p_(j) m / j)`` over the sorted p-values ``p_(1) <= ... <= p_(m)``,
    and a test is rejected when ``q <= alpha``.  NaN p-values are left out of ``m`` and get
    ``q = NaN`` and ``rejected = False`` (statsmodels would propagate NaN through the whole
    correction; here one untestable group does not spoil the others).

    Parameters
    ----------
    pvalues:
        1-D array-like of p-values in ``[0, 1]`` (NaN allowed).
    alpha:
        family-wise false-discovery rate, ``0 < alpha < 1``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"fdr_bh: pvalues must be 1-D, got shape {p.shape}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"fdr_bh: alpha must be in (0, 1), got {alpha}")
    ok = np.isfinite(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        bad = float(p[ok][(p[ok] < 0) | (p[ok] > 1)][0])
        raise ValueError(f"fdr_bh: p-value {bad} is outside [0, 1]")
    q = np.full(p.shape, np.nan)
    rejected = np.zeros(p.shape, dtype=bool)
    m = int(ok.sum())
    if m == 0:
        return rejected, q
    sub = p[ok]
    order = np.argsort(sub, kind="mergesort")
    ranked = sub[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q_sub = np.empty(m)
    q_sub[order] = np.minimum(ranked, 1.0)
    q[ok] = q_sub
    rejected[ok] = q_sub <= alpha
    return rejected, q


@dataclass(frozen=True)
class Correlation:
    """Pearson and Spearman correlation of one set, with two-sided p-values (SciPy's ``pearsonr`` and
    ``spearmanr``); NaN where fewer than :data:`MIN_PAIRS` pairs or a side without variance."""

    n: int
    pearson_r: float
    pearson_p: float
    spearman_r: float
    spearman_p: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "pearson_r": self.pearson_r,
            "pearson_p": self.pearson_p,
            "spearman_r": self.spearman_r,
            "spearman_p": self.spearman_p,
        }


def _defined(x: np.ndarray, y: np.ndarray) -> bool:
    return x.size >= MIN_PAIRS and np.ptp(x) > 0 and np.ptp(y) > 0


def _pearson_spearman(x: np.ndarray, y: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> Correlation:
    """Pearson of ``x, y`` and Spearman of ``xs, ys`` (the same pairs), under the module's rule."""
    from scipy import stats

    with warnings.catch_warnings():  # near-constant input: SciPy warns, the value stands
        warnings.simplefilter("ignore")
        if _defined(x, y):
            res = stats.pearsonr(x, y)
            pr, pp = float(res[0]), float(res[1])
        else:
            pr = pp = math.nan
        if _defined(xs, ys):
            res = stats.spearmanr(xs, ys)
            sr, sp = float(res[0]), float(res[1])
        else:
            sr = sp = math.nan
    return Correlation(int(x.size), pr, pp, sr, sp)


def correlate(x, y) -> Correlation:
    """Pearson and Spearman of ``x`` vs ``y`` on the pairs where both are finite (``n`` counts them).

    NaN (value and p-value) where fewer than :data:`MIN_PAIRS` pairs or a side without variance.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"correlate: x and y must be 1-D of the same length, got {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    return _pearson_spearman(x[ok], y[ok], x[ok], y[ok])


def pearson_log(pred, measured) -> Correlation:
    """The paper's promoter metric (experiments-spec §3.4, §13 B16).

    Pearson of ``log2(pred + 1)`` vs ``log2(measured)`` and Spearman of the raw ``pred`` vs
    ``measured`` (rank-invariant, so the same as on the logs).  ``pred`` is the model's linear
    readout averaged over the ensemble (>= 0); ``measured`` is linear expression (> 0).  Pairs
    with a non-finite value or ``measured <= 0`` (no log) are dropped; ``n`` counts those used.
    """
    pred = np.asarray(pred, dtype=np.float64)
    measured = np.asarray(measured, dtype=np.float64)
    if pred.shape != measured.shape or pred.ndim != 1:
        raise ValueError(
            f"pearson_log: pred and measured must be 1-D of the same length, got {pred.shape} and {measured.shape}"
        )
    ok = np.isfinite(pred) & np.isfinite(measured) & (measured > 0) & (pred > -1)
    p, m = pred[ok], measured[ok]
    return _pearson_spearman(np.log2(p + 1.0), np.log2(m), p, m)
