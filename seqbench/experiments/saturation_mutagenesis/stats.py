"""Statistics of the saturation-mutagenesis experiment (experiments-spec §4.4; paper Fig. 4D-E, S6-S7).

Input
-----
``effects``  :class:`pandas.DataFrame`, one row per (assay, variant), as built by
:func:`seqbench.experiments.saturation_mutagenesis.design.variant_effects`:

==========  =======  ============================================================================
column      dtype    meaning
==========  =======  ============================================================================
assay       str      ``"cage"`` or ``"dnase"``
locus       str      CAGI5 locus (F9, LDLR, ...)
pos         int      variant position, 0-based
ref, alt    str      alleles
log2FC      float    measured effect (log2 fold change alt vs ref)
ref_pred    float    predicted reference signal: 5-bin landmark sum, mean over members, mean over
                     the locus' matched tracks (natural scale)
alt_pred    float    the same for the alternative allele
delta       float    predicted effect ``log2(alt_pred + 1) - log2(ref_pred + 1)``
                     (aggregate then log: members averaged in natural scale, then the log)
delta_log_  float    optional: the same effect with the log taken per member first,
then_                ``mean_m log2(alt_m + 1) - mean_m log2(ref_m + 1)`` (log then aggregate;
aggregate            NaN or absent: the comparison is left out)
==========  =======  ============================================================================

Other columns are carried into the variant table unchanged.

Conventions (the authors', §4.4 and §13 B16)
--------------------------------------------
Pearson r on ``delta`` (log2 with pseudocount 1) vs ``log2FC``; Spearman on the same columns.
"Average over loci" is the **mean of |r|** over loci (the absolute value is the authors'), "median
locus" the median of r.  A correlation needs at least 3 variants and both columns non-constant,
else it is NaN (a locus where the model predicts no effect at all has no correlation).  The
calibration slope of a locus is the OLS slope of ``log2FC`` on ``delta`` (measured units per
predicted unit): equal slopes across loci mean a calibrated model (Fig. 4E, S6-S7).

Extras (§4.4): per locus, ``delta`` is winsorised at 1 % / 1 % (:func:`winsorize`, scipy's
``mstats.winsorize`` rule: the lowest and highest ``floor(0.01 n)`` values are clipped to the next
value inward) and z-scored (population sd); ``log2FC`` is z-scored per locus without winsorising.
A locus with a constant column has no z-scores (NaN).  The variant table gains ``delta_z`` and
``log2FC_z``.  Stratification: a variant has a *predicted effect* when ``|delta| > pred_threshold``
(default :data:`PRED_THRESHOLD` = 0.5) and a *measured effect* when ``|log2FC| > obs_threshold``
(default :data:`OBS_THRESHOLD` = 1); precision = P(measured | predicted), recall = P(predicted |
measured), over all variants of all loci (sign ignored; NaN when no variant is predicted resp.
measured).  Across loci: Pearson r of the per-locus r with ``log10(ref_pred_median + 1)`` and with
the authors' replicate r (:data:`REPLICATE_R`, §14; only loci present there).

Two more extras (§4.4, ``EE.py:L9228-L9270`` and ``L9597-L9601``):

* **aggregate then log vs log then aggregate** (the authors' LDLR reproduction): Pearson r of
  ``delta`` and of ``delta_log_then_aggregate`` with ``log2FC`` in :data:`AGGREGATION_LOCUS`
  (LDLR); the per-locus table has both for every locus.  The members of a construct are the
  strand x shift ensemble; the matched tracks are averaged per member in natural scale either
  way, so only the order of "mean over members" and "log" differs.
* **OLS ``log2FC ~ delta``** over all variants of all loci (the authors fit it on DNASE;
  statsmodels' ``OLS.from_formula('log2FC ~ log2_pred')``): slope, intercept, the slope's
  standard error ``sqrt(RSS / (n - 2) / Sxx)`` and R^2, per assay (:func:`ols_fit`).  The paper's
  "a predicted log2 fold change of 0.65 corresponds roughly to a measured effect of 1" is a DNASE
  slope of about 1 / 0.65 = 1.5.

Summary keys (:meth:`SaturationResults.summary`), for ``<a>`` in ``cage``, ``dnase``
-----------------------------------------------------------------------------------
=============================  =====================================================================
key                            meaning
=============================  =====================================================================
<a>_pooled_pearson             Pearson r over all variants of all loci
<a>_pooled_spearman            Spearman rho over all variants of all loci
<a>_mean_abs_r                 mean over loci of |Pearson r| (loci with r defined)
<a>_median_r                   median over loci of Pearson r
<a>_calibration_r_a, _r_b      Pearson r of the two calibration loci (``calibration_locus_a/b``)
<a>_calibration_r_pooled       Pearson r of the two calibration loci pooled
<a>_calibration_slope_a, _b    OLS slope of log2FC on delta in each calibration locus
<a>_pooled_pearson_z           Pearson r over all variants of per-locus z-scored (winsorised) delta vs
                               per-locus z-scored log2FC
<a>_precision_strong           of variants with |delta| > pred_threshold, the fraction with
                               |log2FC| > obs_threshold (pooled over loci)
<a>_recall_strong              of variants with |log2FC| > obs_threshold, the fraction with
                               |delta| > pred_threshold
<a>_r_vs_ref_level             Pearson r across loci of per-locus r vs log10(median ref_pred + 1)
<a>_r_vs_replicate_r           Pearson r across loci of per-locus r vs the replicate r (REPLICATE_R)
<a>_ldlr_r_aggregate_then_log  Pearson r of delta vs log2FC in LDLR (= the per-locus r)
<a>_ldlr_r_log_then_aggregate  Pearson r of delta_log_then_aggregate vs log2FC in LDLR
<a>_ols_slope, _intercept      OLS of log2FC on delta over all variants (measured per predicted unit)
<a>_ols_slope_se, _r2          the slope's standard error and the fit's R^2
calibration_locus_a, _b        the calibration loci (default F9, LDLR)
n_loci, n_variants             loci and variants (per assay)
notes                          ``{key: why}`` for every key reported as ``None`` (empty when none is)
=============================  =====================================================================

Floats are Python floats; NaN is reported as ``None`` (JSON ``null``), and ``notes`` says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.report.tables import write_frames, write_json
from seqbench.stats.common import correlate

__all__ = [
    "ASSAYS",
    "OBS_THRESHOLD",
    "PRED_THRESHOLD",
    "REPLICATE_R",
    "SUMMARY_KEYS",
    "AGGREGATION_LOCUS",
    "SaturationResults",
    "correlations",
    "ols_fit",
    "ols_slope",
    "per_locus",
    "reduce_saturation",
    "strong_effects",
    "winsorize",
    "write_tables",
    "zscore_by_locus",
]

ASSAYS = ("cage", "dnase")
OBS, PRED = "log2FC", "delta"
#: the same effect with the log taken per ensemble member before the mean (log then aggregate)
PRED_LOG_FIRST = "delta_log_then_aggregate"
#: the locus of the authors' aggregate-then-log vs log-then-aggregate comparison (EE.py:L9228)
AGGREGATION_LOCUS = "LDLR"
_PER_ASSAY = (
    "pooled_pearson",
    "pooled_spearman",
    "mean_abs_r",
    "median_r",
    "calibration_r_a",
    "calibration_r_b",
    "calibration_r_pooled",
    "calibration_slope_a",
    "calibration_slope_b",
    "pooled_pearson_z",
    "precision_strong",
    "recall_strong",
    "r_vs_ref_level",
    "r_vs_replicate_r",
    "ldlr_r_aggregate_then_log",
    "ldlr_r_log_then_aggregate",
    "ols_slope",
    "ols_intercept",
    "ols_slope_se",
    "ols_r2",
)
#: winsorising limits of delta before per-locus z-scoring (lower, upper fraction; §4.4)
WINSOR_LIMITS = (0.01, 0.01)
#: |delta| above this is a "predicted effect" (§4.4 stratification)
PRED_THRESHOLD = 0.5
#: |log2FC| above this is a "measured effect" (§4.4 stratification)
OBS_THRESHOLD = 1.0
#: the authors' hard-coded replicate Pearson r per CAGI5 locus (``repro_df``, EE.py:L9111; spec §14)
REPLICATE_R: dict[str, float] = {
    "F9": 0.61,
    "GP1BB": 0.74,
    "HBB": 0.62,
    "HBG1": 0.78,
    "HNF4A": 0.75,
    "IRF4": 0.98,
    "IRF6": 0.90,
    "LDLR": 0.99,
    "MSMB": 0.75,
    "MYCrs6983267": 0.55,
    "PKLR": 0.79,
    "SORT1": 0.98,
    "TERT-GBM": 0.90,
    "TERT-HEK293T": 0.65,
    "ZFAND3": 0.72,
}
#: the keys of :meth:`SaturationResults.summary`, in order (see the module docstring)
SUMMARY_KEYS = (
    *(f"{a}_{k}" for a in ASSAYS for k in _PER_ASSAY),
    "calibration_locus_a",
    "calibration_locus_b",
    "n_loci",
    "n_variants",
    "notes",
)
#: table stem -> attribute of :class:`SaturationResults`
TABLE_FILES = {
    "saturation_mutagenesis_variants": "variants",
    "saturation_mutagenesis_per_locus": "per_locus",
    "saturation_mutagenesis_pooled": "pooled",
}
SUMMARY_FILE = "saturation_mutagenesis_summary.json"


def correlations(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """``n``, Pearson r, its two-sided p, Spearman rho and its p of ``x`` vs ``y``: the columns of
    :func:`seqbench.stats.common.correlate` (finite pairs; NaN below 3 of them or without variance)."""
    return correlate(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)).as_dict()


def ols_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(slope, intercept)`` of the least-squares line ``y = intercept + slope x`` (NaN if x is constant)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(x) == 0:
        return math.nan, math.nan
    xc = x - x.mean()
    slope = float(np.dot(xc, y - y.mean()) / np.dot(xc, xc))
    return slope, float(y.mean() - slope * x.mean())


def ols_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least squares ``y = intercept + slope x`` over the finite pairs, with the usual standard error.

    Returns ``n``, ``slope``, ``intercept``, ``slope_se = sqrt(RSS / (n - 2) / Sxx)`` and ``r2 = 1 -
    RSS / TSS`` (the values of statsmodels' ``OLS.from_formula('y ~ x')``: ``params``, ``bse``,
    ``rsquared``).  NaN below :data:`~seqbench.stats.common.MIN_PAIRS` pairs or for a constant ``x``
    (no slope); ``r2`` is NaN for a constant ``y``.
    """
    from seqbench.stats.common import MIN_PAIRS

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(x.size)
    out = {"n": n, "slope": math.nan, "intercept": math.nan, "slope_se": math.nan, "r2": math.nan}
    if n < MIN_PAIRS or np.ptp(x) == 0:
        return out
    xc, yc = x - x.mean(), y - y.mean()
    sxx = float(np.dot(xc, xc))
    slope = float(np.dot(xc, yc) / sxx)
    resid = yc - slope * xc
    rss, tss = float(np.dot(resid, resid)), float(np.dot(yc, yc))
    out.update(slope=slope, intercept=float(y.mean() - slope * x.mean()),
               slope_se=math.sqrt(rss / (n - 2) / sxx), r2=1.0 - rss / tss if tss > 0 else math.nan)
    return out


