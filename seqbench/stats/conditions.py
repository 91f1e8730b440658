"""Genes across conditions (tissues, developmental stages): the statistics of experiments-spec §1.4
items 7 and 8, written once and knowing no experiment.

Inputs are long frames with one row per (gene, condition): a gene key, the measured value and the
predicted one, both already in log10 scale (``log10(TPM + 1)``), as the authors compare them.

* :func:`between_condition_correlations` — per gene, Pearson, Spearman and R² across its conditions;
  genes whose measured values do not vary are skipped and counted; a gene has a *predicted trend*
  when ``r > 0`` and ``p < 0.05 / n`` (Bonferroni over the ``n`` genes tested; the authors wrote
  ``n_rows / 2`` of a table with two rows per gene).
* :func:`variance_decomposition` — how much of the variance the gene means explain, and how much the
  model does (residual sums of squares against the grand mean of the gene means).
* :func:`ablation_metrics` — the sequence-window ablation (item 9): RMSE, MAE, Pearson and R² of each
  predictor against the target on three levels (every gene x condition, the gene means, the deviations
  from the gene means), and each predictor's difference from a reference predictor.
* :func:`differential_calls` — a condition is *differential* for a gene when its deviation from the
  gene's mean exceeds ``threshold`` (log2 units); predicted calls against measured ones, with the
  authors' FPR (predicted positives / measured negatives, experiments-spec §13 B16) beside the usual
  false positives / measured negatives.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "ablation_metrics",
    "between_condition_correlations",
    "differential_calls",
    "dynamic_range_class",
    "variance_decomposition",
]

#: the three views of a prediction the window ablation scores (experiments-spec §1.4 item 9)
LEVELS = ("total", "between-gene", "between-condition")

LOG10_2 = math.log10(2.0)


def between_condition_correlations(
    frame: pd.DataFrame, *, gene: str = "gene_id", observed: str = "log_obs", predicted: str = "log_pred",
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, int]:
    """One row per gene tested: ``n`` conditions, ``pearson``, ``pearson_p``, ``spearman``, ``spearman_p``,
    ``r2`` (``sklearn.metrics.r2_score(observed, predicted)``), ``dynamic_range_log2`` (95th - 5th percentile
    of the measured log10 values, in log2 units) and ``trend_predicted``; and the number of genes skipped
    because their measured values do not vary (or have fewer than 3 conditions)."""
    from sklearn.metrics import r2_score

    from seqbench.stats.common import correlate

    rows = []
    skipped = 0
    for key, g in frame.groupby(gene, sort=True):
        obs = g[observed].to_numpy(np.float64)
        pred = g[predicted].to_numpy(np.float64)
        if len(obs) < 3 or not np.ptp(obs) > 0:
            skipped += 1
            continue
        c = correlate(obs, pred)
        rows.append({
            gene: key, "n": len(obs), "pearson": c.pearson_r, "pearson_p": c.pearson_p, "spearman": c.spearman_r,
            "spearman_p": c.spearman_p, "r2": float(r2_score(obs, pred)),
            "dynamic_range_log2": float(np.percentile(obs, 95) - np.percentile(obs, 5)) / LOG10_2,
        })
    out = pd.DataFrame(rows, columns=[gene, "n", "pearson", "pearson_p", "spearman", "spearman_p", "r2",
                                      "dynamic_range_log2"])
    threshold = alpha / max(len(out), 1)
    out["trend_predicted"] = (out["pearson"] > 0) & (out["pearson_p"] < threshold)
    out["dynamic_range"] = out["dynamic_range_log2"].map(dynamic_range_class)
    return out, skipped


def dynamic_range_class(log2_range: float) -> str:
    """The authors' classes of a gene's dynamic range in log2 units: ``< 2-fold`` (< 1), ``2-8-fold``
    (1 to 3) and ``> 8-fold`` (> 3)."""
    if log2_range < 1:
        return "< 2-fold"
    return "2-8-fold" if log2_range <= 3 else "> 8-fold"


def variance_decomposition(
    frame: pd.DataFrame, *, gene: str = "gene_id", observed: str = "log_obs", predicted: str = "log_pred",
    range_percentiles: tuple[float, float] = (2.5, 97.5),
) -> dict[str, float]:
    """The variance decomposition of experiments-spec §1.4 item 8 (log10 inputs; spreads in log2 units).

    Residuals: ``total = obs - mean(gene means)``, ``condition = obs - gene mean``, ``model = obs - pred``.
    ``explained_by_gene_means = 1 - SS(condition) / SS(total)``, ``explained_by_model = 1 - SS(model) /
    SS(total)``; ``dynamic_range_log2`` is the spread of ``total`` between ``range_percentiles`` (GTEx:
    2.5-97.5, Cardoso-Moreira: 5-95), ``rmse_log2`` and ``mae_log2`` those of ``model``, all / log10(2).
    """
    obs = frame[observed].to_numpy(np.float64)
    pred = frame[predicted].to_numpy(np.float64)
    gene_means = frame.groupby(gene, sort=False)[observed].transform("mean").to_numpy(np.float64)
    grand = float(frame.groupby(gene, sort=False)[observed].mean().mean())
    total = obs - grand
    condition = obs - gene_means
    model = obs - pred
    ss_total = float((total**2).sum())
    lo, hi = np.percentile(total, list(range_percentiles))
    return {
        "explained_by_gene_means": 1.0 - float((condition**2).sum()) / ss_total,
        "explained_by_model": 1.0 - float((model**2).sum()) / ss_total,
        "dynamic_range_log2": float(hi - lo) / LOG10_2,
        "rmse_log2": float(np.sqrt(np.mean(model**2))) / LOG10_2,
        "mae_log2": float(np.mean(np.abs(model))) / LOG10_2,
        "n": int(len(obs)),
    }


def differential_calls(observed_dev: np.ndarray, predicted_dev: np.ndarray, threshold: float = 1.0) -> dict:
    """Measured vs predicted differential calls: ``|deviation from the gene's mean| > threshold`` (log2).

    Returns counts (``tp``, ``fp``, ``fn``, ``tn``), ``precision``, ``recall``, ``mcc`` (Matthews; 0 when
    a margin is empty, as scikit-learn's ``matthews_corrcoef``), ``prevalence``, ``fpr`` (false positives /
    measured negatives) and ``fpr_as_coded`` (predicted positives / measured negatives: the authors'
    definition, §13 B16).  NaN where a ratio has no denominator.
    """
    truth = np.abs(np.asarray(observed_dev, dtype=np.float64)) > threshold
    called = np.abs(np.asarray(predicted_dev, dtype=np.float64)) > threshold
    tp = int((truth & called).sum())
    fp = int((~truth & called).sum())
    fn = int((truth & ~called).sum())
    tn = int((~truth & ~called).sum())
    negatives = tn + fp

    def ratio(a: int, b: int) -> float:
        return a / b if b else math.nan

    return {
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "mcc": _mcc(tp, fp, fn, tn),
        "prevalence": ratio(tp + fn, truth.size),
        "fpr": ratio(fp, negatives),
        "fpr_as_coded": ratio(tp + fp, negatives),
        "threshold": float(threshold),
    }


def _mcc(tp: int, fp: int, fn: int, tn: int) -> float:
    denom = math.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / denom if denom else 0.0


def ablation_metrics(
    frame: pd.DataFrame, predictors: list[str], *, gene: str = "gene_id", observed: str = "log_obs",
    reference: str | None = None,
) -> pd.DataFrame:
    """RMSE, MAE, Pearson r and R² of each predictor column against ``observed`` on each of :data:`LEVELS`:

    * ``total`` — every row: observed vs predicted;
    * ``between-gene`` — one value per gene: the mean observed vs the mean predicted;
    * ``between-condition`` — every row: observed minus its gene's mean vs predicted minus its gene's mean.

    ``observed`` may itself be a prediction (the full-window one: the authors' self-consistency variant).
    With ``reference`` (a predictor, e.g. Basenji2's), columns ``delta_<metric>`` hold each metric minus the
    reference's on the same level.  One row per (predictor, level), in the order given.
    """
    from sklearn.metrics import r2_score

    from seqbench.stats.common import correlate

    keys = frame[gene]
    obs = frame[observed].to_numpy(np.float64)
    obs_gene = frame.groupby(gene, sort=True)[observed].mean()
    obs_dev = obs - keys.map(obs_gene).to_numpy(np.float64)
    rows = []
    for col in predictors:
        pred = frame[col].to_numpy(np.float64)
        pred_gene = frame.groupby(gene, sort=True)[col].mean()
        pred_dev = pred - keys.map(pred_gene).to_numpy(np.float64)
        views = {
            "total": (obs, pred),
            "between-gene": (obs_gene.to_numpy(np.float64), pred_gene.to_numpy(np.float64)),
            "between-condition": (obs_dev, pred_dev),
        }
        for level in LEVELS:
            t, p = views[level]
            rows.append({
                "predictor": col, "level": level, "n": int(t.size),
                "rmse": float(np.sqrt(np.mean((t - p) ** 2))), "mae": float(np.mean(np.abs(t - p))),
                "pearson": correlate(t, p).pearson_r, "r2": float(r2_score(t, p)) if t.size >= 2 else math.nan,
            })
    out = pd.DataFrame(rows)
    if reference is not None:
        if reference not in predictors:
            raise ValueError(f"ablation_metrics: the reference {reference!r} is not among the predictors")
        ref = out[out["predictor"] == reference].set_index("level")
        for m in ("rmse", "mae", "pearson", "r2"):
            out[f"delta_{m}"] = out[m].to_numpy() - out["level"].map(ref[m]).to_numpy()
    return out
