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

Summary keys of one insert type (:data:`SINGLE_INSERT_KEYS`, :meth:`PromoterEnhancerResults.summary`)
-------------------------------------------------------------------------------------------------------
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

The job (:func:`reduce_bergman`, :class:`BergmanResults`)
----------------------------------------------------------
Every insert type of the job (``min_plasmid``, ``full_plasmid``, ``aavs1``) is reduced as above on
its own predictions; the measured models are the same rows in every insert type and are fitted
once.  The job's summary (:data:`SUMMARY_KEYS`) is the primary insert type's
(``min_plasmid`` when present) followed by :data:`JOB_KEYS`: the spec's choices (``insert_types``,
``primary_insert``, ``landmark``, ``promoter_only``), :data:`PER_INSERT` values per insert type
(suffix ``_<insert type>``), ``pred_pearson_full_vs_min`` / ``_aavs1_vs_min`` (Pearson of
``log_pred`` with the minimal insert's over the same pairs), ``best_insert_pair_pearson`` (the
insert type whose ``pair_pearson_log`` is highest, ties within :data:`TIE` to the earlier one), the
fragments-alone values :data:`PROMOTER_ONLY_KEYS` (Spearman of ``pred`` and Pearson of
``log_pred = log2(pred + 1)`` alone with the measured ``poisson_mult`` strength, promoters and
enhancers apart; Pearson of a promoter's ``log_pred`` alone with its ``gamma_promoter`` strength in
the pairs; median enhancer-fragment ``pred`` over median promoter-fragment ``pred``), and
``undefined``: key -> the reason its value is null.

Floats are Python floats; NaN is reported as ``None`` (strict JSON).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.report.tables import write_frames, write_json
from seqbench.stats.common import correlate
from seqbench.stats.glm import GLMResult, fit_glm, indicator_design, variance_explained

