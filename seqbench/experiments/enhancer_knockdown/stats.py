"""Statistics of the in silico CRISPRi knock-down (experiments-spec §6.3), as pure functions.

Inputs are the pair table of :func:`seqbench.inputs.crispri.load_pairs` (plus ``window``)
and the per-construct means of the readout (natural scale, mean over ensemble members).

Per pair (:func:`pair_effects`):

* ``pred_ref`` (the window's reference), ``pred_n`` (2-kb window as N), ``pred_shuffle`` (mean
  over the shuffles, natural scale);
* ``log2_ref = log2(pred_ref + 1)``, ``log2_alt = log2(pred_shuffle + 1)``,
  ``log2_fc_pred = log2_alt - log2_ref``; ``log2_fc_pred_n`` the same with ``pred_n``;
* ``predicted_percent = |2**log2_fc_pred - 1| * 100`` (the paper's Predicted_Percent);
* ``abs_delta = |pred_shuffle - pred_ref|`` = ``|2**alt - 2**ref|``: the authors compute
  ``|2**alt - 2**ref - 2|`` (§13 B9; a stray ``- 2``, which reorders pairs whose knock-down
  *raises* the prediction).  seqbench **fixes** it; the authors' value is kept as
  ``abs_delta_authors`` for comparison.

Distances are the table's ``actual_tss_distance`` (bp); distance bins ``[0, 3000)``,
``[3000, 12500)``, ``[12500, 34500)``, ``[34500, inf)`` are labelled ``0-3``, ``3-12.5``,
``12.5-34.5``, ``34.5-131`` (kb) as the paper.

Recalibration (§6.3): :func:`recalibration_fit` fits ``log10(pct) = slope * log10(d) + intercept``
on validated pairs; :func:`recalibrated_percent` divides the fitted distance trend out,
``10**(log10(pct) - slope * log10(d) - intercept)`` (the authors hard-code the fit as
``10**(log_pct + 0.7222 * log_d - 3.5296)``, i.e. slope -0.7222, intercept 3.5296:
:data:`AUTHORS_RECALIBRATION`).  :func:`recalibration_auprc` compares the AUPRC of validated vs not
for the raw and recalibrated percent on pairs with d > 1 kb, excluding the non-validated pairs whose
2-kb window overlaps a validated pair's window at the same TSS (:func:`overlap_excluded`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

import seqbench.experiments.enhancer_knockdown.analyses as la
from seqbench.inputs.crispri import CANDIDATE_COLUMNS
from seqbench.report.tables import write_frames
from seqbench.stats.common import correlate

DISTANCE_EDGES = (0, 3_000, 12_500, 34_500, math.inf)
DISTANCE_LABELS = ("0-3", "3-12.5", "12.5-34.5", "34.5-131")
MEDIAN_WINDOWS: dict[str, tuple[float, float]] = {  # open intervals (lo, hi), bp
    "1-100kb": (990, 100_000),
    ">1kb": (999, math.inf),
    ">10kb": (9_999, math.inf),
}
PERCENT_THRESHOLDS = (0, 1, 3, 5, 8, 10, 15, 20, 25, 50)
OBSERVED_MINIMA = (0, 10, 20, 25, 50)
#: the authors' hard-coded recalibration (``EE.py``: ``log_pct + 0.7222 * log_dist - 3.5296``) as a fit
AUTHORS_RECALIBRATION = {"slope": -0.7222, "intercept": 3.5296}
#: the TSS of a pair, for the overlap exclusion of the recalibration AUPRC
TSS_COLUMNS = ("chrom", "main_tss_start")
DATASETS = ("fulco2019", "gasperini2019")
#: keys of :meth:`KnockdownResults.summary`, in order (documented in docs/experiments/enhancer-knockdown.md)
SUMMARY_KEYS = (
    "n_pairs",
    "n_windows",
    "n_genes",
    "n_shuffles",
    "n_validated",
    "n_pairs_without_measurement",
    *(f"{stat}_{ds}" for ds in (*DATASETS, "combined") for stat in ("pearson", "spearman")),
    "pearson_gasperini2019_1_20kb",
    "spearman_gasperini2019_1_20kb",
    "median_observed_percent_validated",
    "median_predicted_percent_validated",
    "effect_threshold_percent",
    "fraction_genes_no_candidate_above_threshold",
    *(f"{k}_{label}" for label in DISTANCE_LABELS for k in ("auprc_abs_log2fc", "random_baseline")),
    "pearson_shuffle_vs_n",
    "recalibration_slope",
    "recalibration_intercept",
    "auprc_recalibration_raw",
    "auprc_recalibration_fitted",
    "auprc_recalibration_authors",
    "n_recalibration_overlaps_excluded",
    "n_candidates",
    "n_test_locations",
    # Enformer-ABC (module seqbench.experiments.enhancer_knockdown.analyses)
    "enformer_abc_marks",
    "enformer_abc_n_dnase_tracks",
    "enformer_abc_n_h3k27ac_tracks",
    "enformer_abc_bins",
    "n_enformer_abc_elements",
    "n_enformer_abc_pairs",
    "n_bootstrap",
    *(f"enformer_abc_auprc_{p}{sfx}" for p in la.ABC_PREDICTORS for sfx in ("", "_ci_low", "_ci_high")),
    *(f"auprc_enformer_abc_{label}" for label in DISTANCE_LABELS),
    # basal expression
    "n_basal_promoters",
    "n_basal_enhancers",
    "basal_ols_n",
    *(f"basal_ols_{t}" for t in la.BASAL_TERMS),
    "basal_ols_r2",
    "basal_ols_observed_log10_promoter",
    "pearson_promoter_npad_vs_aavs1",
    "notes",
)


# ------------------------------------------------------------------------------------- per pair


def pair_effects(pairs: pd.DataFrame, means: pd.DataFrame) -> pd.DataFrame:
    """Predicted effects per pair (see module docstring).

    ``pairs``: one row per pair in design order (row ``i`` is design ``pair == i``), with ``window``.
    ``means``: ``window, pair, modification, replicate, value`` per construct.
    """
    ref = means[means["modification"] == "none"].set_index("window")["value"]
    n_val = means[means["modification"] == "replace_with_n"].set_index("pair")["value"]
    shuf = means[means["modification"] == "shuffle"].groupby("pair")["value"]
    idx = np.arange(len(pairs))
    out = pairs.copy()
    out["pred_ref"] = ref.reindex(pairs["window"].to_numpy()).to_numpy(dtype=np.float64)
    out["pred_n"] = n_val.reindex(idx).to_numpy(dtype=np.float64)
    out["pred_shuffle"] = shuf.mean().reindex(idx).to_numpy(dtype=np.float64)
    out["n_shuffles"] = shuf.size().reindex(idx).fillna(0).astype(np.int64).to_numpy()
    out["log2_ref"] = np.log2(out["pred_ref"] + 1.0)
    out["log2_alt"] = np.log2(out["pred_shuffle"] + 1.0)
    out["log2_fc_pred"] = out["log2_alt"] - out["log2_ref"]
    out["log2_fc_pred_n"] = np.log2(out["pred_n"] + 1.0) - out["log2_ref"]
    out["abs_log2_fc_pred"] = out["log2_fc_pred"].abs()
    out["predicted_percent"] = np.abs(2.0 ** out["log2_fc_pred"] - 1.0) * 100.0
    out["predicted_percent_n"] = np.abs(2.0 ** out["log2_fc_pred_n"] - 1.0) * 100.0
    out["abs_delta"] = np.abs(out["pred_shuffle"] - out["pred_ref"])
    out["abs_delta_authors"] = np.abs(2.0 ** out["log2_alt"] - 2.0 ** out["log2_ref"] - 2.0)
    out["distance_bin"] = distance_bins(out["distance"])
    return out


def distance_bins(distance: pd.Series) -> pd.Series:
    """The paper's AUPRC distance bins (labels :data:`DISTANCE_LABELS`)."""
    return pd.cut(
        pd.Series(distance, dtype=np.float64), list(DISTANCE_EDGES), right=False, labels=list(DISTANCE_LABELS)
    ).astype(str)


