"""Statistics of tissue-expression (experiments-spec §1.4), on plain frames.

Everything here works on gene-level tables the design module prepares:

* ``features``: one row per gene (index ``gene_id``), one column per model feature, holding
  ``log10(pred + 1)`` of the member mean (natural scale first, log after; §0.4);
* a :class:`Dataset` per measurement set (GTEx tissues, Cardoso-Moreira samples): the wide
  ``log10(x + 1)`` matrix genes x conditions after the authors' filters, and the conditions' labels;
* ``split``: ``"train"``/``"test"`` per gene (genes the authors drop are absent).

Per dataset (:func:`analyse_dataset`):

1. **Ridge matching** (§1.4 item 5): per condition, ``StandardScaler`` + ``RidgeCV`` (alphas 0.1, 1,
   10) from the features to ``log10(x + 1)`` minus its training mean, fitted on the training genes.
   All conditions share the genes, so :func:`seqbench.stats.ridge.fit_ridge_matches` fits a chunk of
   conditions at once; chunks run through ``map_fn`` (parallel CPU tasks under the runtime).  Test
   metrics (Pearson, Spearman, R², RMSE) against the intercept-only null (predicts the training
   mean: 0 after centring).
2. **Add-ons** (item 6): exon-intron ratio (GTEx: ``RidgeCV`` on [ridge prediction, ratio]) and
   Xpresso (GTEx: [xpresso]; Cardoso-Moreira: [log10 gene length, xpresso]), Pearson on test genes;
   **manual matching** (item 10): the mean ``log10(pred + 1)`` of the tracks whose description holds
   one of the condition's keywords, centred by its training mean.
3. **Between conditions** (item 7): per test gene, Pearson / Spearman / R² across its conditions
   (Cardoso-Moreira: replicates averaged per organ and stage first, then across the stages of each
   organ), the Bonferroni trend call, dynamic-range classes; genes whose measurements do not vary are
   skipped and counted.  Also the gene-level correlations of the manual-match notebook: gene means,
   gene standard deviations and deviations from the gene mean, predicted vs measured.
4. **Variance decomposition and differential calls** (item 8) on the test genes; spreads in log2.

Units: ``log10(x + 1)`` for every ``log_*`` column; deviations and spreads reported in log2 units
where the authors do (``/ log10(2)``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.inputs.tables import InputError
from seqbench.stats.common import correlate
from seqbench.stats.conditions import (
    LOG10_2,
    between_condition_correlations,
    differential_calls,
    variance_decomposition,
)
from seqbench.stats.ridge import RidgeMatch, RidgeMatchError, fit_ridge_matches, match_metrics

MapFn = Callable[[Callable[[Any], Any], list[Any]], list[Any]]

#: conditions per ridge task (one multi-target fit each)
CONDITIONS_PER_TASK = 8
DATASETS = ("gtex", "kaessmann")
#: the spread of the variance decomposition per dataset (§1.4 item 8: 2.5-97.5 % GTEx, 5-95 % Kaessmann)
RANGE_PERCENTILES = {"gtex": (2.5, 97.5), "kaessmann": (5.0, 95.0)}
#: what the keys of a summary are, per dataset (prefixed ``gtex_`` / ``kaessmann_``)
DATASET_KEYS = (
    "n_conditions", "n_train", "n_test", "median_pearson", "median_spearman", "median_r2", "median_rmse",
    "median_null_r2", "median_null_rmse", "gene_mean_r", "gene_sd_r", "deviation_r",
    "between_median_pearson", "between_trend_fraction", "between_n_genes", "between_skipped",
    "explained_by_gene_means", "explained_by_model", "dynamic_range_log2", "rmse_log2", "mae_log2",
    "differential_fpr", "differential_fpr_as_coded", "differential_precision", "differential_recall",
    "differential_mcc", "differential_prevalence", "median_pearson_exon_intron", "median_pearson_xpresso",
    "median_pearson_manual", "dropped_par_y", "dropped_all_zero", "dropped_chrY_chrM",
)
SUMMARY_KEYS = (
    "n_features", "n_genes_predicted", "n_genes_train", "n_genes_test", "n_genes_dropped_split",
    *(f"{d}_{k}" for d in DATASETS for k in DATASET_KEYS),
)


@dataclass
class Dataset:
    """One measurement set after the authors' filters.

    ``observed``: ``log10(x + 1)`` (TPM or RPKM), index ``gene_id`` (sorted), one column per condition;
    ``conditions``: ``condition`` (the column name), ``organ`` and ``stage`` (Cardoso-Moreira; ``None``
    for GTEx), in column order; ``dropped``: genes dropped per filter (``par_y``, ``all_zero``, ``chrY_chrM``).
    """

    name: str
    observed: pd.DataFrame
    conditions: pd.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class Extras:
    """Optional add-on predictors (§1.4 items 6 and 10), all indexed by ``gene_id``.

    ``exon_intron``: genes x GTEx tissues (the processed ratio, tissue-centred, NaN -> 0);
    ``xpresso``: the Xpresso prediction per gene; ``log_len``: log10 gene length per gene;
    ``manual``: ``{dataset: {condition or organ: [feature columns]}}`` of the keyword matching.
    """

    exon_intron: pd.DataFrame | None = None
    xpresso: pd.Series | None = None
    log_len: pd.Series | None = None
    manual: Mapping[str, Mapping[str, Sequence[str]]] | None = None


@dataclass
class DatasetResult:
    """Everything one dataset yields (see the module docstring)."""

    name: str
    metrics: pd.DataFrame  # one row per condition
    predictions: pd.DataFrame  # test genes x conditions, long: gene_id, condition, organ, stage, log_obs, log_pred
    between: pd.DataFrame  # one row per gene (GTEx) or gene x organ (Cardoso-Moreira)
    between_skipped: int
    gene_level: dict[str, float]
    decomposition: dict[str, float]
    differential: dict[str, Any]
    matches: list[RidgeMatch]
    dropped: dict[str, int]

    def summary(self) -> dict[str, Any]:
        m = self.metrics
        d = self.decomposition
        diff = self.differential

        def med(col: str) -> float | None:
            return _num(m[col].median()) if col in m and m[col].notna().any() else None

        return {
            "n_conditions": int(len(m)),
            "n_train": int(m["n_train"].iloc[0]) if len(m) else 0,
            "n_test": int(m["n_test"].iloc[0]) if len(m) else 0,
            "median_pearson": med("pearson"), "median_spearman": med("spearman"), "median_r2": med("r2"),
            "median_rmse": med("rmse"), "median_null_r2": med("null_r2"), "median_null_rmse": med("null_rmse"),
            **{k: _num(v) for k, v in self.gene_level.items()},
            "between_median_pearson": _num(self.between["pearson"].median()) if len(self.between) else None,
            "between_trend_fraction": _num(self.between["trend_predicted"].mean()) if len(self.between) else None,
            "between_n_genes": int(len(self.between)),
            "between_skipped": int(self.between_skipped),
            "explained_by_gene_means": _num(d.get("explained_by_gene_means")),
            "explained_by_model": _num(d.get("explained_by_model")),
            "dynamic_range_log2": _num(d.get("dynamic_range_log2")),
            "rmse_log2": _num(d.get("rmse_log2")),
            "mae_log2": _num(d.get("mae_log2")),
            **{f"differential_{k}": _num(diff.get(k)) for k in
               ("fpr", "fpr_as_coded", "precision", "recall", "mcc", "prevalence")},
            "median_pearson_exon_intron": med("pearson_exon_intron"),
            "median_pearson_xpresso": med("pearson_xpresso"),
            "median_pearson_manual": med("pearson_manual"),
            "dropped_par_y": self.dropped.get("par_y"),
            "dropped_all_zero": self.dropped.get("all_zero"),
            "dropped_chrY_chrM": self.dropped.get("chrY_chrM"),
        }


@dataclass
class ExpressionResults:
    """The results of one variant (model x window) of a tissue-expression job."""

    features: list[str]  # the model's feature columns, in the fitted order
    split: pd.Series  # gene_id -> train/test of the genes with predictions
    datasets: dict[str, DatasetResult]
    n_genes_predicted: int
    n_dropped_split: int
    differential_threshold: float

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_features": len(self.features),
            "n_genes_predicted": int(self.n_genes_predicted),
            "n_genes_train": int((self.split == "train").sum()),
            "n_genes_test": int((self.split == "test").sum()),
            "n_genes_dropped_split": int(self.n_dropped_split),
        }
        for d in DATASETS:
            s = self.datasets[d].summary() if d in self.datasets else {}
            out.update({f"{d}_{k}": s.get(k) for k in DATASET_KEYS})
        return out


def _num(v: Any) -> float | int | None:
    if v is None:
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# --------------------------------------------------------------------------------- ridge per condition


def _fit_chunk(item: tuple[np.ndarray, np.ndarray, list[str], list[str]]) -> list[dict[str, Any]]:
    """One task: the matches of a chunk of conditions (as JSON dicts: plain data crosses processes)."""
    X, Y, features, conditions = item
    return [m.to_json() for m in fit_ridge_matches(X, Y, features, conditions)]


def fit_matches(
    X_train: np.ndarray, Y_train: np.ndarray, features: Sequence[str], conditions: Sequence[str], *,
    map_fn: MapFn, dataset: str,
) -> list[RidgeMatch]:
    """Every condition's match, ``CONDITIONS_PER_TASK`` conditions per ``map_fn`` item, in condition order.

    Too few training genes for the features is an input problem of the job (one line, exit status 2)."""
    k = len(conditions)
    items = [
        (X_train, Y_train[:, i:i + CONDITIONS_PER_TASK], list(features), list(conditions[i:i + CONDITIONS_PER_TASK]))
        for i in range(0, k, CONDITIONS_PER_TASK)
    ]
    try:
        done = map_fn(_fit_chunk, items)
    except RidgeMatchError as exc:
        raise InputError(f"{dataset}: {exc} (use more genes, e.g. inputs.max_genes = 0, or a model with fewer"
                         " tracks)") from exc
    return [RidgeMatch.from_json(d) for chunk in done for d in chunk]


def _null_metrics(y_true: np.ndarray) -> dict[str, float]:
    """The intercept-only null on centred test values: it predicts 0 (the training mean)."""
    from sklearn.metrics import r2_score

    zeros = np.zeros_like(y_true)
    return {"null_r2": float(r2_score(y_true, zeros)) if y_true.size >= 2 else math.nan,
            "null_rmse": float(np.sqrt(np.mean(y_true**2))) if y_true.size else math.nan}


def _ridge_pearson(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> float:
    """Pearson on the test genes of a plain ``RidgeCV`` (default alphas) fitted on the training genes."""
    from sklearn.linear_model import RidgeCV

    if len(y_train) < 2 or len(y_test) < 3:
        return math.nan
    fit = RidgeCV(alphas=(0.1, 1.0, 10.0)).fit(X_train, y_train)
    return correlate(y_test, fit.predict(X_test)).pearson_r


# ------------------------------------------------------------------------------------------- datasets


def analyse_dataset(
    data: Dataset, features: pd.DataFrame, split: pd.Series, *, map_fn: MapFn, extras: Extras | None = None,
    differential_threshold: float = 1.0,
) -> DatasetResult:
    """Steps 1-4 of the module docstring for one dataset (``features`` already ``log10(pred + 1)``)."""
    extras = extras or Extras()
    genes = features.index.intersection(data.observed.index).intersection(split.index)
    genes = genes.sort_values()
    where = split.loc[genes]
    train = genes[(where == "train").to_numpy()]
    test = genes[(where == "test").to_numpy()]
    if len(test) < 3:
        raise InputError(f"{data.name}: {len(test)} test gene(s) with predictions and measurements; expected at"
                         " least 3 (genes inside the test regions of inputs.regions)")
    cols = list(features.columns)
    conds = list(data.observed.columns)
    Xtr = features.loc[train, cols].to_numpy(np.float64)
    Xte = features.loc[test, cols].to_numpy(np.float64)
    Ytr = data.observed.loc[train, conds].to_numpy(np.float64)
    Yte = data.observed.loc[test, conds].to_numpy(np.float64)
    matches = fit_matches(Xtr, Ytr, cols, conds, map_fn=map_fn, dataset=data.name)
    offsets = np.array([m.y_offset for m in matches])
    P_te = np.column_stack([m.predict(Xte) for m in matches])  # centred
    O_te = Yte - offsets  # centred by the training mean, as the authors
    P_tr = np.column_stack([m.predict(Xtr) for m in matches])
    O_tr = Ytr - offsets

    rows = []
    info = data.conditions.set_index("condition")
    for j, c in enumerate(conds):
        row: dict[str, Any] = {"condition": c, "organ": info.loc[c, "organ"], "stage": info.loc[c, "stage"],
                               "n_train": len(train), "n_test": len(test), "alpha": matches[j].alpha,
                               **match_metrics(O_te[:, j], P_te[:, j]), **_null_metrics(O_te[:, j])}
        rows.append(row)
    metrics = pd.DataFrame(rows)
    _add_ons(metrics, data, extras, features, train, test, O_tr, O_te, P_tr, P_te)

    long = pd.DataFrame({
        "gene_id": np.repeat(np.asarray(test), len(conds)),
        "condition": np.tile(np.asarray(conds, dtype=object), len(test)),
        "log_obs": O_te.reshape(-1), "log_pred": P_te.reshape(-1), "log_obs_raw": Yte.reshape(-1),
    })
    long = long.merge(data.conditions[["condition", "organ", "stage"]], on="condition", how="left")
    between, skipped = _between(data.name, long)
    gene_level = gene_level_correlations(long)
    decomposition = variance_decomposition(long, range_percentiles=RANGE_PERCENTILES.get(data.name, (2.5, 97.5)))
    dev_obs, dev_pred = deviations(long)
    differential = differential_calls(dev_obs / LOG10_2, dev_pred / LOG10_2, differential_threshold)
    return DatasetResult(data.name, metrics, long, between, skipped, gene_level, decomposition, differential,
                         matches, dict(data.dropped))


def deviations(long: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Measured and predicted deviations of each row from its gene's mean (log10 units)."""
    g = long.groupby("gene_id", sort=False)
    return ((long["log_obs"] - g["log_obs"].transform("mean")).to_numpy(np.float64),
            (long["log_pred"] - g["log_pred"].transform("mean")).to_numpy(np.float64))


