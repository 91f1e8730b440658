"""Reduce of the in-silico multiplicativity experiment ("fulco_in_fulco", spec §9.3).

Every candidate promoter is combined with every candidate enhancer inside every background
(location); the model's prediction is reduced here to the statistics of the paper: how much of
``y`` a *multiplicative* model explains, that is a model additive in log space,
``y ~ promoter_id + enhancer_id + location_key``, per background, per promoter and on all rows,
and how consistent the enhancer effects are across backgrounds and promoters.  Pure pandas/numpy:
no Ray here; the caller may pass a parallel ``map_fn``.

Input
-----
``combos``  :class:`pandas.DataFrame`, one row per ``(location_key, promoter_id, enhancer_id)``:

============  ======  ==========================================================================
column        dtype   meaning
============  ======  ==========================================================================
location_key  str     the background (the genomic window the pair is inserted into)
promoter_id   str     the inserted promoter, ``chr:start-end`` (0-based, half-open)
enhancer_id   str     the inserted enhancer, ``chr:start-end`` (0-based, half-open)
y             float   ``log2(mean over ensemble members/augmentations of the K562 CAGE 3-bin
                      landmark sum + 1)``; finite
============  ======  ==========================================================================

Other columns are ignored.  ``ko`` is an optional :class:`pandas.Series` indexed by
``enhancer_id`` holding the candidate's own knock-down effect ``log2_fc_pred`` (spec §6); ids are
compared as strings and NaN values are dropped.

Models and conventions
----------------------
All fits are OLS with an intercept and treatment coding (first level in sorted order is the
reference), fitted by :mod:`seqbench.stats.indicator_ols`; coefficient names are statsmodels'
(``enhancer_id[T.chr1:100-2100]``).  R² is in sample (``sklearn.metrics.r2_score``).  Standard
deviations use ``ddof=1``.  Coefficients of per-group fits are relative to that group's reference
level; with the complete design of the experiment (every combination present) all groups share it.
Pearson correlations across groups are pairwise complete and need at least 3 shared levels, else
NaN; a matrix is summarised by the median of its off-diagonal entries (NaN entries ignored).

Summary keys (the documented contract of :meth:`MultiplicativityResults.summary`)
-------------------------------------------------------------------------------------
==============================================  =====================================================
key                                             meaning
==============================================  =====================================================
r2_whole_location                               R² of ``y ~ location_key`` on all rows
r2_whole_promoter                               R² of ``y ~ promoter_id`` on all rows
r2_whole_promoter_location                      R² of ``y ~ promoter_id + location_key``
r2_whole_multiplicative                         R² of ``y ~ promoter_id + enhancer_id + location_key``
                                                (the headline)
r2_whole_promoter_x_location                    R² of the cell means ``y ~ promoter_id:location_key``
n_params_whole_multiplicative                   free coefficients of the headline model
                                                (``1 + (P-1) + (E-1) + (L-1)``)
r2_background_promoter_median                   median over backgrounds of R² of ``y ~ promoter_id``
r2_background_multiplicative_median             median over backgrounds of R² of
                                                ``y ~ promoter_id + enhancer_id``
r2_promoter_location_median                     median over promoters of R² of ``y ~ location_key``
r2_promoter_multiplicative_median               median over promoters of R² of
                                                ``y ~ location_key + enhancer_id``
enhancer_coef_corr_across_backgrounds_median    median off-diagonal Pearson r between backgrounds
                                                of the per-background enhancer coefficients
promoter_coef_corr_across_backgrounds_median    the same for the promoter coefficients
enhancer_coef_corr_across_promoters_median      median off-diagonal Pearson r between promoters of
                                                the per-promoter enhancer coefficients
enhancer_consistency_r2                         R² of ``residual ~ enhancer_id``, residual = ``y``
                                                minus its (location, promoter) cell mean
enhancer_residual_corr_across_promoters_median  median off-diagonal Pearson r between promoters of
                                                those residuals (rows: location x enhancer)
corr_with_ko_median                             median over backgrounds of Pearson r between the
                                                enhancer coefficients and ``ko``; null without ``ko``
n_backgrounds, n_promoters, n_enhancers         distinct levels (L, P, E)
n_combinations                                  rows of ``combos``
is_complete_design                              ``n_combinations == L * P * E``
==============================================  =====================================================

Floats are Python floats; NaN is reported as ``None`` (JSON ``null``), so the dict is strict JSON.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.report.tables import write_frames, write_json
from seqbench.stats.common import MIN_PAIRS, correlate
from seqbench.stats.indicator_ols import IndicatorOLSResult, fit_cell_means, fit_indicator_ols

__all__ = [
    "REQUIRED_COLUMNS",
    "SUMMARY_KEYS",
    "GroupFit",
    "MultiplicativityResults",
    "fit_background",
    "fit_promoter",
    "reduce_multiplicativity",
    "write_tables",
]

LOCATION, PROMOTER, ENHANCER, Y = "location_key", "promoter_id", "enhancer_id", "y"
KEYS = (LOCATION, PROMOTER, ENHANCER)
#: columns ``combos`` must have
REQUIRED_COLUMNS = (*KEYS, Y)

#: the keys of :meth:`MultiplicativityResults.summary`, in order (see the module docstring)
SUMMARY_KEYS = (
    "r2_whole_location",
    "r2_whole_promoter",
    "r2_whole_promoter_location",
    "r2_whole_multiplicative",
    "r2_whole_promoter_x_location",
    "n_params_whole_multiplicative",
    "r2_background_promoter_median",
    "r2_background_multiplicative_median",
    "r2_promoter_location_median",
    "r2_promoter_multiplicative_median",
    "enhancer_coef_corr_across_backgrounds_median",
    "promoter_coef_corr_across_backgrounds_median",
    "enhancer_coef_corr_across_promoters_median",
    "enhancer_consistency_r2",
    "enhancer_residual_corr_across_promoters_median",
    "corr_with_ko_median",
    "n_backgrounds",
    "n_promoters",
    "n_enhancers",
    "n_combinations",
    "is_complete_design",
)

#: whole-data models: short name -> (factors, cell means?)
WHOLE_MODELS: dict[str, tuple[tuple[str, ...], bool]] = {
    "location": ((LOCATION,), False),
    "promoter": ((PROMOTER,), False),
    "promoter_location": ((PROMOTER, LOCATION), False),
    "multiplicative": ((PROMOTER, ENHANCER, LOCATION), False),
    "promoter_x_location": ((PROMOTER, LOCATION), True),
}

#: ``params.fit`` values
FIT_BACKGROUND = "background_multiplicative"
FIT_PROMOTER = "promoter_multiplicative"
FIT_WHOLE = "whole_multiplicative"
#: ``params.group`` of the whole-data fit
ALL_ROWS = "(all)"

MapFn = Callable[[Callable[[pd.DataFrame], "GroupFit"], list[pd.DataFrame]], Sequence["GroupFit"]]


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread: the solves are <= ~250 x 250, where threads only add contention.

    Under CPU contention (other processes, Ray workers) multi-threaded OpenBLAS made the reduce 3-6x
    slower in our benchmark.  Scoped with :mod:`threadpoolctl` (a scikit-learn dependency); a no-op
    when it is not installed.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _sequential_map(fn: Callable[[pd.DataFrame], GroupFit], items: list[pd.DataFrame]) -> list[GroupFit]:
    """The default ``map_fn``: call ``fn`` on each item, in order, in this process."""
    return [fn(item) for item in items]


@dataclass(frozen=True)
class GroupFit:
    """Result of one per-group fit: small and picklable, so it can come back from a worker.

    ``stats`` maps column name -> number for the per-group table; ``params`` has columns
    ``term, level, estimate`` (the multiplicative fit's coefficients, statsmodels order).
    """

    group: str
    stats: dict[str, float]
    params: pd.DataFrame


def _single_group(df: pd.DataFrame, column: str) -> str:
    values = pd.unique(df[column])
    if len(values) != 1:
        raise ValueError(f"{column!r}: a per-group fit needs exactly one value, got {len(values)}")
    return str(values[0])


def _params_frame(result: IndicatorOLSResult) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "term": result.terms.astype(str),
            "level": result.levels.astype(str),
            "estimate": result.params.to_numpy(dtype=np.float64),
        }
    )


def fit_background(df: pd.DataFrame) -> GroupFit:
    """Fits of one background (all rows share one ``location_key``).

    ``stats``: ``n``; ``avg_expr`` (mean y); ``sd_total`` (sd of y); ``sd_promoter_median`` and
    ``sd_promoter_max`` (median and max over promoters of the sd of y across enhancers);
    ``r2_prom`` (``y ~ promoter_id``), ``r2_mult`` (``y ~ promoter_id + enhancer_id``),
    ``n_params_prom``, ``n_params_mult``, ``rank_mult``.  ``params``: the multiplicative fit.
    """
    group = _single_group(df, LOCATION)
    y = df[Y].to_numpy(dtype=np.float64)
    sd_prom = df.groupby(PROMOTER, observed=True, sort=False)[Y].std(ddof=1)
    with _one_blas_thread():
        prom = fit_indicator_ols(df, Y, [PROMOTER])
        mult = fit_indicator_ols(df, Y, [PROMOTER, ENHANCER])
    stats = {
        "n": float(y.size),
        "avg_expr": float(y.mean()),
        "sd_total": float(np.std(y, ddof=1)) if y.size > 1 else math.nan,
        "sd_promoter_median": float(sd_prom.median()),
        "sd_promoter_max": float(sd_prom.max()),
        "r2_prom": prom.r2,
        "r2_mult": mult.r2,
        "n_params_prom": float(prom.n_params),
        "n_params_mult": float(mult.n_params),
        "rank_mult": float(mult.rank),
    }
    return GroupFit(group=group, stats=stats, params=_params_frame(mult))


def fit_promoter(df: pd.DataFrame) -> GroupFit:
    """Fits of one promoter (all rows share one ``promoter_id``).

    ``stats``: ``n``, ``avg_expr``, ``sd_total``, ``r2_loc`` (``y ~ location_key``), ``r2_mult``
    (``y ~ location_key + enhancer_id``), ``n_params_loc``, ``n_params_mult``, ``rank_mult``.
    ``params``: the multiplicative fit.
    """
    group = _single_group(df, PROMOTER)
    y = df[Y].to_numpy(dtype=np.float64)
    with _one_blas_thread():
        loc = fit_indicator_ols(df, Y, [LOCATION])
        mult = fit_indicator_ols(df, Y, [LOCATION, ENHANCER])
    stats = {
        "n": float(y.size),
        "avg_expr": float(y.mean()),
        "sd_total": float(np.std(y, ddof=1)) if y.size > 1 else math.nan,
        "r2_loc": loc.r2,
        "r2_mult": mult.r2,
        "n_params_loc": float(loc.n_params),
        "n_params_mult": float(mult.n_params),
        "rank_mult": float(mult.rank),
    }
    return GroupFit(group=group, stats=stats, params=_params_frame(mult))


@dataclass(frozen=True)
class MultiplicativityResults:
    """Tables of the multiplicativity reduce (see the module docstring for the models).

    Attributes
    ----------
    per_background:
        One row per ``location_key``: the :func:`fit_background` stats plus ``corr_with_ko`` and
        ``n_ko`` (enhancers used for it).
    per_promoter:
        One row per ``promoter_id``: the :func:`fit_promoter` stats.
    whole:
        One row per whole-data model: ``model`` (short name), ``formula``, ``r2``, ``n_params``,
        ``rank``, ``n``.
    params:
        Long table ``fit, group, term, level, estimate`` of the multiplicative fits (``fit`` is
        ``background_multiplicative``, ``promoter_multiplicative`` or ``whole_multiplicative``;
        ``group`` is the location/promoter, or ``"(all)"``; the intercept has ``level == ""``).
    enhancer_coef_corr_across_backgrounds, promoter_coef_corr_across_backgrounds:
        ``[L, L]`` Pearson matrices (index and columns ``location_key``).
    enhancer_coef_corr_across_promoters, enhancer_residual_corr_across_promoters:
        ``[P, P]`` Pearson matrices (index and columns ``promoter_id``).
    enhancer_consistency_r2:
        R² of ``residual ~ enhancer_id`` (residual from the (location, promoter) cell means).
    fitted:
        Aligned with ``combos`` (same index and row order): the three keys, ``y``, ``fitted``
        and ``residual`` of the whole-data multiplicative model, and ``residual_cell``.
    has_ko:
        Whether a ``ko`` series was given.
    """

    per_background: pd.DataFrame
    per_promoter: pd.DataFrame
    whole: pd.DataFrame
    params: pd.DataFrame
    enhancer_coef_corr_across_backgrounds: pd.DataFrame
    promoter_coef_corr_across_backgrounds: pd.DataFrame
    enhancer_coef_corr_across_promoters: pd.DataFrame
    enhancer_residual_corr_across_promoters: pd.DataFrame
    enhancer_consistency_r2: float
    fitted: pd.DataFrame
    has_ko: bool

    def whole_r2(self, model: str) -> float:
        """R² of a whole-data model by short name (``multiplicative``, ``location``, ...)."""
        rows = self.whole.loc[self.whole["model"] == model, "r2"]
        if rows.empty:
            raise KeyError(f"model {model!r} is not one of {list(self.whole['model'])}")
        return float(rows.iloc[0])

    def summary(self) -> dict[str, float | int | bool | None]:
        """Flat, strict-JSON dict with the keys :data:`SUMMARY_KEYS` (NaN becomes ``None``)."""
        n_loc = int(self.per_background.shape[0])
        n_prom = int(self.per_promoter.shape[0])
        n_enh = int(self.fitted[ENHANCER].nunique())
        n = int(self.fitted.shape[0])
        whole_mult = self.whole.loc[self.whole["model"] == "multiplicative"].iloc[0]
        out: dict[str, Any] = {
            "r2_whole_location": self.whole_r2("location"),
            "r2_whole_promoter": self.whole_r2("promoter"),
            "r2_whole_promoter_location": self.whole_r2("promoter_location"),
            "r2_whole_multiplicative": self.whole_r2("multiplicative"),
            "r2_whole_promoter_x_location": self.whole_r2("promoter_x_location"),
            "n_params_whole_multiplicative": int(whole_mult["n_params"]),
            "r2_background_promoter_median": _median(self.per_background["r2_prom"]),
            "r2_background_multiplicative_median": _median(self.per_background["r2_mult"]),
            "r2_promoter_location_median": _median(self.per_promoter["r2_loc"]),
            "r2_promoter_multiplicative_median": _median(self.per_promoter["r2_mult"]),
            "enhancer_coef_corr_across_backgrounds_median": median_off_diagonal(
                self.enhancer_coef_corr_across_backgrounds
            ),
            "promoter_coef_corr_across_backgrounds_median": median_off_diagonal(
                self.promoter_coef_corr_across_backgrounds
            ),
            "enhancer_coef_corr_across_promoters_median": median_off_diagonal(self.enhancer_coef_corr_across_promoters),
            "enhancer_consistency_r2": float(self.enhancer_consistency_r2),
            "enhancer_residual_corr_across_promoters_median": median_off_diagonal(
                self.enhancer_residual_corr_across_promoters
            ),
            "corr_with_ko_median": _median(self.per_background["corr_with_ko"]) if self.has_ko else math.nan,
            "n_backgrounds": n_loc,
            "n_promoters": n_prom,
            "n_enhancers": n_enh,
            "n_combinations": n,
            "is_complete_design": bool(n == n_loc * n_prom * n_enh),
        }
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def _median(values: pd.Series) -> float:
    arr = values.to_numpy(dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(np.median(arr)) if arr.size else math.nan


def median_off_diagonal(matrix: pd.DataFrame) -> float:
    """Median of the off-diagonal entries of a square (symmetric) matrix, NaN ignored; NaN if none."""
    values = matrix.to_numpy(dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise ValueError(f"matrix: expected a square matrix, got shape {values.shape}")
    upper = values[np.triu_indices(values.shape[0], k=1)]
    upper = upper[np.isfinite(upper)]
    return float(np.median(upper)) if upper.size else math.nan


def _corr_columns(wide: pd.DataFrame, name: str) -> pd.DataFrame:
    """Pearson correlation between the columns of ``wide`` (pairwise complete; NaN below
    :data:`~seqbench.stats.common.MIN_PAIRS` rows or without variance: the rule of ``correlate``)."""
    corr = wide.astype(np.float64).corr(method="pearson", min_periods=MIN_PAIRS)
    corr.index.name = name
    corr.columns.name = name
    return corr


def _validate(combos: pd.DataFrame) -> None:
    if not isinstance(combos, pd.DataFrame):
        raise TypeError(f"combos: expected a pandas DataFrame, got {type(combos).__name__}")
    for col in REQUIRED_COLUMNS:
        if col not in combos.columns:
            raise ValueError(
                f"combos: required column {col!r} is missing; need {list(REQUIRED_COLUMNS)}, got {list(combos.columns)}"
            )
    if combos.empty:
        raise ValueError("combos: no rows; nothing to reduce")
    for col in KEYS:
        missing = combos[col].isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"combos: column {col!r} has {int(missing.sum())} missing value(s)"
                f" (first at index {combos.index[int(np.flatnonzero(missing)[0])]!r})"
            )
    y = pd.to_numeric(combos[Y], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        raise ValueError(
            f"combos: column 'y' has {int(bad.sum())} non-finite value(s)"
            f" (first at index {combos.index[int(np.flatnonzero(bad)[0])]!r}); y must be finite log2 values"
        )
    dup = combos.duplicated(list(KEYS), keep=False).to_numpy()
    if dup.any():
        first = combos.loc[dup, list(KEYS)].iloc[0]
        raise ValueError(
            f"combos: {int(dup.sum())} rows share a (location_key, promoter_id, enhancer_id); for example"
            f" location_key={first[LOCATION]!r}, promoter_id={first[PROMOTER]!r},"
            f" enhancer_id={first[ENHANCER]!r}; reduce augmentations to one row per combination first"
        )


def _validate_ko(ko: pd.Series | None) -> pd.Series | None:
    if ko is None:
        return None
    if not isinstance(ko, pd.Series):
        raise TypeError(f"ko: expected a pandas Series indexed by enhancer_id, got {type(ko).__name__}")
    out = pd.Series(pd.to_numeric(ko, errors="coerce").to_numpy(dtype=np.float64), index=ko.index.astype(str))
    if out.index.has_duplicates:
        dup = out.index[out.index.duplicated()][0]
        raise ValueError(f"ko: enhancer_id {dup!r} appears more than once; give one log2_fc_pred per enhancer")
    return out[np.isfinite(out.to_numpy())]


def _group_frames(data: pd.DataFrame, column: str) -> list[pd.DataFrame]:
    return [g for _, g in data.groupby(column, observed=True, sort=True)]


def _run_map(map_fn: MapFn, fn: Callable[[pd.DataFrame], GroupFit], items: list[pd.DataFrame]) -> list[GroupFit]:
    out = list(map_fn(fn, items))
    if len(out) != len(items):
        raise ValueError(f"map_fn returned {len(out)} result(s) for {len(items)} input(s)")
    return out


def _stats_table(fits: list[GroupFit], column: str) -> pd.DataFrame:
    table = pd.DataFrame([f.stats for f in fits])
    table.insert(0, column, [f.group for f in fits])
    for col in table.columns:
        if col == "n" or col.startswith(("n_params", "rank")):
            table[col] = table[col].astype(np.int64)
    return table


def _long_params(fits: list[GroupFit], fit: str) -> pd.DataFrame:
    frames = [f.params.assign(fit=fit, group=f.group) for f in fits]
    return pd.concat(frames, ignore_index=True)[["fit", "group", "term", "level", "estimate"]]


def _wide(params: pd.DataFrame, term: str) -> pd.DataFrame:
    sub = params.loc[params["term"] == term]
    return sub.pivot(index="level", columns="group", values="estimate")


def reduce_multiplicativity(
    combos: pd.DataFrame,
    ko: pd.Series | None = None,
    *,
    map_fn: MapFn = _sequential_map,
) -> MultiplicativityResults:
    """Compute the §9.3 statistics of the multiplicativity experiment.

    Parameters
    ----------
    combos:
        One row per (location_key, promoter_id, enhancer_id) with the float ``y`` (see the module
        docstring).  A missing column, a missing key, a non-finite ``y`` or a duplicated combination
        raises :class:`ValueError` naming it.
    ko:
        Optional ``enhancer_id -> log2_fc_pred`` of each candidate's own knock-down.  Without it
        ``corr_with_ko`` is NaN.
    map_fn:
        ``map_fn(fn, items) -> results`` in the order of ``items``; called twice, with
        :func:`fit_background` on one frame per background and with :func:`fit_promoter` on one
        frame per promoter.  Pass a parallel map (for example over Ray tasks); both functions and
        their inputs and outputs are picklable.  The default runs sequentially in this process.

    Returns
    -------
    MultiplicativityResults
    """
    _validate(combos)
    ko_values = _validate_ko(ko)
    data = pd.DataFrame(
        {col: pd.Categorical(combos[col].astype(str).to_numpy(dtype=object)) for col in KEYS}
        | {Y: combos[Y].to_numpy(dtype=np.float64)}
    )

    bg_fits = _run_map(map_fn, fit_background, _group_frames(data, LOCATION))
    pr_fits = _run_map(map_fn, fit_promoter, _group_frames(data, PROMOTER))
    with _one_blas_thread():
        return _reduce_rest(combos, data, ko_values, bg_fits, pr_fits)


def _reduce_rest(
    combos: pd.DataFrame,
    data: pd.DataFrame,
    ko_values: pd.Series | None,
    bg_fits: list[GroupFit],
    pr_fits: list[GroupFit],
) -> MultiplicativityResults:
    """Everything after the per-group fits: tables, whole-data fits, consistency, correlations."""
    per_background = _stats_table(bg_fits, LOCATION)
    corr_ko, n_ko = [], []
    for fit in bg_fits:
        enh = fit.params.loc[fit.params["term"] == ENHANCER].set_index("level")["estimate"]
        if ko_values is None:
            corr_ko.append(math.nan)
            n_ko.append(0)
            continue
        shared = enh.index.intersection(ko_values.index)
        corr_ko.append(correlate(enh.loc[shared].to_numpy(), ko_values.loc[shared].to_numpy()).pearson_r)
        n_ko.append(int(shared.size))
    per_background["corr_with_ko"] = corr_ko
    per_background["n_ko"] = np.asarray(n_ko, dtype=np.int64)
    per_promoter = _stats_table(pr_fits, PROMOTER)

    whole_rows = []
    whole_fits = {}
    for model, (factors, cells) in WHOLE_MODELS.items():
        res = fit_cell_means(data, Y, factors) if cells else fit_indicator_ols(data, Y, factors)
        whole_fits[model] = res
        whole_rows.append(
            {
                "model": model,
                "formula": res.formula,
                "r2": res.r2,
                "n_params": res.n_params,
                "rank": res.rank,
                "n": res.n,
            }
        )
    whole = pd.DataFrame(whole_rows)
    mult = whole_fits["multiplicative"]
    cell = whole_fits["promoter_x_location"]

    consistency = pd.DataFrame({ENHANCER: data[ENHANCER], "residual": cell.residuals})
    consistency_r2 = fit_indicator_ols(consistency, "residual", [ENHANCER]).r2
    resid_wide = pd.DataFrame(
        {
            LOCATION: data[LOCATION].astype(str),
            ENHANCER: data[ENHANCER].astype(str),
            PROMOTER: data[PROMOTER].astype(str),
            "residual": cell.residuals,
        }
    ).pivot(index=[LOCATION, ENHANCER], columns=PROMOTER, values="residual")

    whole_params = _params_frame(mult).assign(fit=FIT_WHOLE, group=ALL_ROWS)
    bg_params = _long_params(bg_fits, FIT_BACKGROUND)
    pr_params = _long_params(pr_fits, FIT_PROMOTER)
    params = pd.concat(
        [bg_params, pr_params, whole_params[["fit", "group", "term", "level", "estimate"]]],
        ignore_index=True,
    )

    fitted = pd.DataFrame(
        {
            LOCATION: combos[LOCATION].astype(str).to_numpy(dtype=object),
            PROMOTER: combos[PROMOTER].astype(str).to_numpy(dtype=object),
            ENHANCER: combos[ENHANCER].astype(str).to_numpy(dtype=object),
            Y: data[Y].to_numpy(),
            "fitted": mult.fitted,
            "residual": mult.residuals,
            "residual_cell": cell.residuals,
        },
        index=combos.index,
    )
    return MultiplicativityResults(
        per_background=per_background,
        per_promoter=per_promoter,
        whole=whole,
        params=params,
        enhancer_coef_corr_across_backgrounds=_corr_columns(_wide(bg_params, ENHANCER), LOCATION),
        promoter_coef_corr_across_backgrounds=_corr_columns(_wide(bg_params, PROMOTER), LOCATION),
        enhancer_coef_corr_across_promoters=_corr_columns(_wide(pr_params, ENHANCER), PROMOTER),
        enhancer_residual_corr_across_promoters=_corr_columns(resid_wide, PROMOTER),
        enhancer_consistency_r2=float(consistency_r2),
        fitted=fitted,
        has_ko=ko_values is not None,
    )


#: file stems written by :func:`write_tables` -> (attribute, also CSV?)
TABLE_FILES: dict[str, tuple[str, bool]] = {
    "multiplicativity_per_background": ("per_background", True),
    "multiplicativity_per_promoter": ("per_promoter", True),
    "multiplicativity_whole": ("whole", True),
    "multiplicativity_params": ("params", False),
    "multiplicativity_fitted": ("fitted", False),
    "multiplicativity_corr_enhancer_across_backgrounds": ("enhancer_coef_corr_across_backgrounds", True),
    "multiplicativity_corr_promoter_across_backgrounds": ("promoter_coef_corr_across_backgrounds", True),
    "multiplicativity_corr_enhancer_across_promoters": ("enhancer_coef_corr_across_promoters", True),
    "multiplicativity_corr_residual_across_promoters": ("enhancer_residual_corr_across_promoters", True),
}
SUMMARY_FILE = "multiplicativity_summary.json"


def write_tables(results: MultiplicativityResults, out_dir: Path) -> list[Path]:
    """Write every table as Parquet (the small ones also as CSV) plus the summary as JSON.

    File names are fixed (:data:`TABLE_FILES`, :data:`SUMMARY_FILE`); each file is written to a
    hidden temporary name in ``out_dir`` and moved into place with :func:`os.replace`, so a reader
    never sees a partial file.  Correlation matrices are written with their row labels as the
    first column (named ``location_key`` or ``promoter_id``).  ``fitted`` is written without its
    index (its key columns identify rows).  Returns the paths written, in a fixed order.
    """
    frames: dict[str, pd.DataFrame] = {}
    for stem, (attr, _csv) in TABLE_FILES.items():
        table: pd.DataFrame = getattr(results, attr)
        if attr.startswith(("enhancer_coef", "promoter_coef", "enhancer_residual")):
            table = table.reset_index()
            table.columns = [str(c) for c in table.columns]
        else:
            table = table.reset_index(drop=True)
        frames[stem] = table
    written = write_frames(frames, out_dir, csv=[stem for stem, (_, csv) in TABLE_FILES.items() if csv])
    written.append(write_json(Path(out_dir) / SUMMARY_FILE, results.summary()))
    return written