def winsorize(x: np.ndarray, limits: tuple[float, float] = WINSOR_LIMITS) -> np.ndarray:
    """``x`` with its lowest ``floor(lo n)`` and highest ``floor(hi n)`` finite values clipped to the
    next value inward (the rule of ``scipy.stats.mstats.winsorize``); NaN stays NaN, n = finite count."""
    x = np.array(x, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(x))
    n = ok.size
    lo, hi = int(limits[0] * n), n - int(limits[1] * n)
    if n == 0 or lo >= hi:
        return x
    order = ok[np.argsort(x[ok], kind="stable")]
    x[order[:lo]] = x[order[lo]]
    x[order[hi:]] = x[order[hi - 1]]
    return x


def _zscore(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    out = np.full(x.shape, np.nan)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return out
    out[ok] = (x[ok] - x[ok].mean()) / x[ok].std()
    return out


def zscore_by_locus(effects: pd.DataFrame, limits: tuple[float, float] = WINSOR_LIMITS) -> pd.DataFrame:
    """``delta_z`` (delta winsorised at ``limits``, then z-scored) and ``log2FC_z`` (z-scored), per
    (assay, locus), aligned with ``effects``' index; NaN for a locus whose column is constant."""
    out = pd.DataFrame({"delta_z": np.nan, "log2FC_z": np.nan}, index=effects.index)
    for _, g in effects.groupby(["assay", "locus"], sort=False):
        out.loc[g.index, "delta_z"] = _zscore(winsorize(g[PRED].to_numpy(np.float64), limits))
        out.loc[g.index, "log2FC_z"] = _zscore(g[OBS].to_numpy(np.float64))
    return out


def strong_effects(pred: np.ndarray, obs: np.ndarray, pred_threshold: float = PRED_THRESHOLD,
                   obs_threshold: float = OBS_THRESHOLD) -> dict[str, float]:
    """Precision and recall of "predicted effect" (``|pred| > pred_threshold``) for "measured effect"
    (``|obs| > obs_threshold``) over the finite pairs; NaN when nothing is predicted resp. measured."""
    pred, obs = np.asarray(pred, dtype=np.float64), np.asarray(obs, dtype=np.float64)
    ok = np.isfinite(pred) & np.isfinite(obs)
    p, o = np.abs(pred[ok]) > pred_threshold, np.abs(obs[ok]) > obs_threshold
    tp = int(np.sum(p & o))
    return {
        "n_pred_strong": int(p.sum()),
        "n_obs_strong": int(o.sum()),
        "precision": tp / int(p.sum()) if p.any() else math.nan,
        "recall": tp / int(o.sum()) if o.any() else math.nan,
    }


def per_locus(effects: pd.DataFrame) -> pd.DataFrame:
    """One row per (assay, locus), loci in order of first appearance.

    Columns: ``assay, locus, n, pearson_r, pearson_p, spearman_r, spearman_p, slope, intercept``
    (OLS of log2FC on delta), ``pearson_r_log_then_aggregate`` (Pearson r of
    ``delta_log_then_aggregate`` with log2FC; NaN without that column), ``ref_pred_median`` (median
    predicted reference signal, natural scale), ``n_tracks`` (matched tracks averaged),
    ``replicate_r`` (:data:`REPLICATE_R`; NaN for a locus not in it).
    """
    rows = []
    for assay in dict.fromkeys(effects["assay"]):
        e = effects[effects["assay"] == assay]
        for locus in dict.fromkeys(e["locus"]):
            g = e[e["locus"] == locus]
            slope, icpt = ols_slope(g[PRED], g[OBS])
            rows.append(
                {
                    "assay": assay,
                    "locus": locus,
                    **correlations(g[PRED], g[OBS]),
                    "slope": slope,
                    "intercept": icpt,
                    "pearson_r_log_then_aggregate": (
                        correlations(g[PRED_LOG_FIRST], g[OBS])["pearson_r"] if PRED_LOG_FIRST in g else math.nan
                    ),
                    "ref_pred_median": float(np.median(g["ref_pred"])) if len(g) else math.nan,
                    "n_tracks": int(g["n_tracks"].iloc[0]) if "n_tracks" in g and len(g) else 0,
                    "replicate_r": REPLICATE_R.get(str(locus), math.nan),
                }
            )
    return pd.DataFrame(rows)


@dataclass
class SaturationResults:
    """Everything the report needs: variants (long), per-locus and pooled statistics."""

    variants: pd.DataFrame
    per_locus: pd.DataFrame
    pooled: pd.DataFrame
    calibration_loci: tuple[str | None, str | None]
    pred_threshold: float = PRED_THRESHOLD
    obs_threshold: float = OBS_THRESHOLD

    def _assay_summary(self, assay: str) -> dict[str, float]:
        pl = self.per_locus[self.per_locus["assay"] == assay]
        r_all = pl["pearson_r"].to_numpy(dtype=np.float64)
        r = r_all[np.isfinite(r_all)]
        pooled = self.pooled[self.pooled["assay"] == assay]
        e = self.variants[self.variants["assay"] == assay]
        a, b = self.calibration_loci
        pair = e[e["locus"].isin([a, b])]
        out = {
            "pooled_pearson": float(pooled["pearson_r"].iloc[0]) if len(pooled) else math.nan,
            "pooled_spearman": float(pooled["spearman_r"].iloc[0]) if len(pooled) else math.nan,
            "mean_abs_r": float(np.mean(np.abs(r))) if r.size else math.nan,
            "median_r": float(np.median(r)) if r.size else math.nan,
            "calibration_r_pooled": (
                correlations(pair[PRED], pair[OBS])["pearson_r"]
                if set(pair["locus"]) == {a, b} else math.nan
            ),
        }
        if "delta_z" in e and "log2FC_z" in e:
            out["pooled_pearson_z"] = correlations(e["delta_z"], e["log2FC_z"])["pearson_r"]
        else:
            out["pooled_pearson_z"] = math.nan
        strong = strong_effects(e[PRED], e[OBS], self.pred_threshold, self.obs_threshold)
        out["precision_strong"], out["recall_strong"] = strong["precision"], strong["recall"]
        level = np.log10(pl["ref_pred_median"].to_numpy(dtype=np.float64) + 1.0)
        out["r_vs_ref_level"] = correlations(r_all, level)["pearson_r"]
        replicate = pl["replicate_r"].to_numpy(dtype=np.float64) if "replicate_r" in pl else np.full(len(pl), np.nan)
        out["r_vs_replicate_r"] = correlations(r_all, replicate)["pearson_r"]
        for tag, locus in (("a", a), ("b", b)):
            row = pl[pl["locus"] == locus]
            out[f"calibration_r_{tag}"] = float(row["pearson_r"].iloc[0]) if len(row) else math.nan
            out[f"calibration_slope_{tag}"] = float(row["slope"].iloc[0]) if len(row) else math.nan
        row = pl[pl["locus"] == AGGREGATION_LOCUS]
        out["ldlr_r_aggregate_then_log"] = float(row["pearson_r"].iloc[0]) if len(row) else math.nan
        out["ldlr_r_log_then_aggregate"] = (
            float(row["pearson_r_log_then_aggregate"].iloc[0]) if len(row) else math.nan
        )
        fit = ols_fit(e[PRED], e[OBS])
        for k in ("slope", "intercept", "slope_se", "r2"):
            out[f"ols_{k}"] = fit[k]
        return out

    def _why_undefined(self, assay: str, key: str) -> str:
        """One line saying why ``<assay>_<key>`` is undefined (NaN) in this result."""
        pl = self.per_locus[self.per_locus["assay"] == assay]
        e = self.variants[self.variants["assay"] == assay]
        n_r = int(np.isfinite(pl["pearson_r"].to_numpy(dtype=np.float64)).sum())
        few = "a correlation needs >= 3 variants and both columns varying (seqbench.stats.common.correlate)"
        if e.empty:
            return f"no {assay} variant in this job"
        if key.startswith("ldlr_"):
            if AGGREGATION_LOCUS not in set(pl["locus"]):
                return f"the job has no locus {AGGREGATION_LOCUS} (the authors' aggregation comparison locus)"
            if key.endswith("log_then_aggregate") and (PRED_LOG_FIRST not in e or e[PRED_LOG_FIRST].isna().all()):
                return "no per-member predictions behind this variant table (log-then-aggregate needs them)"
            return f"{AGGREGATION_LOCUS}: {few}"
        if key.startswith("calibration_"):
            loci = [x for x in self.calibration_loci if x not in set(pl["locus"])]
            if loci:
                return f"calibration locus {', '.join(map(str, loci))} is not in this job"
            return f"calibration loci: {few}"
        if key.startswith("r_vs_") or (key in ("mean_abs_r", "median_r") and n_r == 0):
            return f"{n_r} loci have a per-locus r; across-locus correlations need >= 3, mean and median >= 1"
        if key in ("precision_strong", "recall_strong"):
            return (f"no variant has |delta| > {self.pred_threshold} (precision) or |log2FC| > {self.obs_threshold}"
                    " (recall): the ratio has a zero denominator")
        if key.startswith("ols_"):
            return "the OLS needs >= 3 variants with a varying delta (R^2 also a varying log2FC)"
        return few

    def notes(self, summary: dict[str, Any]) -> dict[str, str]:
        """``{key: why}`` for every key of ``summary`` that is undefined (``None`` / NaN)."""
        out = {}
        for k, v in summary.items():
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                assay, _, rest = k.partition("_")
                out[k] = self._why_undefined(assay, rest) if assay in ASSAYS else "not in this job"
        return out

    def summary(self) -> dict[str, Any]:
        """The documented summary (module docstring), strict JSON (NaN -> None)."""
        s: dict[str, Any] = {}
        for assay in ASSAYS:
            vals = self._assay_summary(assay)
            s.update({f"{assay}_{k}": vals[k] for k in _PER_ASSAY})
        s["calibration_locus_a"], s["calibration_locus_b"] = self.calibration_loci
        first = self.variants[self.variants["assay"] == ASSAYS[0]]
        s["n_loci"] = int(first["locus"].nunique())
        s["n_variants"] = len(first)
        s["notes"] = self.notes(s)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in s.items()}


