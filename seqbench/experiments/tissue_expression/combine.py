"""tissue-expression across the variants of a job: models side by side (Fig. 2A) and the sequence-window
ablation (Fig. 3A; experiments-spec §1.4 item 9).

* ``r_by_condition``: every variant's test-gene Pearson r per condition (and dataset), with its model and
  window; medians per variant.
* ``window_ablation``: GTEx and Cardoso-Moreira test genes pooled (a gene of each dataset is its own
  gene, ``<dataset>|<gene_id>``: the two scales are not comparable); each variant's centred prediction
  scored against the centred measurement on three levels (every gene x condition, the gene means, the
  deviations from the gene means) by :func:`seqbench.stats.conditions.ablation_metrics`, with each
  metric's difference from the reference variant (``inputs.ablation_reference``; by default the first
  model without windows, the paper's Basenji2).
* ``window_self_consistency``: per model with windows, each window scored against the same model's
  whole-input prediction instead of the measurement (the authors' self-consistency variant).

Variants that lack a dataset are left out of that dataset's rows; only (gene, condition) rows that every
variant predicts enter the ablation, so all predictors are scored on the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiments.tissue_expression.stats import matches_document
from seqbench.inputs.tables import InputError
from seqbench.stats.conditions import ablation_metrics


@dataclass
class CombinedResults:
    """The cross-variant tables; ``primary``: the variant whose fitted matches are also the job's own
    (``tables/<dataset>_ridge_matches.json``, what ``--from`` of another experiment reads): the first
    model's whole-input variant."""

    r_by_condition: pd.DataFrame
    medians: pd.DataFrame
    ablation: pd.DataFrame
    self_consistency: pd.DataFrame
    reference: str | None
    variants: list[dict[str, Any]]
    primary: str | None = None
    primary_matches: dict[str, Any] | None = None  # dataset -> the JSON document of its matches

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ablation_reference": self.reference, "ridge_matches_variant": self.primary}
        for r in self.medians.itertuples(index=False):
            out[f"{r.dataset}_median_pearson[{r.variant}]"] = _num(r.median_pearson)
        tot = self.ablation[self.ablation["level"] == "total"] if len(self.ablation) else self.ablation
        for r in tot.itertuples(index=False):
            out[f"ablation_total_r2[{r.predictor}]"] = _num(r.r2)
        return out


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def default_reference(variants: Sequence[Mapping[str, Any]]) -> str | None:
    """The first model with a single variant (no windows), when another model has several (windows): in the
    paper's set-up (Enformer's windows, then Basenji2, then Xpresso) Basenji2."""
    per_model: dict[int, list[str]] = {}
    for v in variants:
        per_model.setdefault(int(v["model_index"]), []).append(str(v["name"]))
    singles = [names[0] for names in per_model.values() if len(names) == 1]
    windowed = [m for m, names in per_model.items() if len(names) > 1]
    return singles[0] if singles and windowed else None


