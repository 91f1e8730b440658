"""Reduce of the Bergman promoter x enhancer MPRA (ExP, K562; experiments-spec §5.2 and §5.4; paper Fig. 5A-D).

Measured barcode counts are filtered and summed per (promoter, enhancer) pair; the model's
prediction per pair is joined; promoter and enhancer *strengths* are fitted on both sides with the
paper's models, and the summary compares them.  Pure pandas/NumPy/SciPy; the caller may pass a
parallel ``map_fn`` (the fits are independent).

Filters (§5.2)
--------------
``RNA_sum`` = the sum of the four replicate read columns of a barcode.  A barcode is kept when
``DNA_input > min_dna_input`` (strictly; 25) and ``RNA_sum > 0``; a pair is kept when at least
``min_barcodes`` (2) of its barcodes are.  ``DNA_input`` and ``RNA_sum`` are then summed over the
pair's barcodes, ``log_ratio = log2(RNA_sum / DNA_input)``.  The replicate check is the squared
Pearson r between ``log2((rep1 + rep2) / DNA_input)`` and ``log2((rep3 + rep4) / DNA_input)`` over
the kept barcodes (pairs of values with an infinite or NaN member dropped).

Models (§5.4; baselines = the reference levels of treatment coding)
-------------------------------------------------------------------
Derived: ``log_DNA_input = log2(DNA_input + 1)``, ``log_RNA_sum = log2(RNA_sum + 1)``,
``log_pred = log2(pred + 1)``; ``pred`` is the readout averaged over the ensemble in natural scale.

==================  =========  ==========================================================  ==========
name                family     formula                                                      data
==================  =========  ==========================================================  ==========
poisson_promoter    Poisson    ``RNA_sum ~ log_DNA_input + C(promoter)``                    measured
poisson_mult        Poisson    ``RNA_sum ~ log_DNA_input + C(promoter) + C(enhancer)``      measured
ols_measured_mult   OLS        ``log_RNA_sum ~ log_DNA_input + C(promoter) + C(enhancer)``  measured
gamma_promoter      Gamma/log  ``pred ~ C(promoter)``                                       predicted
gamma_mult          Gamma/log  ``pred ~ C(promoter) + C(enhancer)``                         predicted
ols_pred_promoter   OLS        ``log_pred ~ C(promoter)``                                   predicted
ols_pred_mult       OLS        ``log_pred ~ C(promoter) + C(enhancer)``                     predicted
==================  =========  ==========================================================  ==========

The Poisson and Gamma fits are IRLS on sparse designs (:mod:`seqbench.stats.glm`); the authors
used statsmodels' dogleg optimizer to spare memory, which reaches the same maximum likelihood.
GLM coefficients are natural-log fold changes against the baseline element; OLS coefficients are
log2.  Enhancer residual models: measured ``r = log2(RNA_sum + 1) - log2(mu_poisson_promoter + 1)``
and predicted ``r = log_pred - fitted(ols_pred_promoter)``, each ``r ~ C(enhancer)`` by OLS.

Variance explained (the paper's "enhancer_varexpl", Fig. 5C): ``r2_score(log2(y + 1), log2(mu + 1))``
for the Poisson fits on ``RNA_sum`` and the Gamma fits on ``pred``.

Induced variation (Fig. 5D): for each promoter with more than ``min_partners`` partner enhancers,
the standard deviation (``ddof=1``) across its enhancers of ``log_pred`` and of ``log_ratio``,
against the promoter's Gamma promoter-only coefficient.

Summary keys (the documented contract of :meth:`PromoterEnhancerResults.summary`)
---------------------------------------------------------------------------------
=========================================  ==========================================================
key                                        meaning
=========================================  ==========================================================
n_barcodes, n_barcodes_kept                barcode rows read / passing the barcode filters
n_pairs, n_promoters, n_enhancers          pairs fitted (passing all filters, with a prediction) and
                                           their distinct elements
replicate_r2                               replicate check (above)
promoter_strength_pearson / _spearman      measured (poisson_mult) vs predicted (gamma_mult) promoter
                                           coefficients, baseline excluded (Fig. 5A; paper r = 0.81)
enhancer_strength_pearson / _spearman      the same for enhancers (Fig. 5B; paper r = 0.137)
promoter_only_strength_pearson             poisson_promoter vs gamma_promoter promoter coefficients
ols_promoter_strength_pearson              ols_measured_mult vs ols_pred_mult promoter coefficients
ols_enhancer_strength_pearson              the same for enhancers
varexpl_measured_promoter                  variance explained, poisson_promoter (paper 0.54)
varexpl_measured_promoter_enhancer         variance explained, poisson_mult (paper 0.90)
varexpl_predicted_promoter                 variance explained, gamma_promoter (paper 0.90)
varexpl_predicted_promoter_enhancer        variance explained, gamma_mult
r2_ols_measured_mult                       R² of ols_measured_mult
r2_ols_pred_promoter, r2_ols_pred_mult     R² of the predicted OLS fits (code: 0.957² = 0.916)
enhancer_residual_r2_measured / _predicted R² of the enhancer residual models
pair_pearson_log                           Pearson of log_pred vs log_ratio over pairs
pair_spearman                              Spearman of pred vs RNA_sum / DNA_input over pairs
promoter_mean_pearson, enhancer_mean_pearson  Pearson of the per-element means of log_pred and
                                           log_ratio
n_promoters_induced                        promoters in the induced-variation table
enhancer_sd_measured_median / _predicted_median  median SDs of the induced-variation table
enhancer_sd_pearson                        Pearson of the two SDs across those promoters
poisson_log_dna_coef                       the log_DNA_input coefficient of poisson_mult
all_converged                              every GLM fit converged
any_rank_deficient                         a fit's design was rank deficient (disconnected blocks)
=========================================  ==========================================================

Floats are Python floats; NaN is reported as ``None`` (strict JSON).
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
from seqbench.stats.glm import GLMResult, fit_glm, indicator_design, variance_explained

__all__ = [
    "MODELS",
    "REP_COLUMNS",
    "SUMMARY_KEYS",
    "PromoterEnhancerResults",
    "filter_barcodes",
    "fit_model",
    "induced_variation",
    "reduce_promoter_enhancer",
    "replicate_r2",
    "write_tables",
]

PROMOTER, ENHANCER = "promoter", "enhancer"
REP_COLUMNS = tuple(f"weighted_reads_rep{i}" for i in range(1, 5))

#: model name -> (family, response column, covariates, factors)
MODELS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "poisson_promoter": ("poisson", "RNA_sum", ("log_DNA_input",), (PROMOTER,)),
    "poisson_mult": ("poisson", "RNA_sum", ("log_DNA_input",), (PROMOTER, ENHANCER)),
    "ols_measured_mult": ("gaussian", "log_RNA_sum", ("log_DNA_input",), (PROMOTER, ENHANCER)),
    "gamma_promoter": ("gamma", "pred", (), (PROMOTER,)),
    "gamma_mult": ("gamma", "pred", (), (PROMOTER, ENHANCER)),
    "ols_pred_promoter": ("gaussian", "log_pred", (), (PROMOTER,)),
    "ols_pred_mult": ("gaussian", "log_pred", (), (PROMOTER, ENHANCER)),
}

SUMMARY_KEYS = (
    "n_barcodes",
    "n_barcodes_kept",
    "n_pairs",
    "n_promoters",
    "n_enhancers",
    "replicate_r2",
    "promoter_strength_pearson",
    "promoter_strength_spearman",
    "enhancer_strength_pearson",
    "enhancer_strength_spearman",
    "promoter_only_strength_pearson",
    "ols_promoter_strength_pearson",
    "ols_enhancer_strength_pearson",
    "varexpl_measured_promoter",
    "varexpl_measured_promoter_enhancer",
    "varexpl_predicted_promoter",
    "varexpl_predicted_promoter_enhancer",
    "r2_ols_measured_mult",
    "r2_ols_pred_promoter",
    "r2_ols_pred_mult",
    "enhancer_residual_r2_measured",
    "enhancer_residual_r2_predicted",
    "pair_pearson_log",
    "pair_spearman",
    "promoter_mean_pearson",
    "enhancer_mean_pearson",
    "n_promoters_induced",
    "enhancer_sd_measured_median",
    "enhancer_sd_predicted_median",
    "enhancer_sd_pearson",
    "poisson_log_dna_coef",
    "all_converged",
    "any_rank_deficient",
)

MapFn = Callable[[Callable[[Any], Any], list[Any]], Sequence[Any]]


def _sequential_map(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [fn(x) for x in items]


# ---------------------------------------------------------------- filters


def filter_barcodes(
    counts: pd.DataFrame, *, min_dna_input: float = 25, min_barcodes: int = 2
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Apply the §5.2 filters to a barcode table and sum per pair.

    Parameters
    ----------
    counts:
        One row per barcode: ``promoter``, ``enhancer``, ``DNA_input`` and :data:`REP_COLUMNS`
        (numbers >= 0).
    min_dna_input:
        Keep barcodes with ``DNA_input`` strictly above this.
    min_barcodes:
        Keep pairs with at least this many kept barcodes.

    Returns
    -------
    (pairs, counts)
        ``pairs``: ``promoter, enhancer, n_barcodes, DNA_input, RNA_sum, log_ratio``, sorted by
        promoter then enhancer; ``counts``: ``n_barcodes``, ``n_barcodes_kept``,
        ``n_pairs_with_kept_barcodes``, ``n_pairs``.
    """
    rna = counts[list(REP_COLUMNS)].to_numpy(dtype=np.float64).sum(axis=1)
    dna = counts["DNA_input"].to_numpy(dtype=np.float64)
    keep = (dna > min_dna_input) & (rna > 0)
    kept = pd.DataFrame(
        {
            PROMOTER: counts[PROMOTER].astype(str).to_numpy()[keep],
            ENHANCER: counts[ENHANCER].astype(str).to_numpy()[keep],
            "DNA_input": dna[keep],
            "RNA_sum": rna[keep],
        }
    )
    grouped = kept.groupby([PROMOTER, ENHANCER], sort=True)
    pairs = grouped.agg(
        n_barcodes=("DNA_input", "size"), DNA_input=("DNA_input", "sum"), RNA_sum=("RNA_sum", "sum")
    ).reset_index()
    n_with = len(pairs)
    pairs = pairs[pairs["n_barcodes"] >= min_barcodes].reset_index(drop=True)
    pairs["n_barcodes"] = pairs["n_barcodes"].astype(np.int64)
    pairs["log_ratio"] = np.log2(pairs["RNA_sum"] / pairs["DNA_input"])
    stats = {
        "n_barcodes": int(len(counts)),
        "n_barcodes_kept": int(keep.sum()),
        "n_pairs_with_kept_barcodes": int(n_with),
        "n_pairs": int(len(pairs)),
    }
    return pairs, stats