__all__ = [
    "INSERT_TYPES",
    "JOB_KEYS",
    "MODELS",
    "REP_COLUMNS",
    "SINGLE_INSERT_KEYS",
    "SUMMARY_KEYS",
    "BergmanResults",
    "PromoterEnhancerResults",
    "filter_barcodes",
    "fit_model",
    "induced_variation",
    "reduce_bergman",
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

#: the summary of one insert type (:class:`PromoterEnhancerResults`); the job's summary has them for
#: the primary insert type, then :data:`JOB_KEYS`
SINGLE_INSERT_KEYS = (
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

INSERT_TYPES = ("min_plasmid", "full_plasmid", "aavs1")
#: per insert type (suffix ``_<insert type>``): the figures the minimal-vs-full comparison reads
PER_INSERT = (
    "pair_pearson_log",
    "pair_spearman",
    "promoter_strength_pearson",
    "enhancer_strength_pearson",
    "varexpl_predicted_promoter",
)
PROMOTER_ONLY_KEYS = (
    "n_fragments_alone",
    "promoteronly_promoter_spearman",
    "promoteronly_promoter_pearson",
    "promoteronly_enhancer_spearman",
    "promoteronly_enhancer_pearson",
    "promoteronly_vs_pairs_promoter_pearson",
    "promoteronly_enhancer_over_promoter_median",
)
JOB_KEYS = (
    "insert_types",
    "primary_insert",
    "landmark",
    "promoter_only",
    *(f"{k}_{t}" for t in INSERT_TYPES for k in PER_INSERT),
    "pred_pearson_full_vs_min",
    "pred_pearson_aavs1_vs_min",
    "best_insert_pair_pearson",
    *PROMOTER_ONLY_KEYS,
    "undefined",
)
SUMMARY_KEYS = (*SINGLE_INSERT_KEYS, *JOB_KEYS)

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
    fits: dict[str, ModelFit] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        """Flat, strict-JSON dict with the keys :data:`SINGLE_INSERT_KEYS`."""
        return {k: _nan_none(self.stats.get(k, math.nan)) for k in SINGLE_INSERT_KEYS}


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


#: coefficients (ln fold changes) that all lie within this of each other are taken as constant: a
#: correlation with them is undefined (e.g. the planted model read at the enhancer has no promoter effect)
FLAT = 1e-6


#: correlations closer than this are a tie (``best_insert_pair_pearson``)
TIE = 1e-6


def _flat(values: np.ndarray) -> bool:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return v.size == 0 or float(v.max() - v.min()) <= FLAT


def _pair_corr(table: pd.DataFrame, a: str, b: str, kind: str = "pearson_r") -> float:
    rows = table[~table["is_baseline"]]
    x, y = rows[a].to_numpy(dtype=np.float64), rows[b].to_numpy(dtype=np.float64)
    if _flat(x) or _flat(y):
        return math.nan
    return getattr(correlate(x, y), kind)


def reduce_promoter_enhancer(
    pairs: pd.DataFrame,
    *,
    base_promoter: str,
    base_enhancer: str,
    min_partners: int = 500,
    filter_counts: dict[str, int] | None = None,
    replicate: float = math.nan,
    map_fn: MapFn = _sequential_map,
    reuse: dict[str, ModelFit] | None = None,
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
    reuse:
        Fits already made on the same rows (same pairs in the same order), by model name: the
        measured models of another insert type of the same job are not fitted again.
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
    reuse = reuse or {}
    todo = [(n, task) for n, task in zip(names, tasks, strict=True) if n not in reuse]
    done = dict(zip([n for n, _ in todo], map_fn(fit_model, [task for _, task in todo]), strict=True))
    fits: dict[str, ModelFit] = {n: reuse[n] if n in reuse else done[n] for n in names}

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
    return PromoterEnhancerResults(data, promoters, enhancers, models, induced, stats, fits)


# ---------------------------------------------------------------- the job: insert types, fragments alone


@dataclass(frozen=True)
class BergmanResults:
    """The job's results: every insert type's fits, their comparison and the fragments alone.

    Attributes
    ----------
    by_insert:
        Insert type -> its :class:`PromoterEnhancerResults` (the predicted models fitted on that
        insert type's predictions; the measured models are the same data and fitted once).
    primary:
        The insert type the §5.4 summary keys read: ``min_plasmid`` when present (the paper's fits),
        else the first of ``inputs.insert_types``.
    inserts:
        One row per insert type: ``insert_type``, every value of :data:`SINGLE_INSERT_KEYS` and
        ``pred_pearson_vs_min`` (Pearson of ``log_pred`` with the ``min_plasmid`` one over the
        same pairs).
    alone:
        One row per fragment predicted alone and insert type (empty without ``inputs.promoter_only``):
        ``fragment, fragment_kind, insert_type, pred, log_pred, measured_strength`` (the element's
        ``poisson_mult`` coefficient, ln; 0 for the baseline), ``pairs_strength`` (its predicted
        strength in the pairs: ``gamma_promoter`` coefficient of a promoter, ``gamma_mult``
        coefficient of an enhancer, same insert type), ``is_baseline``.
    settings:
        ``insert_types``, ``landmark``, ``promoter_only`` (the spec's choices).
    stats:
        The values of :data:`JOB_KEYS`.
    """

    by_insert: dict[str, PromoterEnhancerResults]
    primary: str
    inserts: pd.DataFrame
    alone: pd.DataFrame
    settings: dict[str, Any]
    stats: dict[str, Any]

    def _cat(self, attr: str) -> pd.DataFrame:
        frames = []
        for itype, res in self.by_insert.items():
            f = getattr(res, attr).copy()
            f.insert(0, "insert_type", itype)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    @property
    def primary_results(self) -> PromoterEnhancerResults:
        return self.by_insert[self.primary]

    @property
    def pairs(self) -> pd.DataFrame:
        return self._cat("pairs")

    @property
    def promoters(self) -> pd.DataFrame:
        return self._cat("promoters")

    @property
    def enhancers(self) -> pd.DataFrame:
        return self._cat("enhancers")

    @property
    def models(self) -> pd.DataFrame:
        return self._cat("models")

    @property
    def induced(self) -> pd.DataFrame:
        return self._cat("induced")

    def summary(self) -> dict[str, Any]:
        """Strict-JSON dict with the keys :data:`SUMMARY_KEYS`: the primary insert type's
        :data:`SINGLE_INSERT_KEYS`, then :data:`JOB_KEYS` (``undefined``: key -> why it is null)."""
        out = self.primary_results.summary()
        for k in JOB_KEYS:
            v = self.stats.get(k, math.nan)
            out[k] = v if k in ("insert_types", "undefined") else _nan_none(v)
        out["undefined"] = _why_undefined(out, self)
        return out


def _same_rows(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    cols = [PROMOTER, ENHANCER, "DNA_input", "RNA_sum"]
    return len(a) == len(b) and all(np.array_equal(a[c].to_numpy(), b[c].to_numpy()) for c in cols)


def _alone_table(alone: pd.DataFrame, res: PromoterEnhancerResults, itype: str) -> pd.DataFrame:
    a = alone[alone["insert_type"].astype(str) == itype]
    rows = []
    for kind, strength_model in ((PROMOTER, "gamma_promoter"), (ENHANCER, "gamma_mult")):
        sub = a[a["fragment_kind"] == kind]
        elements = getattr(res, f"{kind}s").set_index(kind)
        measured = elements["coef_poisson_mult"].reindex(sub["fragment"].to_numpy()).to_numpy()
        pairs_strength = elements[f"coef_{strength_model}"].reindex(sub["fragment"].to_numpy()).to_numpy()
        base = elements.index[elements["is_baseline"]]
        rows.append(pd.DataFrame({
            "fragment": sub["fragment"].to_numpy(dtype=object),
            "fragment_kind": kind,
            "insert_type": itype,
            "pred": sub["pred"].to_numpy(dtype=np.float64),
            "log_pred": np.log2(sub["pred"].to_numpy(dtype=np.float64) + 1.0),
            "measured_strength": measured,
            "pairs_strength": pairs_strength,
            "is_baseline": sub["fragment"].isin(base).to_numpy(),
        }))
    return pd.concat(rows, ignore_index=True)


def _alone_stats(table: pd.DataFrame) -> dict[str, float]:
    prom = table[table["fragment_kind"] == PROMOTER]
    enh = table[table["fragment_kind"] == ENHANCER]
    cp = correlate(prom["log_pred"], prom["measured_strength"])
    ce = correlate(enh["log_pred"], enh["measured_strength"])
    mp = float(prom["pred"].median()) if len(prom) else math.nan
    me = float(enh["pred"].median()) if len(enh) else math.nan
    return {
        "n_fragments_alone": int(len(table)),
        "promoteronly_promoter_spearman": cp.spearman_r,
        "promoteronly_promoter_pearson": cp.pearson_r,
        "promoteronly_enhancer_spearman": ce.spearman_r,
        "promoteronly_enhancer_pearson": ce.pearson_r,
        "promoteronly_vs_pairs_promoter_pearson": correlate(prom["log_pred"], prom["pairs_strength"]).pearson_r,
        "promoteronly_enhancer_over_promoter_median": me / mp if mp > 0 else math.nan,
    }


def reduce_bergman(
    pairs: pd.DataFrame,
    alone: pd.DataFrame | None = None,
    *,
    base_promoter: str,
    base_enhancer: str,
    landmark: str = "promoter",
    min_partners: int = 500,
    filter_counts: dict[str, int] | None = None,
    replicate: float = math.nan,
    map_fn: MapFn = _sequential_map,
) -> BergmanResults:
    """Fit the §5.4 models for every insert type, compare the insert types, relate the fragments alone.

    Parameters
    ----------
    pairs:
        As :func:`reduce_promoter_enhancer`, plus ``insert_type``: one row per pair and insert type.
    alone:
        The fragments alone (``fragment, fragment_kind, insert_type, pred``), or None / empty.
    landmark:
        ``"promoter"`` or ``"enhancer"`` (recorded, and named where a strength does not vary).
    Other parameters:
        As :func:`reduce_promoter_enhancer`.
    """
    if "insert_type" not in pairs.columns:
        raise ValueError(f"pairs: column 'insert_type' is missing; columns are {list(pairs.columns)}")
    types = [str(x) for x in dict.fromkeys(pairs["insert_type"].astype(str))]
    primary = "min_plasmid" if "min_plasmid" in types else types[0]
    by_insert: dict[str, PromoterEnhancerResults] = {}
    first: pd.DataFrame | None = None
    for itype in sorted(types, key=lambda x: x != primary):  # the primary first: its measured fits are reused
        sub = pairs[pairs["insert_type"].astype(str) == itype].drop(columns="insert_type")
        # one row order for every insert type (so that the measured fits can be shared)
        sub = sub.sort_values([PROMOTER, ENHANCER], kind="mergesort").reset_index(drop=True)
        reuse = None
        if first is not None and _same_rows(first, sub):
            reuse = {n: f for n, f in by_insert[primary].fits.items() if MODELS[n][1] not in ("pred", "log_pred")}
        by_insert[itype] = reduce_promoter_enhancer(
            sub, base_promoter=base_promoter, base_enhancer=base_enhancer, min_partners=min_partners,
            filter_counts=filter_counts, replicate=replicate, map_fn=map_fn, reuse=reuse,
        )
        first = sub if first is None else first
    by_insert = {t: by_insert[t] for t in types}  # the spec's order

    rows = []
    min_log = by_insert["min_plasmid"].pairs.set_index([PROMOTER, ENHANCER])["log_pred"] if "min_plasmid" in by_insert \
        else None
    vs_min: dict[str, float] = {}
    for itype, res in by_insert.items():
        v = math.nan
        if min_log is not None:
            lp = res.pairs.set_index([PROMOTER, ENHANCER])["log_pred"]
            both = pd.concat([lp.rename("t"), min_log.rename("m")], axis=1, join="inner")
            v = correlate(both["t"], both["m"]).pearson_r
        vs_min[itype] = v
        rows.append({"insert_type": itype, **{k: res.stats.get(k, math.nan) for k in SINGLE_INSERT_KEYS},
                     "pred_pearson_vs_min": v})
    inserts = pd.DataFrame(rows)

    stats: dict[str, Any] = {
        "insert_types": types,
        "primary_insert": primary,
        "landmark": landmark,
        "promoter_only": bool(alone is not None and len(alone) > 0),
    }
    for itype in INSERT_TYPES:
        for k in PER_INSERT:
            stats[f"{k}_{itype}"] = by_insert[itype].stats[k] if itype in by_insert else math.nan
    stats["pred_pearson_full_vs_min"] = vs_min.get("full_plasmid", math.nan)
    stats["pred_pearson_aavs1_vs_min"] = vs_min.get("aavs1", math.nan)
    r = {t: by_insert[t].stats["pair_pearson_log"] for t in types}
    finite = {t: v for t, v in r.items() if isinstance(v, float) and math.isfinite(v)}
    # ties (within TIE: the same readout in two insert types, e.g. aavs1 far from any element) go to the
    # earlier insert type of the spec, so the answer does not hang on the last bits of a float32 prediction
    top = max(finite.values()) if finite else math.nan
    best = next((t for t in types if t in finite and finite[t] >= top - TIE), None)
    stats["best_insert_pair_pearson"] = best if len(finite) >= 2 else None

    alone_table = pd.DataFrame(columns=["fragment", "fragment_kind", "insert_type", "pred", "log_pred",
                                        "measured_strength", "pairs_strength", "is_baseline"])
    if alone is not None and len(alone):
        alone_table = pd.concat([_alone_table(alone, by_insert[t], t) for t in types], ignore_index=True)
        stats.update(_alone_stats(alone_table[alone_table["insert_type"] == primary]))
    else:
        stats.update({k: math.nan for k in PROMOTER_ONLY_KEYS})
        stats["n_fragments_alone"] = 0
    settings = {"insert_types": types, "landmark": landmark, "promoter_only": stats["promoter_only"]}
    return BergmanResults(by_insert, primary, inserts, alone_table, settings, stats)


#: summary keys that read the predicted promoter (enhancer) strengths of the primary insert type
_PROMOTER_STRENGTH_KEYS = ("promoter_strength_pearson", "promoter_strength_spearman", "promoter_only_strength_pearson",
                           "ols_promoter_strength_pearson")
_ENHANCER_STRENGTH_KEYS = ("enhancer_strength_pearson", "enhancer_strength_spearman", "ols_enhancer_strength_pearson")


def _why_undefined(summary: dict[str, Any], results: BergmanResults) -> dict[str, str]:
    """Every null summary value with the reason it is null (the reader should not take it for a bug)."""
    types = results.settings["insert_types"]
    why: dict[str, str] = {}

    def flat(res: PromoterEnhancerResults, kind: str) -> bool:
        table = getattr(res, f"{kind}s")
        table = table[~table["is_baseline"]]
        return any(_flat(table[c].to_numpy()) for c in table.columns if c.startswith("coef_") and (
            "gamma" in c or "pred" in c))

    def strength(res: PromoterEnhancerResults, kind: str) -> str | None:
        if flat(res, kind):
            return (f"the predicted {kind} strengths do not vary (all within {FLAT:g} of each other): the readout at"
                    f" the {results.settings['landmark']} midpoint does not depend on the {kind}")
        return None

    for key, value in summary.items():
        if value is not None or key == "undefined":
            continue
        reason = None
        itype = next((t for t in INSERT_TYPES if key.endswith("_" + t)), None)
        if itype is not None and itype not in types:
            reason = f"insert type {itype} is not in inputs.insert_types"
        elif key in PROMOTER_ONLY_KEYS and not results.settings["promoter_only"]:
            reason = "inputs.promoter_only = false: no fragment was predicted alone"
        elif key in ("pred_pearson_full_vs_min", "pred_pearson_aavs1_vs_min"):
            other = "full_plasmid" if "full" in key else "aavs1"
            if not {"min_plasmid", other} <= set(types):
                reason = f"needs min_plasmid and {other} in inputs.insert_types"
        elif key == "best_insert_pair_pearson" and len(types) < 2:
            reason = "a single insert type: nothing to compare"
        elif key.startswith("enhancer_sd_") and not summary.get("n_promoters_induced"):
            reason = "no promoter has more than inputs.min_partners partner enhancers (induced variation)"
        if reason is None:
            res = results.by_insert.get(itype or results.primary)
            base = key[: -len(itype) - 1] if itype else key
            if res is not None and base in _PROMOTER_STRENGTH_KEYS:
                reason = strength(res, PROMOTER)
            elif res is not None and base in _ENHANCER_STRENGTH_KEYS:
                reason = strength(res, ENHANCER)
        why[key] = reason or "undefined on this job's data: fewer than 3 finite values, or a side without variance"
    return why


# ---------------------------------------------------------------- tables

#: table stem -> (attribute, also CSV?)
TABLE_FILES = {
    "promoter_enhancer_mpra_pairs": ("pairs", False),
    "promoter_enhancer_mpra_promoters": ("promoters", True),
    "promoter_enhancer_mpra_enhancers": ("enhancers", True),
    "promoter_enhancer_mpra_models": ("models", True),
    "promoter_enhancer_mpra_induced_variation": ("induced", True),
    "promoter_enhancer_mpra_inserts": ("inserts", True),
    "promoter_enhancer_mpra_alone": ("alone", True),
}
SUMMARY_FILE = "promoter_enhancer_mpra_summary.json"


def write_tables(results: BergmanResults, out_dir: Path) -> list[Path]:
    """Write every table as Parquet (the small ones also as CSV) and the summary as JSON, atomically."""
    frames = {stem: getattr(results, attr).reset_index(drop=True) for stem, (attr, _) in TABLE_FILES.items()}
    written = write_frames(frames, out_dir, csv=[stem for stem, (_, csv) in TABLE_FILES.items() if csv])
    written.append(write_json(Path(out_dir) / SUMMARY_FILE, results.summary()))
    return written
