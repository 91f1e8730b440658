"""Reduce of the Patch-MPRA (experiments-spec §8.3; the authors' ``EE.py:L2682-L2866``; paper Fig. S17-S19).

Input: one row per (promoter ``oligo_id``, landing pad ``LP_name``) with the measured ``mean_exp``
(log expression, as the authors' table gives it) and ``pred`` (the K562 CAGE landmark sum averaged
over the ensemble members, natural scale).  Derived: ``log_pred = log2(pred + 1)``.

Statistics
----------
* Pearson of ``log_pred`` vs ``mean_exp`` pooled over pairs, over per-promoter means and over
  per-landing-pad means.  The authors take ``log10(pred + 1)``; a Pearson r does not change with
  the base of the log, so ``log2`` is used throughout.  Spearman uses ``pred`` (ranks: the same).
* OLS with indicator factors (treatment coding, the first sorted level is the reference; fitted by
  :func:`seqbench.stats.indicator_ols.fit_indicator_ols`, equal to statsmodels' ``ols``):

  ==========================  ===========================================
  model                       formula
  ==========================  ===========================================
  measured_promoter           ``mean_exp ~ oligo_id``
  measured_landing_pad        ``mean_exp ~ LP_name``
  measured_full               ``mean_exp ~ oligo_id + LP_name``
  predicted_promoter          ``log_pred ~ oligo_id``
  predicted_landing_pad       ``log_pred ~ LP_name``
  predicted_full              ``log_pred ~ oligo_id + LP_name``
  ==========================  ===========================================

  Each reports the in-sample R² (``r2_score``; the variance the factor(s) explain) and the
  in-sample Pearson r of fitted vs observed.
* Coefficient agreement: Pearson (and Spearman) between the measured and predicted promoter
  coefficients of the ``_full`` fits, and between their landing-pad coefficients; the reference
  level (coefficient 0 by construction) is left out, as statsmodels' ``params`` leave it out.
* Environment sensitivity (Fig. S18/S19): per promoter, the SD (``ddof=1``) over its landing pads
  of ``mean_exp`` and of ``log_pred``, against its promoter coefficient of the same side's
  ``_full`` fit.

Summary keys (the contract of :meth:`PatchResults.summary`)
------------------------------------------------------------
=====================================  =========================================================
key                                    meaning
=====================================  =========================================================
n_pairs, n_promoters, n_landing_pads   pairs fitted and their distinct promoters / landing pads
pearson_pooled, spearman_pooled        ``log_pred`` vs ``mean_exp`` over pairs (Spearman: pred)
pearson_promoter_means                 per-promoter means of the two
pearson_landing_pad_means              per-landing-pad means of the two
r2_measured_promoter                   R² of measured_promoter (paper: 55%)
r2_measured_landing_pad                R² of measured_landing_pad
r2_measured_full                       R² of measured_full
r2_predicted_promoter                  R² of predicted_promoter (paper: 69%)
r2_predicted_landing_pad               R² of predicted_landing_pad
r2_predicted_full                      R² of predicted_full
pearson_insample_measured_full         in-sample Pearson r of measured_full
pearson_insample_predicted_full        in-sample Pearson r of predicted_full
promoter_coef_pearson / _spearman      measured vs predicted promoter coefficients (paper r = 0.73)
landing_pad_coef_pearson / _spearman   measured vs predicted landing-pad coefficients
sd_measured_median                     median per-promoter SD of mean_exp over landing pads
sd_predicted_median                    median per-promoter SD of log_pred over landing pads
sd_strength_spearman_measured          Spearman of that SD vs the measured promoter coefficient
sd_strength_spearman_predicted         the same, predicted
any_rank_deficient                     a fit's design was rank deficient
=====================================  =========================================================

NaN is reported as ``None`` (strict JSON).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.report.tables import write_frames, write_json
from seqbench.stats.common import correlate
from seqbench.stats.indicator_ols import IndicatorOLSResult, fit_indicator_ols

__all__ = ["MODELS", "SUMMARY_KEYS", "PatchResults", "factor_coefficients", "reduce_patch", "write_tables"]

PROMOTER, PAD = "oligo_id", "LP_name"

#: model name -> (response column, factors)
MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "measured_promoter": ("mean_exp", (PROMOTER,)),
    "measured_landing_pad": ("mean_exp", (PAD,)),
    "measured_full": ("mean_exp", (PROMOTER, PAD)),
    "predicted_promoter": ("log_pred", (PROMOTER,)),
    "predicted_landing_pad": ("log_pred", (PAD,)),
    "predicted_full": ("log_pred", (PROMOTER, PAD)),
}

SUMMARY_KEYS = (
    "n_pairs",
    "n_promoters",
    "n_landing_pads",
    "pearson_pooled",
    "spearman_pooled",
    "pearson_promoter_means",
    "pearson_landing_pad_means",
    "r2_measured_promoter",
    "r2_measured_landing_pad",
    "r2_measured_full",
    "r2_predicted_promoter",
    "r2_predicted_landing_pad",
    "r2_predicted_full",
    "pearson_insample_measured_full",
    "pearson_insample_predicted_full",
    "promoter_coef_pearson",
    "promoter_coef_spearman",
    "landing_pad_coef_pearson",
    "landing_pad_coef_spearman",
    "sd_measured_median",
    "sd_predicted_median",
    "sd_strength_spearman_measured",
    "sd_strength_spearman_predicted",
    "any_rank_deficient",
)

TABLE_FILES = {
    "patch_mpra_pairs": ("pairs", False),
    "patch_mpra_promoters": ("promoters", True),
    "patch_mpra_landing_pads": ("landing_pads", True),
    "patch_mpra_models": ("models", True),
}
SUMMARY_FILE = "patch_mpra_summary.json"

MapFn = Callable[[Callable[[Any], Any], list[Any]], Sequence[Any]]


def _sequential_map(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [fn(x) for x in items]


def _nan_none(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return None if math.isnan(x) else x
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def fit_model(task: tuple[str, pd.DataFrame]) -> IndicatorOLSResult:
    """Fit one of :data:`MODELS` on ``data`` (a map_fn task: ``(name, data)``)."""
    name, data = task
    y, factors = MODELS[name]
    return fit_indicator_ols(data, y, factors)


def factor_coefficients(fit: IndicatorOLSResult, factor: str) -> pd.Series:
    """The treatment-coded coefficients of ``factor``, indexed by level (reference level absent)."""
    mask = fit.terms == factor
    return pd.Series(fit.params.to_numpy()[mask], index=[str(v) for v in fit.levels[mask]], dtype=np.float64)


@dataclass(frozen=True)
class PatchResults:
    """Tables of the Patch-MPRA reduce.

    Attributes
    ----------
    pairs:
        One row per (oligo_id, LP_name): ``mean_exp``, ``pred``, ``log_pred`` and ``fitted_<model>``.
    promoters:
        One row per promoter: ``n_pads``, ``mean_measured``, ``mean_log_pred``, ``coef_measured`` and
        ``coef_predicted`` (the ``_full`` fits; 0 for the reference), ``sd_measured``,
        ``sd_predicted`` (over its landing pads, ``ddof=1``), ``is_baseline``.
    landing_pads:
        One row per landing pad: ``n_promoters``, the means and ``_full`` coefficients as above.
    models:
        One row per model: ``model, formula, data, r2, pearson_insample, n, n_params, rank``.
    stats:
        The summary values.
    """

    pairs: pd.DataFrame
    promoters: pd.DataFrame
    landing_pads: pd.DataFrame
    models: pd.DataFrame
    stats: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """Flat, strict-JSON dict with the keys :data:`SUMMARY_KEYS`."""
        return {k: _nan_none(self.stats.get(k, math.nan)) for k in SUMMARY_KEYS}


def _level_table(data: pd.DataFrame, factor: str, fits: dict[str, IndicatorOLSResult], count: str) -> pd.DataFrame:
    g = data.groupby(factor, sort=True)
    table = pd.DataFrame(
        {count: g.size(), "mean_measured": g["mean_exp"].mean(), "mean_log_pred": g["log_pred"].mean()}
    )
    levels = [str(x) for x in table.index]
    for side in ("measured", "predicted"):
        coef = factor_coefficients(fits[f"{side}_full"], factor)
        table[f"coef_{side}"] = coef.reindex(levels).fillna(0.0).to_numpy()
    table["is_baseline"] = np.array(levels) == levels[0]
    table.index.name = factor
    return table.reset_index()


def _coef_corr(table: pd.DataFrame) -> tuple[float, float]:
    rows = table[~table["is_baseline"]]
    c = correlate(rows["coef_measured"].to_numpy(), rows["coef_predicted"].to_numpy())
    return c.pearson_r, c.spearman_r


def reduce_patch(pairs: pd.DataFrame, *, map_fn: MapFn = _sequential_map) -> PatchResults:
    """All §8.3 statistics from ``pairs`` (``oligo_id, LP_name, mean_exp, pred``; see the module docstring)."""
    data = pairs.copy()
    data[PROMOTER] = data[PROMOTER].astype(str)
    data[PAD] = data[PAD].astype(str)
    data["log_pred"] = np.log2(data["pred"].to_numpy(np.float64) + 1.0)
    data = data.sort_values([PROMOTER, PAD], kind="stable").reset_index(drop=True)

    names = list(MODELS)
    fits = dict(zip(names, map_fn(fit_model, [(n, data) for n in names]), strict=True))
    rows = []
    for name, fit in fits.items():
        y = data[MODELS[name][0]].to_numpy(np.float64)
        data[f"fitted_{name}"] = fit.fitted
        rows.append({
            "model": name,
            "formula": fit.formula,
            "data": name.split("_")[0],
            "r2": fit.r2,
            "pearson_insample": correlate(fit.fitted, y).pearson_r,
            "n": fit.n,
            "n_params": fit.n_params,
            "rank": fit.rank,
        })
    models = pd.DataFrame(rows)

    promoters = _level_table(data, PROMOTER, fits, "n_pads")
    sd = data.groupby(PROMOTER, sort=True).agg(sd_measured=("mean_exp", "std"), sd_predicted=("log_pred", "std"))
    promoters = promoters.merge(sd.reset_index(), on=PROMOTER, how="left")
    pads = _level_table(data, PAD, fits, "n_promoters")

    pooled = correlate(data["log_pred"].to_numpy(), data["mean_exp"].to_numpy())
    spear = correlate(data["pred"].to_numpy(), data["mean_exp"].to_numpy()).spearman_r
    p_r, p_s = _coef_corr(promoters)
    l_r, l_s = _coef_corr(pads)
    r2 = {name: fit.r2 for name, fit in fits.items()}
    insample = dict(zip(models["model"], models["pearson_insample"], strict=True))
    stats: dict[str, Any] = {
        "n_pairs": len(data),
        "n_promoters": int(data[PROMOTER].nunique()),
        "n_landing_pads": int(data[PAD].nunique()),
        "pearson_pooled": pooled.pearson_r,
        "spearman_pooled": spear,
        "pearson_promoter_means": correlate(promoters["mean_log_pred"], promoters["mean_measured"]).pearson_r,
        "pearson_landing_pad_means": correlate(pads["mean_log_pred"], pads["mean_measured"]).pearson_r,
        **{f"r2_{name}": r2[name] for name in names},
        "pearson_insample_measured_full": insample["measured_full"],
        "pearson_insample_predicted_full": insample["predicted_full"],
        "promoter_coef_pearson": p_r,
        "promoter_coef_spearman": p_s,
        "landing_pad_coef_pearson": l_r,
        "landing_pad_coef_spearman": l_s,
        "sd_measured_median": float(np.nanmedian(promoters["sd_measured"])) if promoters["sd_measured"].notna().any()
        else math.nan,
        "sd_predicted_median": float(np.nanmedian(promoters["sd_predicted"]))
        if promoters["sd_predicted"].notna().any() else math.nan,
        "sd_strength_spearman_measured": correlate(promoters["coef_measured"], promoters["sd_measured"]).spearman_r,
        "sd_strength_spearman_predicted": correlate(promoters["coef_predicted"], promoters["sd_predicted"]).spearman_r,
        "any_rank_deficient": any(f.rank < f.n_params for f in fits.values()),
    }
    return PatchResults(pairs=data, promoters=promoters, landing_pads=pads, models=models, stats=stats)


def write_tables(results: PatchResults, out_dir: Path) -> list[Path]:
    """Every table as Parquet (the small ones also as CSV) and the summary as JSON, atomically."""
    frames = {stem: getattr(results, attr).reset_index(drop=True) for stem, (attr, _) in TABLE_FILES.items()}
    written = write_frames(frames, out_dir, csv=[stem for stem, (_, csv) in TABLE_FILES.items() if csv])
    written.append(write_json(Path(out_dir) / SUMMARY_FILE, results.summary()))
    return written