# ------------------------------------------------------------------------------------- statistics


def _by_dataset(effects: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    out = [(ds, effects[effects["dataset"] == ds]) for ds in DATASETS]
    return [(ds, f) for ds, f in out if len(f)] + [("combined", effects)]


def correlations(effects: pd.DataFrame) -> pd.DataFrame:
    """Pearson / Spearman of predicted vs observed log2 FC: all, per distance quartile, Gasperini 1-20 kb
    (:func:`seqbench.stats.common.correlate`: finite pairs, NaN below 3 or without variance)."""
    rows = []
    for ds, f in _by_dataset(effects):
        subsets: list[tuple[str, pd.DataFrame]] = [("all", f)]
        if len(f) >= 4:
            q = pd.qcut(f["distance"].rank(method="first"), 4, labels=["Q1", "Q2", "Q3", "Q4"])
            subsets += [(f"distance {lab}", f[q == lab]) for lab in ("Q1", "Q2", "Q3", "Q4")]
        if ds == "gasperini2019":
            subsets.append(("1-20kb", f[(f["distance"] > 1000) & (f["distance"] < 20_000)]))
        for name, sub in subsets:
            c = correlate(sub["log2_fc_pred"], sub["observed_log2fc"])
            rows.append(
                {
                    "dataset": ds,
                    "subset": name,
                    "n": c.n,
                    "distance_min": int(sub["distance"].min()) if len(sub) else -1,
                    "distance_max": int(sub["distance"].max()) if len(sub) else -1,
                    "pearson": c.pearson_r,
                    "spearman": c.spearman_r,
                }
            )
    return pd.DataFrame(rows)


def median_effects(effects: pd.DataFrame) -> pd.DataFrame:
    """Median (min, max) measured and predicted effect (%) by dataset, validated flag and distance window."""
    rows = []
    for ds, f in _by_dataset(effects):
        for validated in (True, False):
            for name, (lo, hi) in MEDIAN_WINDOWS.items():
                sub = f[(f["validated"] == validated) & (f["distance"] > lo) & (f["distance"] < hi)]
                obs, pred = sub["observed_percent"].dropna(), sub["predicted_percent"].dropna()
                rows.append(
                    {
                        "dataset": ds,
                        "validated": validated,
                        "window": name,
                        "n": len(sub),
                        "median_observed_percent": float(obs.median()) if len(obs) else math.nan,
                        "median_predicted_percent": float(pred.median()) if len(pred) else math.nan,
                        "min_observed_percent": float(obs.min()) if len(obs) else math.nan,
                        "max_observed_percent": float(obs.max()) if len(obs) else math.nan,
                        "min_predicted_percent": float(pred.min()) if len(pred) else math.nan,
                        "max_predicted_percent": float(pred.max()) if len(pred) else math.nan,
                    }
                )
    return pd.DataFrame(rows)


def gene_effects(effects: pd.DataFrame, threshold: float = 10.0) -> pd.DataFrame:
    """Per dataset: genes, and genes for which no tested candidate exceeds ``threshold`` % predicted."""
    rows = []
    for ds, f in _by_dataset(effects):
        best = f.groupby("gene")["predicted_percent"].max()
        without = int((best <= threshold).sum())
        rows.append(
            {
                "dataset": ds,
                "threshold_percent": threshold,
                "n_genes": int(len(best)),
                "n_genes_without_effect": without,
                "fraction_genes_without_effect": without / len(best) if len(best) else math.nan,
            }
        )
    return pd.DataFrame(rows)


def _ap(labels: np.ndarray, scores: np.ndarray) -> float:
    ok = ~np.isnan(scores)
    labels, scores = labels[ok], scores[ok]
    if labels.size == 0 or labels.all() or not labels.any():
        return math.nan
    return float(average_precision_score(labels, scores))


PREDICTORS = {
    "abs_log2fc": "abs_log2_fc_pred",
    "abs_delta": "abs_delta",
    "abc": "abc_score",
    "enformer_abc": "enformer_abc",  # only when the effects have it (analysis enformer_abc)
}


def auprc_by_bin(effects: pd.DataFrame) -> pd.DataFrame:
    """AUPRC of ``validated`` per distance bin and predictor, with the random baseline (the prevalence)."""
    rows = []
    for ds, f in _by_dataset(effects):
        for label in (*DISTANCE_LABELS, "all"):
            sub = f if label == "all" else f[f["distance_bin"] == label]
            y = sub["validated"].to_numpy(dtype=bool)
            base = {
                "dataset": ds,
                "distance_bin": label,
                "n": int(len(sub)),
                "n_validated": int(y.sum()),
                "random_baseline": float(y.mean()) if len(y) else math.nan,
            }
            for name, col in PREDICTORS.items():
                if col in sub.columns:
                    base[f"auprc_{name}"] = _ap(y, sub[col].to_numpy(dtype=np.float64))
            rows.append(base)
    return pd.DataFrame(rows)


def threshold_table(effects: pd.DataFrame) -> pd.DataFrame:
    """Precision / recall of ``predicted_percent > t`` for pairs with d > 1 kb (§6.3).

    Positives: validated pairs whose observed effect exceeds ``min_observed_percent`` (0: all
    validated pairs).  precision = TP / predicted positives; recall = TP / positives.
    """
    rows = []
    for ds, f in _by_dataset(effects):
        f = f[f["distance"] > 1000]
        for mo in OBSERVED_MINIMA:
            pos = f["validated"].to_numpy(dtype=bool)
            if mo:
                pos = pos & (f["observed_percent"].to_numpy(dtype=np.float64) > mo)
            for t in PERCENT_THRESHOLDS:
                called = f["predicted_percent"].to_numpy(dtype=np.float64) > t
                tp = int((called & pos).sum())
                rows.append(
                    {
                        "dataset": ds,
                        "min_observed_percent": mo,
                        "threshold_percent": t,
                        "n": int(len(f)),
                        "n_positive": int(pos.sum()),
                        "n_called": int(called.sum()),
                        "true_positives": tp,
                        "precision": tp / called.sum() if called.any() else math.nan,
                        "recall": tp / pos.sum() if pos.any() else math.nan,
                    }
                )
    return pd.DataFrame(rows)


def recalibration_fit(effects: pd.DataFrame) -> dict[str, float]:
    """OLS ``log10(predicted_percent) ~ log10(distance)`` on validated pairs, 990 < d < 100 kb (§6.3)."""
    f = effects[
        effects["validated"]
        & (effects["distance"] > 990)
        & (effects["distance"] < 100_000)
        & (effects["predicted_percent"] > 0)
    ]
    if len(f) < 3 or f["distance"].nunique() < 2:
        return {"slope": math.nan, "intercept": math.nan, "n": len(f)}
    slope, intercept = np.polyfit(np.log10(f["distance"].to_numpy(float)), np.log10(f["predicted_percent"]), 1)
    return {"slope": float(slope), "intercept": float(intercept), "n": len(f)}


def recalibrated_percent(effects: pd.DataFrame, slope: float, intercept: float) -> pd.Series:
    """``10**(log10(predicted_percent) - slope * log10(distance) - intercept)`` (0 stays 0)."""
    pct = effects["predicted_percent"].to_numpy(dtype=np.float64)
    d = effects["distance"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = 10.0 ** (np.log10(np.abs(pct)) - slope * np.log10(d) - intercept)
    return pd.Series(out, index=effects.index)


def overlap_excluded(
    effects: pd.DataFrame, by: tuple[str, ...] = TSS_COLUMNS, window: tuple[str, str] = ("fix_start", "fix_end")
) -> pd.Series:
    """True for a non-validated pair whose ``window`` (columns ``[start, end)``; the job passes the
    knocked-down window ``ko_start, ko_end``) overlaps (half-open) the window of a validated pair
    (another key) at the same TSS (``by``): the authors' pyranges self-join with
    ``validated < validated_b``, as a sort and sweep per TSS.

    Per TSS the validated windows are sorted by start; the ones starting before a query's end are
    a prefix, and the query overlaps one of them iff the running maximum of their ends exceeds the
    query's start.
    """
    out = np.zeros(len(effects), dtype=bool)
    if effects.empty:
        return pd.Series(out, index=effects.index)
    validated = effects["validated"].to_numpy(dtype=bool)
    start = effects[window[0]].to_numpy(dtype=np.int64)
    end = effects[window[1]].to_numpy(dtype=np.int64)
    for rows in effects.groupby(list(by), sort=False).indices.values():
        v, q = rows[validated[rows]], rows[~validated[rows]]
        if v.size == 0 or q.size == 0:
            continue
        order = np.argsort(start[v], kind="stable")
        v_start, v_end_max = start[v][order], np.maximum.accumulate(end[v][order])
        k = np.searchsorted(v_start, end[q], side="left")  # validated windows starting before the query ends
        hit = k > 0
        out[q[hit]] = v_end_max[k[hit] - 1] > start[q[hit]]
    return pd.Series(out, index=effects.index)


def recalibration_auprc(effects: pd.DataFrame, fit: dict[str, float], *, min_distance: float = 1000.0) -> pd.DataFrame:
    """AUPRC of ``validated`` for the raw |predicted %| vs the recalibrated % (the job's own ``fit``
    and :data:`AUTHORS_RECALIBRATION`), per dataset, on pairs with d > ``min_distance`` after
    dropping :func:`overlap_excluded` pairs (windows ``ko_start, ko_end`` when the table has them, else
    ``fix_start, fix_end``; found over the whole table, before the distance cut).
    """
    window = ("ko_start", "ko_end") if "ko_start" in effects.columns else ("fix_start", "fix_end")
    excluded = overlap_excluded(effects, window=window)
    rows = []
    for ds, f in _by_dataset(effects):
        far = f[f["distance"] > min_distance]
        sub = far[~excluded.loc[far.index]]
        y = sub["validated"].to_numpy(dtype=bool)
        row = {
            "dataset": ds,
            "n": int(len(sub)),
            "n_overlap_excluded": int(len(far) - len(sub)),
            "n_validated": int(y.sum()),
            "random_baseline": float(y.mean()) if len(y) else math.nan,
            "auprc_raw": _ap(y, sub["predicted_percent"].abs().to_numpy(dtype=np.float64)),
        }
        for name, params in (("fitted", fit), ("authors", AUTHORS_RECALIBRATION)):
            slope, intercept = params.get("slope", math.nan), params.get("intercept", math.nan)
            if math.isnan(slope) or math.isnan(intercept):
                row[f"auprc_recalibrated_{name}"] = math.nan
            else:
                score = recalibrated_percent(sub, slope, intercept).to_numpy(dtype=np.float64)
                row[f"auprc_recalibrated_{name}"] = _ap(y, score)
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class CandidateRules:
    """Cut-offs of the candidate selection (§6.3, last bullet; Predicted_Percent in %, distances in bp)."""

    strong_percent: float = 30.0
    strong_min_distance: int = 3000
    strong_max_distance: int = 90000
    weak_percent: float = 0.1
    weak_min_distance: int = 3000
    weak_max_distance: int = 8000
    weak_for_gene_percent: float = 1.0
    intermediate_min_percent: float = 4.0
    intermediate_max_percent: float = 8.0
    near_max_distance: int = 20000
    n_total: int = 2_000_000
    top_strongest: int = 20
    weak_locations: int = 6
    n_members: int = 6

    @classmethod
    def from_inputs(cls, inputs: dict[str, Any], n_members: int = 6) -> CandidateRules:
        names = [f for f in cls.__dataclass_fields__ if f != "n_members"]
        return cls(**{k: inputs[k] for k in names if k in inputs}, n_members=n_members)


def classify_candidates(effects: pd.DataFrame, rules: CandidateRules) -> pd.Series:
    """``candidate_type`` per pair: strong, intermediate, weak_for_gene, weak, or "" (not a candidate).

    strong: strong_min < d < strong_max and % > strong_percent; then, for genes with a strong
    candidate and weak_min < d < near_max: intermediate (min <= % <= max) or weak_for_gene
    (% < weak_for_gene_percent); then weak: weak_min < d < weak_max and % < weak_percent.
    """
    d, pct = effects["distance"], effects["predicted_percent"]
    strong = (d > rules.strong_min_distance) & (d < rules.strong_max_distance) & (pct > rules.strong_percent)
    strong_genes = set(effects.loc[strong, "gene"])
    in_strong_gene = effects["gene"].isin(strong_genes)
    near = in_strong_gene & (d > rules.weak_min_distance) & (d < rules.near_max_distance)
    inter = near & (pct >= rules.intermediate_min_percent) & (pct <= rules.intermediate_max_percent)
    wfg = near & (pct < rules.weak_for_gene_percent)
    weak = (d > rules.weak_min_distance) & (d < rules.weak_max_distance) & (pct < rules.weak_percent)
    out = pd.Series("", index=effects.index, dtype=object)
    for mask_, name in ((weak, "weak"), (wfg, "weak_for_gene"), (inter, "intermediate"), (strong, "strong")):
        out[mask_] = name  # later assignments take precedence
    return out


def select_candidates(effects: pd.DataFrame, rules: CandidateRules) -> pd.DataFrame:
    """The candidate table for ``multiplicativity`` (columns :data:`seqbench.inputs.crispri.CANDIDATE_COLUMNS`).

    Test locations: ``n = n_total // (promoters * enhancers * n_members)`` (at least 1): the
    ``top_strongest`` candidates by |log2_fc_pred|, then the first ``weak_locations`` weak ones in
    ascending log2_fc_pred, then the farthest of the rest (ties: table order).
    """
    kind = classify_candidates(effects, rules)
    c = effects[kind != ""].assign(candidate_type=kind[kind != ""]).copy()
    c = c.dropna(subset=["log2_fc_pred"])
    out = pd.DataFrame(
        {
            "ziga_key": c["ziga_key"],
            "chromosome": c["chrom"],
            "main_tss_start": c["main_tss_start"],
            "main_tss_end": c["main_tss_end"],
            "main_tss_bin": c["main_tss_bin"],
            "fix_enhancer_wide_start": c["fix_start"],
            "fix_enhancer_wide_end": c["fix_end"],
            "sequence_start": c["sequence_start"],
            "sequence_end": c["sequence_end"],
            "test_location": False,
            "log2_fc_pred": c["log2_fc_pred"],
            "candidate_type": c["candidate_type"],
        }
    ).reset_index(drop=True)
    if out.empty:
        return out
    n_prom = len(out.drop_duplicates(["chromosome", "main_tss_start", "main_tss_end"]))
    n_enh = len(out.drop_duplicates(["chromosome", "fix_enhancer_wide_start", "fix_enhancer_wide_end"]))
    n_test = max(1, min(len(out), rules.n_total // (n_prom * n_enh * max(rules.n_members, 1))))
    chosen: list[int] = []
    by_effect = out["log2_fc_pred"].abs().sort_values(ascending=False, kind="stable").index
    chosen += list(by_effect[: min(rules.top_strongest, n_test)])
    weak = out[(out["candidate_type"] == "weak") & ~out.index.isin(chosen)]
    weak = weak.sort_values("log2_fc_pred", kind="stable").index
    chosen += list(weak[: max(0, min(rules.weak_locations, n_test - len(chosen)))])
    rest = out[~out.index.isin(chosen)]
    dist = (rest["fix_enhancer_wide_start"] + rest["fix_enhancer_wide_end"]) // 2 - (rest["main_tss_start"] + 64)
    far = dist.abs().sort_values(ascending=False, kind="stable").index
    chosen += list(far[: max(0, n_test - len(chosen))])
    out.loc[chosen, "test_location"] = True
    return out


# ------------------------------------------------------------------------------------- results


@dataclass
class KnockdownResults:
    effects: pd.DataFrame
    correlations: pd.DataFrame
    medians: pd.DataFrame
    genes: pd.DataFrame
    auprc: pd.DataFrame
    thresholds: pd.DataFrame
    candidates: pd.DataFrame
    recalibration: dict[str, float] = field(default_factory=dict)
    effect_threshold: float = 10.0
    recalibration_auprc: pd.DataFrame = field(default_factory=pd.DataFrame)
    local: la.LocalAnalyses = field(default_factory=la.LocalAnalyses)

    def summary(self) -> dict[str, Any]:
        """Flat, strict-JSON dict with the keys :data:`SUMMARY_KEYS` (NaN becomes ``None``)."""
        e = self.effects

        def val(frame: pd.DataFrame, col: str, **where: Any) -> float | None:
            if col not in frame.columns:
                return None
            sel = frame
            for k, v in where.items():
                sel = sel[sel[k] == v]
            if sel.empty or pd.isna(sel[col].iloc[0]):
                return None
            return float(sel[col].iloc[0])

        s: dict[str, Any] = {
            "n_pairs": int(len(e)),
            "n_windows": int(e["window"].nunique()),
            "n_genes": int(e["gene"].nunique()),
            "n_shuffles": int(e["n_shuffles"].max()) if len(e) else 0,
            "n_validated": int(e["validated"].sum()),
            "n_pairs_without_measurement": int(e["observed_log2fc"].isna().sum()),
        }
        for ds in (*DATASETS, "combined"):
            s[f"pearson_{ds}"] = val(self.correlations, "pearson", dataset=ds, subset="all")
            s[f"spearman_{ds}"] = val(self.correlations, "spearman", dataset=ds, subset="all")
        for stat in ("pearson", "spearman"):
            s[f"{stat}_gasperini2019_1_20kb"] = val(self.correlations, stat, dataset="gasperini2019", subset="1-20kb")
        s["median_observed_percent_validated"] = val(
            self.medians, "median_observed_percent", dataset="combined", validated=True, window="1-100kb"
        )
        s["median_predicted_percent_validated"] = val(
            self.medians, "median_predicted_percent", dataset="combined", validated=True, window="1-100kb"
        )
        s["effect_threshold_percent"] = self.effect_threshold
        s["fraction_genes_no_candidate_above_threshold"] = val(
            self.genes, "fraction_genes_without_effect", dataset="combined"
        )
        for label in DISTANCE_LABELS:
            s[f"auprc_abs_log2fc_{label}"] = val(self.auprc, "auprc_abs_log2fc", dataset="combined", distance_bin=label)
            s[f"random_baseline_{label}"] = val(self.auprc, "random_baseline", dataset="combined", distance_bin=label)
        r = correlate(e["log2_fc_pred"], e["log2_fc_pred_n"]).pearson_r
        s["pearson_shuffle_vs_n"] = None if math.isnan(r) else r
        s["recalibration_slope"] = (
            None if math.isnan(self.recalibration.get("slope", math.nan)) else (self.recalibration["slope"])
        )
        s["recalibration_intercept"] = (
            None if math.isnan(self.recalibration.get("intercept", math.nan)) else self.recalibration["intercept"]
        )
        ra = self.recalibration_auprc
        s["auprc_recalibration_raw"] = val(ra, "auprc_raw", dataset="combined")
        s["auprc_recalibration_fitted"] = val(ra, "auprc_recalibrated_fitted", dataset="combined")
        s["auprc_recalibration_authors"] = val(ra, "auprc_recalibrated_authors", dataset="combined")
        n_ex = val(ra, "n_overlap_excluded", dataset="combined")
        s["n_recalibration_overlaps_excluded"] = None if n_ex is None else int(n_ex)
        s["n_candidates"] = int(len(self.candidates))
        s["n_test_locations"] = int(self.candidates["test_location"].sum()) if len(self.candidates) else 0
        s.update(self._local_summary(val))
        return s

    def _local_summary(self, val) -> dict[str, Any]:
        loc = self.local
        s: dict[str, Any] = {}
        el = loc.abc_elements
        s["enformer_abc_marks"] = loc.abc_marks or None
        s["enformer_abc_n_dnase_tracks"] = int(el["n_dnase_tracks"].iloc[0]) if len(el) else None
        s["enformer_abc_n_h3k27ac_tracks"] = int(el["n_h3k27ac_tracks"].iloc[0]) if len(el) else None
        s["enformer_abc_bins"] = loc.abc_bins if len(el) else None
        s["n_enformer_abc_elements"] = int(len(el)) if len(el) else None
        ab = loc.abc_auprc
        n_pairs = val(ab, "n", dataset="combined", predictor="enformer_abc")
        s["n_enformer_abc_pairs"] = None if n_pairs is None else int(n_pairs)
        s["n_bootstrap"] = loc.n_bootstrap if len(el) else None
        for p in la.ABC_PREDICTORS:
            for sfx, col in (("", "auprc"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high")):
                s[f"enformer_abc_auprc_{p}{sfx}"] = val(ab, col, dataset="combined", predictor=p)
        for label in DISTANCE_LABELS:
            s[f"auprc_enformer_abc_{label}"] = val(self.auprc, "auprc_enformer_abc", dataset="combined",
                                                   distance_bin=label)
        be, fits = loc.basal_elements, loc.basal_fits
        s["n_basal_promoters"] = int((be["kind"] == "promoter").sum()) if len(be) else None
        s["n_basal_enhancers"] = int((be["kind"] == "enhancer").sum()) if len(be) else None
        n_fit = val(fits, "n", response="predicted_percent")
        s["basal_ols_n"] = None if n_fit is None else int(n_fit)
        for t in la.BASAL_TERMS:
            s[f"basal_ols_{t}"] = val(fits, f"coef_{t}", response="predicted_percent")
        s["basal_ols_r2"] = val(fits, "r2", response="predicted_percent")
        s["basal_ols_observed_log10_promoter"] = val(fits, "coef_log10_promoter", response="observed_percent")
        prom = be[be["kind"] == "promoter"] if len(be) else be
        r = correlate(prom["pred_npad"], prom["pred_aavs1"]).pearson_r if len(prom) else math.nan
        s["pearson_promoter_npad_vs_aavs1"] = None if math.isnan(r) else r
        s["notes"] = list(loc.notes) + self._undefined_notes(s)
        return s

    def _undefined_notes(self, s: dict[str, Any]) -> list[str]:
        """Why a value of the knock-down part is null (the local analyses write their own notes)."""
        notes = []
        for label in DISTANCE_LABELS:
            a = self.auprc[(self.auprc["dataset"] == "combined") & (self.auprc["distance_bin"] == label)]
            if a.empty or not a["n"].iloc[0]:
                notes.append(f"distance bin {label} kb holds no pair: its AUPRCs are null")
            elif a["n_validated"].iloc[0] in (0, a["n"].iloc[0]):
                notes.append(f"distance bin {label} kb holds one class only: its AUPRCs are null")
        return notes


@dataclass(frozen=True)
class LocalSettings:
    """Inputs of the Enformer-ABC and basal-expression analyses (``None``: the analysis is off)."""

    abc_elements: pd.DataFrame | None = None  # unique elements with dnase, h3k27ac, n_*_tracks
    basal_elements: pd.DataFrame | None = None  # unique promoters/enhancers with pred_npad, pred_aavs1
    abc_marks: str = "h3k27ac_dnase"
    abc_bins: int = 3
    n_bootstrap: int = 99
    seed: int = 0
    element_half_width: int = 1000


def _local(effects: pd.DataFrame, settings: LocalSettings) -> tuple[pd.DataFrame, la.LocalAnalyses]:
    loc = la.LocalAnalyses()
    if settings.abc_elements is None:
        loc.notes.append("Enformer-ABC is off (inputs.analyses): its values are null")
    else:
        loc.abc_marks, loc.abc_bins, loc.n_bootstrap = settings.abc_marks, settings.abc_bins, settings.n_bootstrap
        loc.abc_elements = la.element_activity(settings.abc_elements, settings.abc_marks)
        effects = la.add_enformer_abc(effects, loc.abc_elements)
        loc.abc_auprc = la.enformer_abc_auprc(effects, settings.n_bootstrap, settings.seed)
        if settings.abc_marks == "dnase":
            loc.notes.append(
                "Enformer-ABC activity is K562 DNase alone (inputs.enformer_abc_marks = 'dnase'; the paper: the"
                " geometric mean with H3K27ac): enformer_abc_n_h3k27ac_tracks is 0"
            )
        if settings.abc_bins != 5:
            loc.notes.append(
                f"Enformer-ABC reads the job's bin window ({settings.abc_bins} bins around the element midpoint);"
                " the authors read 5 (_landmark_sum_wide): set ensemble.bin_window = [-2, 2] for theirs"
            )
    if settings.basal_elements is None:
        loc.notes.append("basal expression is off (inputs.analyses): its values are null")
    else:
        loc.basal_elements = settings.basal_elements
        effects = la.add_promoter_strength(effects, settings.basal_elements, settings.element_half_width)
        fits = [la.basal_ols(effects, r) for r in ("predicted_percent", "observed_percent")]
        loc.basal_fits = pd.DataFrame(fits)
        loc.notes += [f"basal OLS of {f['response']}: {f['note']}" for f in fits if f["note"]]
    return effects, loc


def reduce_knockdown(
    pairs: pd.DataFrame,
    means: pd.DataFrame,
    rules: CandidateRules,
    *,
    effect_threshold: float = 10.0,
    local: LocalSettings | None = None,
) -> KnockdownResults:
    """Every statistic of §6.3 from the pairs and the per-construct means (``local``: Enformer-ABC and
    basal expression, :mod:`seqbench.experiments.enhancer_knockdown.analyses`; ``None``: both off)."""
    effects = pair_effects(pairs, means)
    effects, loc = _local(effects, local or LocalSettings())
    fit = recalibration_fit(effects)
    return KnockdownResults(
        effects=effects,
        correlations=correlations(effects),
        medians=median_effects(effects),
        genes=gene_effects(effects, effect_threshold),
        auprc=auprc_by_bin(effects),
        thresholds=threshold_table(effects),
        candidates=select_candidates(effects, rules),
        recalibration=fit,
        effect_threshold=effect_threshold,
        recalibration_auprc=recalibration_auprc(effects, fit),
        local=loc,
    )


def write_tables(results: KnockdownResults, out_dir: Path) -> list[Path]:
    """TSV tables under ``out_dir`` (``in_silico_candidate_locs.tsv`` is multiplicativity's input)."""
    frames = {
        "knockdown_pairs": results.effects,
        "knockdown_correlations": results.correlations,
        "knockdown_median_effects": results.medians,
        "knockdown_gene_effects": results.genes,
        "knockdown_auprc": results.auprc,
        "knockdown_thresholds": results.thresholds,
        "knockdown_recalibration_auprc": results.recalibration_auprc,
        "in_silico_candidate_locs": results.candidates[list(CANDIDATE_COLUMNS)],
    }
    loc = results.local
    if len(loc.abc_elements):
        frames["knockdown_enformer_abc_elements"] = loc.abc_elements
        frames["knockdown_enformer_abc_auprc"] = loc.abc_auprc
    if len(loc.basal_elements):
        frames["knockdown_basal_elements"] = loc.basal_elements
        frames["knockdown_basal_ols"] = loc.basal_fits
    return write_frames(frames, out_dir, parquet=False, tsv=True)