def combine(results: Mapping[str, Any], variants: Sequence[Mapping[str, Any]], spec) -> CombinedResults:
    """The tables of the module docstring from each variant's :class:`ExpressionResults`."""
    names = [str(v["name"]) for v in variants]
    rows = []
    for v in variants:
        res = results[v["name"]]
        for d, r in res.datasets.items():
            m = r.metrics
            rows.append(pd.DataFrame({"variant": v["name"], "model": v["model"], "window": int(v.get("window") or 0),
                                      "dataset": d, "condition": m["condition"], "pearson": m["pearson"],
                                      "spearman": m["spearman"], "r2": m["r2"]}))
    r_by = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["variant", "model", "window", "dataset", "condition", "pearson", "spearman", "r2"])
    medians = (r_by.groupby(["dataset", "variant"], sort=False)["pearson"].median().rename("median_pearson")
               .reset_index())
    wanted = str(spec.inputs.get("ablation_reference") or "") if spec is not None else ""
    if wanted and wanted not in names:
        raise InputError(f"inputs.ablation_reference = {wanted!r}; expected one of the job's variants:"
                         f" {', '.join(names)}")
    reference = wanted or default_reference(variants)
    pooled = pooled_predictions(results, names)
    ablation = (ablation_metrics(pooled, names, gene="key", observed="log_obs", reference=reference)
                if len(pooled) else pd.DataFrame())
    selfc = []
    by_model: dict[int, list[Mapping[str, Any]]] = {}
    for v in variants:
        by_model.setdefault(int(v["model_index"]), []).append(v)
    for vs in by_model.values():
        full = [v for v in vs if not int(v.get("window") or 0)]
        if len(vs) < 2 or not full or not len(pooled):
            continue
        cols = [str(v["name"]) for v in vs]
        t = ablation_metrics(pooled, cols, gene="key", observed=str(full[0]["name"]))
        t.insert(0, "against", str(full[0]["name"]))
        selfc.append(t)
    self_consistency = pd.concat(selfc, ignore_index=True) if selfc else pd.DataFrame()
    for t in (ablation, self_consistency):
        if len(t):
            win = {str(v["name"]): int(v.get("window") or 0) for v in variants}
            t.insert(1, "window", t["predictor"].map(win).astype(np.int64))
    first = min(int(v["model_index"]) for v in variants)
    whole = [str(v["name"]) for v in variants if int(v["model_index"]) == first and not int(v.get("window") or 0)]
    primary = whole[0] if whole else names[0]
    res = results[primary]
    docs = {d: matches_document(d, res.features, r.matches, variant=primary) for d, r in res.datasets.items()}
    return CombinedResults(r_by, medians, ablation, self_consistency, reference,
                           [{k: v[k] for k in ("name", "model", "window", "model_index")} for v in variants],
                           primary, docs)


def pooled_predictions(results: Mapping[str, Any], names: Sequence[str]) -> pd.DataFrame:
    """Test-gene rows of every dataset, one column per variant's centred prediction (rows every variant has)."""
    frames = []
    for d in ("gtex", "kaessmann"):
        have = [n for n in names if d in results[n].datasets]
        if len(have) != len(names):
            continue
        base = None
        for n in names:
            p = results[n].datasets[d].predictions[["gene_id", "condition", "log_obs", "log_pred"]]
            p = p.rename(columns={"log_pred": n})
            base = p if base is None else base.merge(p.drop(columns=["log_obs"]), on=["gene_id", "condition"])
        assert base is not None
        base.insert(0, "key", d + "|" + base["gene_id"].astype(str))
        base.insert(0, "dataset", d)
        frames.append(base)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_combined(combined: CombinedResults, job_dir: Path, *, title: str) -> list[Path]:
    """``tables/r_by_condition.csv``, ``tables/window_ablation.csv``, ``tables/window_self_consistency.csv``,
    ``figures/fig2a_r_by_condition.png`` and ``figures/fig3a_window_ablation.png`` (when there are windows)."""
    from seqbench.experiments.tissue_expression.figures import ablation_figure, models_figure
    from seqbench.report.figures import save_all
    from seqbench.report.tables import write_frames

    frames = {"r_by_condition": combined.r_by_condition, "median_r_by_variant": combined.medians}
    if len(combined.ablation):
        frames["window_ablation"] = combined.ablation
    if len(combined.self_consistency):
        frames["window_self_consistency"] = combined.self_consistency
    paths = write_frames(frames, Path(job_dir) / "tables", parquet=False, csv=True)
    from seqbench.report.tables import write_json

    for d, doc in (combined.primary_matches or {}).items():  # the job's own matches, for --from
        paths.append(write_json(Path(job_dir) / "tables" / f"{d}_ridge_matches.json", doc))
    figs = [("fig2a_r_by_condition.png", models_figure(combined, title))]
    if len(combined.ablation) and any(int(v["window"]) for v in combined.variants):
        figs.append(("fig3a_window_ablation.png", ablation_figure(combined, title)))
    return paths + save_all(figs, Path(job_dir) / "figures")