def gene_level_correlations(long: pd.DataFrame) -> dict[str, float]:
    """Pearson of the gene means, of the gene standard deviations (ddof 1) and of the deviations from the
    gene means, measured vs predicted (the manual-match notebook's cells 59 and 63)."""
    g = long.groupby("gene_id", sort=True)
    mean_obs, mean_pred = g["log_obs"].mean(), g["log_pred"].mean()
    sd_obs, sd_pred = g["log_obs"].std(), g["log_pred"].std()
    dev_obs, dev_pred = deviations(long)
    ok = sd_obs.notna() & sd_pred.notna()
    return {
        "gene_mean_r": correlate(mean_obs.to_numpy(), mean_pred.to_numpy()).pearson_r,
        "gene_sd_r": correlate(sd_obs[ok].to_numpy(), sd_pred[ok].to_numpy()).pearson_r,
        "deviation_r": correlate(dev_obs, dev_pred).pearson_r,
    }


def _constant(frame: pd.DataFrame, key: str) -> pd.Series:
    """Per ``key``: whether its measured values (``log_obs_raw``, before centring) do not vary."""
    return frame.groupby(key, sort=False)["log_obs_raw"].agg(lambda v: not np.ptp(v.to_numpy()) > 0)


def _between(name: str, long: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Per gene across its conditions; Cardoso-Moreira: replicates averaged, then across the stages of each
    organ (one row per gene x organ, key ``gene_id|organ``).  A gene whose measured values are the same in
    every condition is skipped and counted (judged before the per-condition centring, which would make
    them differ)."""
    if name != "kaessmann":
        flat = _constant(long, "gene_id")
        out, skipped = between_condition_correlations(long[~long["gene_id"].map(flat)])
        return out, skipped + int(flat.sum())
    cols = ["log_obs", "log_pred", "log_obs_raw"]
    avg = long.groupby(["gene_id", "organ", "stage"], sort=True, as_index=False)[cols].mean()
    avg["key"] = avg["gene_id"].astype(str) + "|" + avg["organ"].astype(str)
    flat = _constant(avg, "key")
    out, skipped = between_condition_correlations(avg[~avg["key"].map(flat)], gene="key")
    skipped += int(flat.sum())
    parts = out["key"].str.split("|", n=1, expand=True) if len(out) else pd.DataFrame({0: [], 1: []})
    out.insert(0, "gene_id", parts[0].to_numpy())
    out.insert(1, "organ", parts[1].to_numpy())
    return out.drop(columns=["key"]), skipped


def _add_ons(metrics: pd.DataFrame, data: Dataset, extras: Extras, features: pd.DataFrame, train, test,
             O_tr: np.ndarray, O_te: np.ndarray, P_tr: np.ndarray, P_te: np.ndarray) -> None:
    """Columns ``pearson_exon_intron``, ``pearson_xpresso`` and ``pearson_manual`` of ``metrics`` (NaN where
    the add-on's input is absent or does not cover the condition)."""
    conds = list(data.observed.columns)
    n = len(conds)
    ei = np.full(n, math.nan)
    if extras.exon_intron is not None and data.name == "gtex":
        table = extras.exon_intron
        by_key = {tissue_key(c): c for c in table.columns}
        for j, c in enumerate(conds):
            col = by_key.get(tissue_key(c))
            if col is None:
                continue
            r_tr = table[col].reindex(train).fillna(0.0).to_numpy(np.float64)
            r_te = table[col].reindex(test).fillna(0.0).to_numpy(np.float64)
            ei[j] = _ridge_pearson(np.column_stack([P_tr[:, j], r_tr]), O_tr[:, j],
                                   np.column_stack([P_te[:, j], r_te]), O_te[:, j])
    metrics["pearson_exon_intron"] = ei
    xp = np.full(n, math.nan)
    if extras.xpresso is not None:
        cols_tr = [extras.xpresso.reindex(train)]
        cols_te = [extras.xpresso.reindex(test)]
        if data.name == "kaessmann" and extras.log_len is not None:
            cols_tr.insert(0, extras.log_len.reindex(train))
            cols_te.insert(0, extras.log_len.reindex(test))
        A_tr = np.column_stack([c.to_numpy(np.float64) for c in cols_tr])
        A_te = np.column_stack([c.to_numpy(np.float64) for c in cols_te])
        ok_tr, ok_te = np.isfinite(A_tr).all(axis=1), np.isfinite(A_te).all(axis=1)
        for j in range(n):
            xp[j] = _ridge_pearson(A_tr[ok_tr], O_tr[ok_tr, j], A_te[ok_te], O_te[ok_te, j])
    metrics["pearson_xpresso"] = xp
    mm = np.full(n, math.nan)
    manual = (extras.manual or {}).get(data.name)
    if manual:
        info = data.conditions.set_index("condition")
        for j, c in enumerate(conds):
            key = c if data.name == "gtex" else str(info.loc[c, "organ"])
            chosen = [f for f in manual.get(key, ()) if f in features.columns]
            if not chosen:
                continue
            pred_tr = features.loc[train, chosen].mean(axis=1).to_numpy(np.float64)
            pred_te = features.loc[test, chosen].mean(axis=1).to_numpy(np.float64) - pred_tr.mean()
            mm[j] = correlate(O_te[:, j], pred_te).pearson_r
    metrics["pearson_manual"] = mm


def tissue_key(name: str) -> str:
    """A tissue name compared across tables: lower case, every run of other characters one ``_``
    (``"Brain - Cortex"`` and ``"Brain_Cortex"`` meet)."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


# --------------------------------------------------------------------------------------------- tables


def write_tables(results: ExpressionResults, out_dir: Path) -> list[Path]:
    """Per dataset: ``<d>_ridge_by_condition.csv``, ``<d>_test_predictions.parquet``, ``<d>_between.csv``,
    ``<d>_ridge_matches.json`` (the fitted matches as data, for ``--from``); and ``variance.csv``."""
    from seqbench.report.tables import write_frames, write_json

    out_dir = Path(out_dir)
    frames: dict[str, pd.DataFrame] = {}
    csv = []
    for d, r in results.datasets.items():
        frames[f"{d}_ridge_by_condition"] = r.metrics
        frames[f"{d}_test_predictions"] = r.predictions
        frames[f"{d}_between"] = r.between
        csv += [f"{d}_ridge_by_condition", f"{d}_between"]
    rows = [{"dataset": d, **r.decomposition, **{f"differential_{k}": v for k, v in r.differential.items()},
             **r.gene_level} for d, r in results.datasets.items()]
    frames["variance"] = pd.DataFrame(rows)
    csv.append("variance")
    parquet = [k for k in frames if k.endswith("_test_predictions")]
    paths = write_frames(frames, out_dir, parquet=parquet, csv=csv)
    for d, r in results.datasets.items():
        paths.append(write_json(out_dir / f"{d}_ridge_matches.json", matches_document(d, results.features, r.matches)))
    return paths


def matches_document(dataset: str, features: Sequence[str], matches: Sequence[Any], *,
                     variant: str | None = None) -> dict[str, Any]:
    """The JSON document of a dataset's fitted matches (``<dataset>_ridge_matches.json``)."""
    doc: dict[str, Any] = {
        "dataset": dataset, "features": list(features),
        "note": "StandardScaler + RidgeCV per condition; predict with seqbench.stats.ridge.RidgeMatch",
        "matches": [m.to_json() for m in matches],
    }
    if variant is not None:
        doc["variant"] = variant
    return doc