def replicate_r2(counts: pd.DataFrame, *, min_dna_input: float = 25) -> float:
    """Squared Pearson r of ``log2((rep1+rep2)/DNA)`` vs ``log2((rep3+rep4)/DNA)`` over kept barcodes."""
    reps = counts[list(REP_COLUMNS)].to_numpy(dtype=np.float64)
    dna = counts["DNA_input"].to_numpy(dtype=np.float64)
    keep = (dna > min_dna_input) & (reps.sum(axis=1) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log2((reps[keep, 0] + reps[keep, 1]) / dna[keep])
        b = np.log2((reps[keep, 2] + reps[keep, 3]) / dna[keep])
    r = correlate(a, b).pearson_r
    return r * r if np.isfinite(r) else math.nan


# ---------------------------------------------------------------- fits


@dataclass(frozen=True)
class ModelFit:
    """One fitted model, small enough to come back from a worker."""

    name: str
    family: str
    formula: str
    params: pd.Series
    fitted: np.ndarray
    converged: bool
    n_iter: int
    references: dict[str, str]
    rank_deficient: bool = False


def _with_derived(pairs: pd.DataFrame) -> pd.DataFrame:
    out = pairs.copy()
    out["log_DNA_input"] = np.log2(out["DNA_input"].to_numpy(dtype=np.float64) + 1.0)
    out["log_RNA_sum"] = np.log2(out["RNA_sum"].to_numpy(dtype=np.float64) + 1.0)
    if "pred" in out.columns:
        out["log_pred"] = np.log2(out["pred"].to_numpy(dtype=np.float64) + 1.0)
    return out


def fit_model(task: tuple[str, pd.DataFrame, dict[str, str]]) -> ModelFit:
    """Fit one of :data:`MODELS`: ``task = (name, pairs with derived columns, references)``."""
    name, data, references = task
    family, response, covariates, factors = MODELS[name]
    design = indicator_design(data, factors, covariates=covariates, references=references)
    res: GLMResult = fit_glm(design, data[response].to_numpy(dtype=np.float64), family)
    rhs = " + ".join([*covariates, *(f"C({f})" for f in factors)])
    return ModelFit(
        name=name,
        family=family,
        formula=f"{response} ~ {rhs}",
        params=res.params,
        fitted=res.fitted,
        converged=res.converged,
        n_iter=res.n_iter,
        references=dict(design.references),
        rank_deficient=res.rank_deficient,
    )


def factor_coefficients(fit: ModelFit, factor: str) -> pd.Series:
    """Coefficients of ``factor`` indexed by level, the reference level excluded."""
    prefix = f"{factor}[T."
    sel = [k for k in fit.params.index if str(k).startswith(prefix)]
    return pd.Series(
        fit.params[sel].to_numpy(), index=pd.Index([str(k)[len(prefix) : -1] for k in sel], dtype=object)
    )


def _r2(y: np.ndarray, fitted: np.ndarray) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y, fitted))


