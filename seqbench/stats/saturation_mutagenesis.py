"""Statistics of the saturation-mutagenesis experiment (experiments-spec §4.4; paper Fig. 4D-E, S6-S7).

Input
-----
``effects``  :class:`pandas.DataFrame`, one row per (assay, variant), as built by
:func:`seqbench.experiments.saturation_mutagenesis.variant_effects`:

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
calibration_locus_a, _b        the calibration loci (default F9, LDLR)
n_loci, n_variants             loci and variants (per assay)
=============================  =====================================================================

Floats are Python floats; NaN is reported as ``None`` (JSON ``null``).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.files import atomic_write as _atomic_write

__all__ = [
    "ASSAYS",
    "SUMMARY_KEYS",
    "SaturationResults",
    "correlations",
    "ols_slope",
    "per_locus",
    "reduce_saturation",
    "write_tables",
]

ASSAYS = ("cage", "dnase")
OBS, PRED = "log2FC", "delta"
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
)
#: the keys of :meth:`SaturationResults.summary`, in order (see the module docstring)
SUMMARY_KEYS = (
    *(f"{a}_{k}" for a in ASSAYS for k in _PER_ASSAY),
    "calibration_locus_a",
    "calibration_locus_b",
    "n_loci",
    "n_variants",
)
#: table stem -> attribute of :class:`SaturationResults`
TABLE_FILES = {
    "saturation_mutagenesis_variants": "variants",
    "saturation_mutagenesis_per_locus": "per_locus",
    "saturation_mutagenesis_pooled": "pooled",
}
SUMMARY_FILE = "saturation_mutagenesis_summary.json"


def correlations(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Pearson r, its two-sided p, Spearman rho and its p of ``x`` vs ``y`` (NaN if undefined).

    Undefined: fewer than 3 finite pairs, or a constant column.
    """
    from scipy import stats

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    nan = {"n": int(x.size), "pearson_r": math.nan, "pearson_p": math.nan, "spearman_r": math.nan,
           "spearman_p": math.nan}
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = stats.pearsonr(x, y)
        sr = stats.spearmanr(x, y)
    return {"n": int(x.size), "pearson_r": float(pr.statistic), "pearson_p": float(pr.pvalue),
            "spearman_r": float(sr.statistic), "spearman_p": float(sr.pvalue)}


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


def per_locus(effects: pd.DataFrame) -> pd.DataFrame:
    """One row per (assay, locus), loci in order of first appearance.

    Columns: ``assay, locus, n, pearson_r, pearson_p, spearman_r, spearman_p, slope, intercept``
    (OLS of log2FC on delta), ``ref_pred_median`` (median predicted reference signal, natural
    scale), ``n_tracks`` (matched tracks averaged).
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
                    "ref_pred_median": float(np.median(g["ref_pred"])) if len(g) else math.nan,
                    "n_tracks": int(g["n_tracks"].iloc[0]) if "n_tracks" in g and len(g) else 0,
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

    def _assay_summary(self, assay: str) -> dict[str, float]:
        pl = self.per_locus[self.per_locus["assay"] == assay]
        r = pl["pearson_r"].to_numpy(dtype=np.float64)
        r = r[np.isfinite(r)]
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
        for tag, locus in (("a", a), ("b", b)):
            row = pl[pl["locus"] == locus]
            out[f"calibration_r_{tag}"] = float(row["pearson_r"].iloc[0]) if len(row) else math.nan
            out[f"calibration_slope_{tag}"] = float(row["slope"].iloc[0]) if len(row) else math.nan
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
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in s.items()}


def reduce_saturation(effects: pd.DataFrame, *, calibration_loci: tuple[str | None, str | None] = ("F9", "LDLR")):
    """Per-locus and pooled correlations of predicted vs measured variant effects, per assay."""
    missing = [c for c in ("assay", "locus", OBS, PRED, "ref_pred") if c not in effects.columns]
    if missing:
        raise ValueError(f"effects lacks column(s) {missing}")
    pooled = pd.DataFrame(
        [{"assay": a, **correlations(g[PRED], g[OBS])} for a, g in effects.groupby("assay", sort=False)]
    )
    return SaturationResults(effects.reset_index(drop=True), per_locus(effects), pooled, calibration_loci)


def write_tables(results: SaturationResults, out_dir: Path) -> list[Path]:
    """Write each table as Parquet and CSV, and the summary as JSON (atomically); return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, attr in TABLE_FILES.items():
        t: pd.DataFrame = getattr(results, attr)
        written.append(_atomic_write(out_dir / f"{stem}.parquet", lambda p, t=t: t.to_parquet(p, index=False)))
        written.append(_atomic_write(out_dir / f"{stem}.csv", lambda p, t=t: t.to_csv(p, index=False)))
    text = json.dumps(results.summary(), indent=2) + "\n"
    written.append(_atomic_write(out_dir / SUMMARY_FILE, lambda p: p.write_text(text)))
    return written
