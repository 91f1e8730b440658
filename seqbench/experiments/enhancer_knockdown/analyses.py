"""Enformer-ABC and basal expression, the two analyses beside the knock-down (experiments-spec §6.3,
§12.3, §12.4), as pure functions.

Enformer-ABC (the authors' ``avsec_enhancercentered``)
------------------------------------------------------
Per unique assayed element, the model's reference window centred on the element midpoint is read
at the midpoint (the job's ``ensemble.bin_window`` around its bin, mean over members in natural
scale, per track).  ``dnase`` = the mean over the K562 DNase tracks, ``h3k27ac`` = the mean over the
H3K27ac tracks (any cell type); ``activity = sqrt(h3k27ac * dnase)`` (marks ``h3k27ac_dnase``, the
paper) or ``dnase`` (marks ``dnase``, for a model without H3K27ac tracks such as the planted one).
Per pair ``enformer_abc = activity / distance`` (bp).

AUPRC of ``validated`` on pairs with d > 1 kb, per dataset and combined, for the predictors
:data:`ABC_PREDICTORS`: ``delta`` = ``|shuffle - reference|`` (natural scale; the authors'
``|2**(ref-1) - 2**(alt-1)|`` is half of it, §13 B9: rank-preserving, so the AUPRC is the same;
seqbench uses the whole change and keeps the authors' value as ``delta_authors``), the table's ABC
score, ``|log2 FC|``, ``|predicted %|`` and ``enformer_abc``.  The confidence interval is the
authors' bootstrap: ``n`` resamples of the pairs with replacement (the same rows for every
predictor; raw PCG64 output seeded from the job seed, :class:`seqbench.sequence.shuffles.RawStream`),
sorted, elements ``floor((n + 1) * 0.025)`` and ``ceil((n + 1) * 0.975)`` (0-based, at most ``n - 1``):
for the paper's 99 resamples elements 2 and 98.  A resample with one class only has no AUPRC and is
left out (counted in ``n_bootstrap_defined``).

Basal expression (the authors' ``ful_gas_localeffects``)
--------------------------------------------------------
Every unique promoter (TSS-bin centre +- 1 kb) and 2-kb enhancer inserted alone, N-padded and at
the AAVS1 landing pad, read at the element midpoint.  A pair's ``promoter_strength`` is its
promoter's AAVS1 readout.  OLS (statsmodels)::

    log10(|predicted %| + 0.001) ~ log10(distance) + log10(promoter_strength + 1) + validated

on pairs with 999 < d < 100,000 bp (and the same for the measured %, for comparison).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from seqbench.sequence.shuffles import RawStream, derive_seed

#: Enformer-ABC comparison: predictor name -> column of the effects table
ABC_PREDICTORS: dict[str, str] = {
    "delta": "abs_delta",
    "abc": "abc_score",
    "abs_log2fc": "abs_log2_fc_pred",
    "abs_percent": "predicted_percent",
    "enformer_abc": "enformer_abc",
}
ABC_MIN_DISTANCE = 1000  # bp: Enformer-ABC AUPRC on pairs with d > this
BASAL_DISTANCE = (999, 100_000)  # bp, open interval of the basal-expression OLS
PCT_PSEUDO = 0.001  # the authors' log10(|pct| + 0.001)
BASAL_TERMS = ("intercept", "log10_distance", "log10_promoter", "validated")


# ------------------------------------------------------------------------------------- Enformer-ABC


def element_activity(elements: pd.DataFrame, marks: str) -> pd.DataFrame:
    """``activity`` per element from its ``dnase`` and ``h3k27ac`` means (see the module docstring)."""
    out = elements.copy()
    if marks == "h3k27ac_dnase":
        out["activity"] = np.sqrt(out["h3k27ac"].to_numpy(float) * out["dnase"].to_numpy(float))
    elif marks == "dnase":
        out["activity"] = out["dnase"].to_numpy(float)
    else:
        raise ValueError(f"enformer_abc_marks {marks!r}: expected 'h3k27ac_dnase' or 'dnase'")
    return out


def add_enformer_abc(effects: pd.DataFrame, elements: pd.DataFrame) -> pd.DataFrame:
    """``effects`` with ``enh_dnase, enh_h3k27ac, enh_activity, enformer_abc`` (activity / distance, NaN at
    d = 0) joined on the assayed element ``chrom, enhancer_start, enhancer_end``, and ``delta_authors``."""
    key = ["chrom", "enhancer_start", "enhancer_end"]
    e = elements.set_index(key)[["dnase", "h3k27ac", "activity"]]
    idx = pd.MultiIndex.from_frame(effects[key])
    out = effects.copy()
    for col in ("dnase", "h3k27ac", "activity"):
        out[f"enh_{col}"] = e[col].reindex(idx).to_numpy(dtype=np.float64)
    d = out["distance"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["enformer_abc"] = np.where(d > 0, out["enh_activity"].to_numpy(float) / d, np.nan)
    out["delta_authors"] = np.abs(2.0 ** (out["log2_ref"] - 1.0) - 2.0 ** (out["log2_alt"] - 1.0))
    return out


def ci_indices(n: int) -> tuple[int, int]:
    """0-based indices of the CI bounds among ``n`` sorted resamples (99 -> 2, 98; see the module docstring)."""
    lo = int(math.floor((n + 1) * 0.025))
    hi = min(int(math.ceil((n + 1) * 0.975)), n - 1)
    return min(lo, n - 1), hi


def bootstrap_auprc(labels: np.ndarray, scores: dict[str, np.ndarray], n: int, seed: int) -> pd.DataFrame:
    """Per score: AUPRC, and its bootstrap CI on ``n`` resamples of the rows (the same rows for every
    score); rows with a NaN score are dropped per score.  Columns ``predictor, n, n_validated, auprc,
    ci_low, ci_high, n_bootstrap_defined``."""
    y = np.asarray(labels, dtype=bool)
    m = y.size
    rows = []
    idx = np.empty((0, m), dtype=np.int64)
    if m:
        u = (RawStream(seed).words(n * m) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        idx = np.minimum((u * m).astype(np.int64), m - 1).reshape(n, m)
    for name, s in scores.items():
        s = np.asarray(s, dtype=np.float64)
        ok = ~np.isnan(s)
        row: dict[str, Any] = {"predictor": name, "n": int(ok.sum()), "n_validated": int(y[ok].sum())}
        row["auprc"] = _ap(y[ok], s[ok])
        boots = []
        for r in idx:
            r = r[ok[r]]
            boots.append(_ap(y[r], s[r]))
        b = np.sort(np.asarray([v for v in boots if not math.isnan(v)]))
        row["n_bootstrap_defined"] = int(b.size)
        if b.size:
            lo, hi = ci_indices(b.size)
            row["ci_low"], row["ci_high"] = float(b[lo]), float(b[hi])
        else:
            row["ci_low"] = row["ci_high"] = math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["predictor", "n", "n_validated", "auprc", "ci_low", "ci_high",
                                       "n_bootstrap_defined"])


def _ap(y: np.ndarray, s: np.ndarray) -> float:
    if y.size == 0 or y.all() or not y.any():
        return math.nan
    return float(average_precision_score(y, s))


def enformer_abc_auprc(effects: pd.DataFrame, n_bootstrap: int, job_seed: int) -> pd.DataFrame:
    """AUPRC with bootstrap CI of every :data:`ABC_PREDICTORS` on pairs with d > 1 kb, per dataset
    (fulco2019, gasperini2019, combined); resamples seeded by ``derive_seed(job_seed, "enformer_abc|<dataset>")``."""
    frames = []
    sets = [(ds, effects[effects["dataset"] == ds]) for ds in ("fulco2019", "gasperini2019")]
    for ds, f in [*[(d, f) for d, f in sets if len(f)], ("combined", effects)]:
        f = f[f["distance"] > ABC_MIN_DISTANCE]
        scores = {name: f[col].to_numpy(dtype=np.float64) for name, col in ABC_PREDICTORS.items()}
        seed = derive_seed(job_seed, f"enformer_abc|{ds}")
        t = bootstrap_auprc(f["validated"].to_numpy(bool), scores, n_bootstrap, seed)
        t.insert(0, "dataset", ds)
        t["random_baseline"] = float(f["validated"].mean()) if len(f) else math.nan
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------- basal expression


def add_promoter_strength(effects: pd.DataFrame, elements: pd.DataFrame, half_width: int) -> pd.DataFrame:
    """``effects`` with ``promoter_strength`` (the AAVS1 readout of the pair's promoter element
    ``[tss - half_width, tss + half_width)``) and ``promoter_npad`` (its N-padded readout)."""
    prom = elements[elements["kind"] == "promoter"].set_index(["chrom", "start"])
    idx = pd.MultiIndex.from_arrays([effects["chrom"], effects["tss"] - half_width])
    out = effects.copy()
    out["promoter_strength"] = prom["pred_aavs1"].reindex(idx).to_numpy(dtype=np.float64)
    out["promoter_npad"] = prom["pred_npad"].reindex(idx).to_numpy(dtype=np.float64)
    return out


def basal_ols(effects: pd.DataFrame, response: str = "predicted_percent") -> dict[str, Any]:
    """OLS ``log10(|response| + 0.001) ~ log10(d) + log10(promoter_strength + 1) + validated`` on
    999 < d < 100 kb (statsmodels); ``validated`` is dropped when constant in the subset (noted).

    Returns ``response, n, r2`` and per term of :data:`BASAL_TERMS` its coefficient, standard error and
    p-value (``coef_<term>``, ``se_<term>``, ``p_<term>``; NaN for a dropped term), and ``note``."""
    import statsmodels.api as sm

    lo, hi = BASAL_DISTANCE
    f = effects[(effects["distance"] > lo) & (effects["distance"] < hi)]
    f = f[np.isfinite(f[response].to_numpy(float)) & np.isfinite(f["promoter_strength"].to_numpy(float))]
    out: dict[str, Any] = {"response": response, "n": int(len(f)), "r2": math.nan, "note": ""}
    for t in BASAL_TERMS:
        out[f"coef_{t}"] = out[f"se_{t}"] = out[f"p_{t}"] = math.nan
    x = pd.DataFrame(
        {
            "intercept": 1.0,
            "log10_distance": np.log10(f["distance"].to_numpy(float)),
            "log10_promoter": np.log10(f["promoter_strength"].to_numpy(float) + 1.0),
            "validated": f["validated"].to_numpy(float),
        }
    )
    if x["validated"].nunique() < 2:
        x = x.drop(columns="validated")
        out["note"] = "validated is constant among these pairs: left out of the fit"
    if len(f) <= x.shape[1]:
        out["note"] = f"{len(f)} pairs for {x.shape[1]} terms: no fit"
        return out
    y = np.log10(np.abs(f[response].to_numpy(float)) + PCT_PSEUDO)
    fit = sm.OLS(y, x.to_numpy()).fit()
    out["r2"] = float(fit.rsquared)
    for j, t in enumerate(x.columns):
        out[f"coef_{t}"], out[f"se_{t}"], out[f"p_{t}"] = float(fit.params[j]), float(fit.bse[j]), float(fit.pvalues[j])
    return out


@dataclass
class LocalAnalyses:
    """The results of the two analyses (empty frames when off; ``notes`` say why)."""

    abc_elements: pd.DataFrame = field(default_factory=pd.DataFrame)
    abc_auprc: pd.DataFrame = field(default_factory=pd.DataFrame)
    abc_marks: str = ""
    abc_tracks: dict[str, int] = field(default_factory=dict)
    abc_bins: int = 0
    n_bootstrap: int = 0
    basal_elements: pd.DataFrame = field(default_factory=pd.DataFrame)
    basal_fits: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