def _residual_r2(data: pd.DataFrame, residual: np.ndarray, reference: str) -> float:
    frame = pd.DataFrame({ENHANCER: data[ENHANCER].to_numpy(), "r": residual})
    design = indicator_design(frame, [ENHANCER], references={ENHANCER: reference})
    res = fit_glm(design, residual, "gaussian")
    return _r2(residual, res.fitted)


def induced_variation(pairs: pd.DataFrame, promoter_strength: pd.Series, *, min_partners: int) -> pd.DataFrame:
    """Fig. 5D: per promoter with more than ``min_partners`` enhancers, the SDs across its enhancers.

    ``pairs`` needs ``promoter, log_pred, log_ratio``; ``promoter_strength`` is indexed by promoter
    (the reference promoter may be missing: it is 0 by definition).  Returns ``promoter,
    n_partners, sd_log_pred, sd_log_ratio, predicted_strength`` (SD with ``ddof=1``).
    """
    g = pairs.groupby(PROMOTER, sort=True)
    table = pd.DataFrame(
        {
            "n_partners": g.size(),
            "sd_log_pred": g["log_pred"].std(ddof=1),
            "sd_log_ratio": g["log_ratio"].std(ddof=1),
        }
    )
    table = table[table["n_partners"] > min_partners]
    table["predicted_strength"] = promoter_strength.reindex(table.index).fillna(0.0).to_numpy()
    table.index.name = PROMOTER
    return table.reset_index()