def reduce_saturation(
    effects: pd.DataFrame,
    *,
    calibration_loci: tuple[str | None, str | None] = ("F9", "LDLR"),
    pred_threshold: float = PRED_THRESHOLD,
    obs_threshold: float = OBS_THRESHOLD,
):
    """Per-locus and pooled correlations of predicted vs measured variant effects, per assay.

    The variant table is ``effects`` plus ``delta_z`` and ``log2FC_z`` (:func:`zscore_by_locus`);
    the thresholds define the strong-effect precision and recall (:func:`strong_effects`).
    """
    missing = [c for c in ("assay", "locus", OBS, PRED, "ref_pred") if c not in effects.columns]
    if missing:
        raise ValueError(f"effects lacks column(s) {missing}")
    pooled = pd.DataFrame(
        [{"assay": a, **correlations(g[PRED], g[OBS])} for a, g in effects.groupby("assay", sort=False)]
    )
    variants = effects.reset_index(drop=True).drop(columns=["delta_z", "log2FC_z"], errors="ignore")
    variants = pd.concat([variants, zscore_by_locus(variants)], axis=1)
    return SaturationResults(variants, per_locus(effects), pooled, calibration_loci,
                             float(pred_threshold), float(obs_threshold))


def write_tables(results: SaturationResults, out_dir: Path) -> list[Path]:
    """Write each table as Parquet and CSV, and the summary as JSON (atomically); return the paths."""
    written = write_frames({stem: getattr(results, attr) for stem, attr in TABLE_FILES.items()}, out_dir, csv=True)
    written.append(write_json(Path(out_dir) / SUMMARY_FILE, results.summary()))
    return written
