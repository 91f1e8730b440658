"""Reduce of the TRIP-seq job (experiments-spec §8.2): pure pandas/NumPy/SciPy, one variant (model x window).

* ``pred`` of a construct = mean over its members (strand x shift) of the K562 CAGE 3-bin landmark
  sum, natural scale (§0.4); ``log2_pred = log2(pred + 1)``; measured ``log2_exp`` is already log2
  (sites measured more than once are averaged in the design).
* Per insert type (:func:`correlations`), Pearson of ``log2_pred`` vs ``log2_exp`` and Spearman
  (rank-invariant, so the raw prediction's, §13 B16), on the scopes:

  - ``pooled``: every site;
  - ``promoter``: the sites of one promoter (one row each);
  - ``promoter_reduced``: the per-promoter *medians* of ``log2_pred`` and ``log2_exp``, r over the
    promoters (the authors' promoter ranking, paper r = 0.73);
  - ``within_promoter`` (added): ``log2_pred`` and ``log2_exp`` minus their promoter means, pooled:
    the location effect alone (what the paper finds poorly predicted).

* ``full_vs_minimal``: Pearson/Spearman of the full and minimal insert's ``log2_pred`` at the same
  sites (both insert types in the job).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import construct_means
from seqbench.report.tables import write_frames
from seqbench.stats.common import Correlation, correlate

SCOPES = ("pooled", "promoter", "promoter_reduced", "within_promoter")
SUMMARY_KEYS = (
    "primary_insert",
    "n_constructs",
    "n_sites",
    "n_promoters",
    "r_pooled",
    "rho_pooled",
    "r_promoter_reduced",
    "rho_promoter_reduced",
    "r_within_promoter",
    "median_r_per_promoter",
    "best_promoter",
    "best_promoter_r",
    "r_pooled_minimal",
    "r_pooled_full",
    "r_full_vs_minimal",
)


def _corr_row(insert_type: str, scope: str, promoter: str, c: Correlation) -> dict[str, Any]:
    return {"insert_type": insert_type, "scope": scope, "promoter": promoter, **c.as_dict()}


def correlations(sites: pd.DataFrame) -> pd.DataFrame:
    """The correlation rows of the module docstring; ``sites``: ``insert_type, promoter, log2_pred, log2_exp``."""
    rows = []
    for itype, d in sites.groupby("insert_type", sort=False):
        rows.append(_corr_row(itype, "pooled", "all", correlate(d["log2_pred"], d["log2_exp"])))
        for prom, p in d.groupby("promoter", sort=True):
            rows.append(_corr_row(itype, "promoter", str(prom), correlate(p["log2_pred"], p["log2_exp"])))
        med = d.groupby("promoter", sort=True)[["log2_pred", "log2_exp"]].median()
        rows.append(_corr_row(itype, "promoter_reduced", "all", correlate(med["log2_pred"], med["log2_exp"])))
        centred = d[["log2_pred", "log2_exp"]] - d.groupby("promoter")[["log2_pred", "log2_exp"]].transform("mean")
        rows.append(_corr_row(itype, "within_promoter", "all",
                              correlate(centred["log2_pred"], centred["log2_exp"])))
    return pd.DataFrame(rows, columns=["insert_type", "scope", "promoter", "n", "pearson_r", "pearson_p",
                                       "spearman_r", "spearman_p"])


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass
class TripResults:
    """One variant's tables: ``sites`` (one row per construct with ``pred``, ``log2_pred``),
    ``correlations`` (module docstring), ``full_vs_minimal`` (one row, or empty), ``primary`` (the insert
    type the headline reads: ``minimal`` when present, as the paper)."""

    sites: pd.DataFrame
    correlations: pd.DataFrame
    full_vs_minimal: pd.DataFrame
    primary: str

    def _r(self, scope: str, insert_type: str | None = None, col: str = "pearson_r") -> float | None:
        c = self.correlations
        sel = c[(c["scope"] == scope) & (c["insert_type"] == (insert_type or self.primary))]
        return _num(sel[col].iloc[0]) if len(sel) else None

    def summary(self) -> dict[str, Any]:
        c = self.correlations
        per = c[(c["scope"] == "promoter") & (c["insert_type"] == self.primary)].dropna(subset=["pearson_r"])
        prim = self.sites[self.sites["insert_type"] == self.primary]
        best = per.loc[per["pearson_r"].idxmax()] if len(per) else None
        fvm = _num(self.full_vs_minimal["pearson_r"].iloc[0]) if len(self.full_vs_minimal) else None
        return {
            "primary_insert": self.primary,
            "n_constructs": int(len(self.sites)),
            "n_sites": int(len(prim)),
            "n_promoters": int(prim["promoter"].nunique()),
            "r_pooled": self._r("pooled"),
            "rho_pooled": self._r("pooled", col="spearman_r"),
            "r_promoter_reduced": self._r("promoter_reduced"),
            "rho_promoter_reduced": self._r("promoter_reduced", col="spearman_r"),
            "r_within_promoter": self._r("within_promoter"),
            "median_r_per_promoter": _num(per["pearson_r"].median()) if len(per) else None,
            "best_promoter": str(best["promoter"]) if best is not None else None,
            "best_promoter_r": _num(best["pearson_r"]) if best is not None else None,
            "r_pooled_minimal": self._r("pooled", "minimal"),
            "r_pooled_full": self._r("pooled", "full"),
            "r_full_vs_minimal": fvm,
        }


def reduce_trip(predictions: pd.DataFrame, design: pd.DataFrame, *, readout: str) -> TripResults:
    """The statistics of one variant from its prediction rows and the design table."""
    labels = ["key", "site", "insert_type", "promoter", "orientation", "chrom", "location", "strand",
              "log2_exp", "n_measured"]
    cm = construct_means(predictions, design, [readout], labels=labels).rename(columns={readout: "pred"})
    cm["log2_pred"] = np.log2(cm["pred"].to_numpy(np.float64) + 1.0)
    corr = correlations(cm)
    types = list(dict.fromkeys(cm["insert_type"]))
    primary = "minimal" if "minimal" in types else types[0]
    fvm = pd.DataFrame(columns=["n", "pearson_r", "pearson_p", "spearman_r", "spearman_p"])
    if {"minimal", "full"} <= set(types):
        m = cm[cm["insert_type"] == "minimal"].set_index("site")["log2_pred"]
        f = cm[cm["insert_type"] == "full"].set_index("site")["log2_pred"]
        both = pd.concat([m.rename("minimal"), f.rename("full")], axis=1, join="inner")
        fvm = pd.DataFrame([correlate(both["full"], both["minimal"]).as_dict()])
    return TripResults(cm, corr, fvm, primary)


def write_tables(results: TripResults, out_dir: Path) -> list[Path]:
    """``site_predictions`` (parquet + csv), ``correlations.csv``, ``full_vs_minimal.csv``."""
    frames = {"site_predictions": results.sites, "correlations": results.correlations}
    if len(results.full_vs_minimal):
        frames["full_vs_minimal"] = results.full_vs_minimal
    return write_frames(frames, Path(out_dir), parquet={"site_predictions"}, csv=True)
