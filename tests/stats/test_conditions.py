"""Genes across conditions (experiments-spec §1.4 items 7-8) against brute-force loops, SciPy and
scikit-learn computed here, independently of the module."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from seqbench.stats.conditions import (
    ablation_metrics,
    between_condition_correlations,
    differential_calls,
    dynamic_range_class,
    variance_decomposition,
)


def _frame(seed: int = 0, genes: int = 40, conditions: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(genes):
        level = rng.normal(1.0, 0.5)
        signal = rng.normal(0.0, 0.4, conditions) * (g % 3)  # a third of the genes do not vary at all
        for c in range(conditions):
            obs = level + signal[c]
            rows.append({"gene_id": f"G{g:03d}", "tissue": f"T{c}", "log_obs": obs,
                         "log_pred": level + 0.2 + signal[c] * (0.8 if g % 2 else -0.5) + rng.normal(0, 0.05)})
    return pd.DataFrame(rows)


def test_per_gene_correlations_by_brute_force():
    f = _frame()
    out, skipped = between_condition_correlations(f)
    tested = [g for g, grp in f.groupby("gene_id") if grp["log_obs"].max() > grp["log_obs"].min()]
    assert skipped == f["gene_id"].nunique() - len(tested) > 0
    assert list(out["gene_id"]) == tested
    for _, row in out.iterrows():
        grp = f[f["gene_id"] == row["gene_id"]]
        r, p = sps.pearsonr(grp["log_obs"], grp["log_pred"])
        assert row["pearson"] == pytest.approx(r) and row["pearson_p"] == pytest.approx(p)
        assert row["spearman"] == pytest.approx(sps.spearmanr(grp["log_obs"], grp["log_pred"])[0])
        ss_res = ((grp["log_obs"] - grp["log_pred"]) ** 2).sum()
        ss_tot = ((grp["log_obs"] - grp["log_obs"].mean()) ** 2).sum()
        assert row["r2"] == pytest.approx(1 - ss_res / ss_tot)
        assert row["trend_predicted"] == bool(r > 0 and p < 0.05 / len(tested))
        spread = (np.percentile(grp["log_obs"], 95) - np.percentile(grp["log_obs"], 5)) / math.log10(2)
        assert row["dynamic_range_log2"] == pytest.approx(spread)
    assert out["trend_predicted"].any() and not out["trend_predicted"].all()


def test_dynamic_range_classes():
    assert [dynamic_range_class(x) for x in (0.0, 0.99, 1.0, 3.0, 3.01)] == [
        "< 2-fold", "< 2-fold", "2-8-fold", "2-8-fold", "> 8-fold"]


def test_variance_decomposition_by_hand():
    f = _frame(1)
    got = variance_decomposition(f, range_percentiles=(5, 95))
    means = {g: grp["log_obs"].mean() for g, grp in f.groupby("gene_id")}
    grand = sum(means.values()) / len(means)
    total = f["log_obs"] - grand
    cond = f["log_obs"] - f["gene_id"].map(means)
    model = f["log_obs"] - f["log_pred"]
    assert got["explained_by_gene_means"] == pytest.approx(1 - (cond**2).sum() / (total**2).sum())
    assert got["explained_by_model"] == pytest.approx(1 - (model**2).sum() / (total**2).sum())
    assert got["dynamic_range_log2"] == pytest.approx((np.percentile(total, 95) - np.percentile(total, 5))
                                                      / math.log10(2))
    assert got["rmse_log2"] == pytest.approx(math.sqrt((model**2).mean()) / math.log10(2))
    assert got["mae_log2"] == pytest.approx(model.abs().mean() / math.log10(2))
    # a perfect model explains everything; the gene means alone explain what the conditions do not add
    perfect = variance_decomposition(f.assign(log_pred=f["log_obs"]))
    assert perfect["explained_by_model"] == 1.0 and perfect["rmse_log2"] == 0.0


def test_differential_calls_by_counting():
    rng = np.random.default_rng(2)
    obs, pred = rng.normal(0, 1.2, 500), rng.normal(0, 1.2, 500)
    got = differential_calls(obs, pred, threshold=1.0)
    truth, called = np.abs(obs) > 1, np.abs(pred) > 1
    tp, fp = int((truth & called).sum()), int((~truth & called).sum())
    fn, tn = int((truth & ~called).sum()), int((~truth & ~called).sum())
    assert (got["tp"], got["fp"], got["fn"], got["tn"]) == (tp, fp, fn, tn)
    assert got["precision"] == pytest.approx(tp / (tp + fp)) and got["recall"] == pytest.approx(tp / (tp + fn))
    assert got["fpr"] == pytest.approx(fp / (fp + tn))
    assert got["fpr_as_coded"] == pytest.approx((tp + fp) / (fp + tn))  # the authors' definition (B16)
    denom = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert got["mcc"] == pytest.approx((tp * tn - fp * fn) / denom)
    from sklearn.metrics import matthews_corrcoef

    assert got["mcc"] == pytest.approx(matthews_corrcoef(truth, called))
    assert got["prevalence"] == pytest.approx((tp + fn) / 500)
    none = differential_calls(np.zeros(5), np.zeros(5))
    assert math.isnan(none["precision"]) and math.isnan(none["recall"]) and none["fpr"] == 0.0
    assert none["mcc"] == 0.0  # scikit-learn's convention for an empty margin


def test_ablation_metrics_by_brute_force():
    f = _frame(3)
    rng = np.random.default_rng(5)
    f["w1001"] = f["log_pred"].mean() + rng.normal(0, 0.3, len(f))  # a narrow window: little signal
    f["full"] = f["log_pred"]
    out = ablation_metrics(f, ["w1001", "full"], reference="w1001").set_index(["predictor", "level"])
    for col in ("w1001", "full"):
        tot = out.loc[(col, "total")]
        assert tot["rmse"] == pytest.approx(math.sqrt(((f["log_obs"] - f[col]) ** 2).mean()))
        assert tot["mae"] == pytest.approx((f["log_obs"] - f[col]).abs().mean())
        assert tot["pearson"] == pytest.approx(sps.pearsonr(f["log_obs"], f[col])[0])
        og, pg = [], []
        od, pd_ = [], []
        for _, grp in f.groupby("gene_id"):  # by hand, one gene at a time
            og.append(grp["log_obs"].mean())
            pg.append(grp[col].mean())
            od += list(grp["log_obs"] - grp["log_obs"].mean())
            pd_ += list(grp[col] - grp[col].mean())
        bg, bc = out.loc[(col, "between-gene")], out.loc[(col, "between-condition")]
        assert bg["n"] == len(og) and bg["pearson"] == pytest.approx(sps.pearsonr(og, pg)[0])
        ss = sum((a - b) ** 2 for a, b in zip(od, pd_, strict=True))
        assert bc["r2"] == pytest.approx(1 - ss / sum(a**2 for a in od))
        assert bc["mae"] == pytest.approx(np.mean(np.abs(np.subtract(od, pd_))))
    # deltas over the reference; the reference's own are 0
    assert (out.loc["w1001", "delta_rmse"] == 0).all()
    for level in ("total", "between-gene", "between-condition"):
        assert out.loc[("full", level), "delta_r2"] == pytest.approx(
            out.loc[("full", level), "r2"] - out.loc[("w1001", level), "r2"])
    assert out.loc[("full", "between-condition"), "delta_pearson"] > 0  # the full window holds the signal
    # self-consistency: a predictor scored against itself is perfect
    self = ablation_metrics(f, ["full"], observed="full").set_index("level")
    assert (self["rmse"] == 0).all() and (self["r2"] == 1).all()