# ---------------------------------------------------------------- results


def _nan_none(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return None if math.isnan(x) else x
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


@dataclass(frozen=True)
class PromoterEnhancerResults:
    """Tables of the Bergman reduce (see the module docstring).

    Attributes
    ----------
    pairs:
        One row per fitted pair: the filter sums, ``pred`` (and ``dnase`` when given), the derived
        logs and the fitted means ``mu_<model>`` of every model.
    promoters, enhancers:
        One row per element: ``n_pairs``, the coefficients of every model with that factor
        (``coef_<model>``; 0 for the baseline), ``mean_log_ratio``, ``mean_log_pred``, ``is_baseline``.
    models:
        One row per model: ``model, family, formula, data, converged, n_iter, variance_explained``
        (GLMs) and ``r2`` (OLS).
    induced:
        The induced-variation table (:func:`induced_variation`).
    stats:
        The summary values (see :meth:`summary`).
    """

    pairs: pd.DataFrame
    promoters: pd.DataFrame
    enhancers: pd.DataFrame
    models: pd.DataFrame
    induced: pd.DataFrame
    stats: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """Flat, strict-JSON dict with the keys :data:`SUMMARY_KEYS`."""
        return {k: _nan_none(self.stats.get(k, math.nan)) for k in SUMMARY_KEYS}


def _element_table(
    data: pd.DataFrame, factor: str, fits: dict[str, ModelFit], reference: str
) -> pd.DataFrame:
    g = data.groupby(factor, sort=True)
    table = pd.DataFrame(
        {"n_pairs": g.size(), "mean_log_ratio": g["log_ratio"].mean(), "mean_log_pred": g["log_pred"].mean()}
    )
    for name, fit in fits.items():
        if factor in MODELS[name][3]:
            coef = factor_coefficients(fit, factor)
            table[f"coef_{name}"] = coef.reindex(table.index).fillna(0.0).to_numpy()
    table["is_baseline"] = table.index == reference
    table.index.name = factor
    return table.reset_index()


def _pair_corr(table: pd.DataFrame, a: str, b: str, kind: str = "pearson_r") -> float:
    rows = table[~table["is_baseline"]]
    return getattr(correlate(rows[a].to_numpy(), rows[b].to_numpy()), kind)


def reduce_promoter_enhancer(
    pairs: pd.DataFrame,
    *,
    base_promoter: str,
    base_enhancer: str,
    min_partners: int = 500,
    filter_counts: dict[str, int] | None = None,
    replicate: float = math.nan,
    map_fn: MapFn = _sequential_map,
) -> PromoterEnhancerResults:
    """Fit every model of :data:`MODELS` and summarise.

    Parameters
    ----------
    pairs:
        From :func:`filter_barcodes`, joined with ``pred`` (> 0, the ensemble-mean readout of the
        pair's construct in natural scale); optional ``dnase``.
    base_promoter, base_enhancer:
        Reference levels (the paper's median-activity random-background elements); they must
        occur in ``pairs``.
    min_partners:
        Induced variation uses promoters with more than this many partner enhancers.
    filter_counts:
        The barcode counts of :func:`filter_barcodes` (reported).
    replicate:
        :func:`replicate_r2` (reported).
    map_fn:
        ``map_fn(fn, items)``; the seven fits run through it.
    """
    for col in (PROMOTER, ENHANCER, "DNA_input", "RNA_sum", "log_ratio", "pred"):
        if col not in pairs.columns:
            raise ValueError(f"pairs: column {col!r} is missing; columns are {list(pairs.columns)}")
    pred = pairs["pred"].to_numpy(dtype=np.float64)
    if not (np.isfinite(pred) & (pred > 0)).all():
        bad = int(np.flatnonzero(~(np.isfinite(pred) & (pred > 0)))[0])
        raise ValueError(f"pairs: pred must be finite and > 0 for the Gamma fits; row {bad} is {pred[bad]!r}")
    for factor, base in ((PROMOTER, base_promoter), (ENHANCER, base_enhancer)):
        if not (pairs[factor].astype(str) == base).any():
            raise ValueError(f"baseline {factor} {base!r} is not among the {pairs[factor].nunique()} fitted {factor}s")
    data = _with_derived(pairs.reset_index(drop=True))
    data[PROMOTER] = data[PROMOTER].astype(str)
    data[ENHANCER] = data[ENHANCER].astype(str)
    refs = {PROMOTER: base_promoter, ENHANCER: base_enhancer}
    names = list(MODELS)
    # each task gets only its columns, factors as categoricals (codes, not a million strings)
    factors = {f: pd.Categorical(data[f], categories=sorted(data[f].unique())) for f in (PROMOTER, ENHANCER)}
    tasks = []
    for name in names:
        _, response, covariates, fs = MODELS[name]
        cols = {f: factors[f] for f in fs} | {c: data[c].to_numpy() for c in (response, *covariates)}
        tasks.append((name, pd.DataFrame(cols), {f: refs[f] for f in fs}))
    results = map_fn(fit_model, tasks)
    fits: dict[str, ModelFit] = dict(zip(names, results, strict=True))

    rows = []
    for name, fit in fits.items():
        family, response, _, _ = MODELS[name]
        data[f"mu_{name}"] = fit.fitted
        y = data[response].to_numpy(dtype=np.float64)
        ve = variance_explained(y, fit.fitted) if family != "gaussian" else math.nan
        r2 = _r2(y, fit.fitted) if family == "gaussian" else math.nan
        rows.append(
            {
                "model": name,
                "family": family,
                "formula": fit.formula,
                "data": "predicted" if response in ("pred", "log_pred") else "measured",
                "converged": fit.converged,
                "n_iter": fit.n_iter,
                "rank_deficient": fit.rank_deficient,
                "variance_explained": ve,
                "r2": r2,
            }
        )
    models = pd.DataFrame(rows)

    resid_meas = data["log_RNA_sum"].to_numpy() - np.log2(data["mu_poisson_promoter"].to_numpy() + 1.0)
    resid_pred = data["log_pred"].to_numpy() - data["mu_ols_pred_promoter"].to_numpy()
    promoters = _element_table(data, PROMOTER, fits, base_promoter)
    enhancers = _element_table(data, ENHANCER, fits, base_enhancer)
    gamma_prom = factor_coefficients(fits["gamma_promoter"], PROMOTER)
    induced = induced_variation(data, gamma_prom, min_partners=min_partners)

    def ve(name: str) -> float:
        return float(models.loc[models["model"] == name, "variance_explained"].iloc[0])

    def r2(name: str) -> float:
        return float(models.loc[models["model"] == name, "r2"].iloc[0])

    pair_log = correlate(data["log_pred"].to_numpy(), data["log_ratio"].to_numpy())
    pair_raw = correlate(pred, (data["RNA_sum"] / data["DNA_input"]).to_numpy())
    fc = filter_counts or {}
    stats: dict[str, Any] = {
        "n_barcodes": fc.get("n_barcodes", math.nan),
        "n_barcodes_kept": fc.get("n_barcodes_kept", math.nan),
        "n_pairs": int(len(data)),
        "n_promoters": int(data[PROMOTER].nunique()),
        "n_enhancers": int(data[ENHANCER].nunique()),
        "replicate_r2": replicate,
        "promoter_strength_pearson": _pair_corr(promoters, "coef_poisson_mult", "coef_gamma_mult"),
        "promoter_strength_spearman": _pair_corr(promoters, "coef_poisson_mult", "coef_gamma_mult", "spearman_r"),
        "enhancer_strength_pearson": _pair_corr(enhancers, "coef_poisson_mult", "coef_gamma_mult"),
        "enhancer_strength_spearman": _pair_corr(enhancers, "coef_poisson_mult", "coef_gamma_mult", "spearman_r"),
        "promoter_only_strength_pearson": _pair_corr(promoters, "coef_poisson_promoter", "coef_gamma_promoter"),
        "ols_promoter_strength_pearson": _pair_corr(promoters, "coef_ols_measured_mult", "coef_ols_pred_mult"),
        "ols_enhancer_strength_pearson": _pair_corr(enhancers, "coef_ols_measured_mult", "coef_ols_pred_mult"),
        "varexpl_measured_promoter": ve("poisson_promoter"),
        "varexpl_measured_promoter_enhancer": ve("poisson_mult"),
        "varexpl_predicted_promoter": ve("gamma_promoter"),
        "varexpl_predicted_promoter_enhancer": ve("gamma_mult"),
        "r2_ols_measured_mult": r2("ols_measured_mult"),
        "r2_ols_pred_promoter": r2("ols_pred_promoter"),
        "r2_ols_pred_mult": r2("ols_pred_mult"),
        "enhancer_residual_r2_measured": _residual_r2(data, resid_meas, base_enhancer),
        "enhancer_residual_r2_predicted": _residual_r2(data, resid_pred, base_enhancer),
        "pair_pearson_log": pair_log.pearson_r,
        "pair_spearman": pair_raw.spearman_r,
        "promoter_mean_pearson": correlate(promoters["mean_log_pred"], promoters["mean_log_ratio"]).pearson_r,
        "enhancer_mean_pearson": correlate(enhancers["mean_log_pred"], enhancers["mean_log_ratio"]).pearson_r,
        "n_promoters_induced": int(len(induced)),
        "enhancer_sd_measured_median": float(induced["sd_log_ratio"].median()) if len(induced) else math.nan,
        "enhancer_sd_predicted_median": float(induced["sd_log_pred"].median()) if len(induced) else math.nan,
        "enhancer_sd_pearson": correlate(induced["sd_log_pred"], induced["sd_log_ratio"]).pearson_r,
        "poisson_log_dna_coef": float(fits["poisson_mult"].params["log_DNA_input"]),
        "all_converged": bool(all(f.converged for f in fits.values())),
        "any_rank_deficient": bool(any(f.rank_deficient for f in fits.values())),
    }
    return PromoterEnhancerResults(data, promoters, enhancers, models, induced, stats)


# ---------------------------------------------------------------- tables

#: table stem -> (attribute, also CSV?)
TABLE_FILES = {
    "promoter_enhancer_mpra_pairs": ("pairs", False),
    "promoter_enhancer_mpra_promoters": ("promoters", True),
    "promoter_enhancer_mpra_enhancers": ("enhancers", True),
    "promoter_enhancer_mpra_models": ("models", True),
    "promoter_enhancer_mpra_induced_variation": ("induced", True),
}
SUMMARY_FILE = "promoter_enhancer_mpra_summary.json"


def write_tables(results: PromoterEnhancerResults, out_dir: Path) -> list[Path]:
    """Write every table as Parquet (the small ones also as CSV) and the summary as JSON, atomically."""
    frames = {stem: getattr(results, attr).reset_index(drop=True) for stem, (attr, _) in TABLE_FILES.items()}
    written = write_frames(frames, out_dir, csv=[stem for stem, (_, csv) in TABLE_FILES.items() if csv])
    written.append(write_json(Path(out_dir) / SUMMARY_FILE, results.summary()))
    return written
