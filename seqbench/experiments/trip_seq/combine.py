"""trip-seq across the variants of a job (models x receptive-field windows; paper Fig. S16).

``r_by_window``: every variant's correlation rows (:func:`seqbench.experiments.trip_seq.stats.correlations`)
with its model and window (bp; 0 = the whole input).  The authors' windowed samples (experiments-spec
§8.1: N outside a window of ``w`` bp centred on input position L/2, bins from the full sequence) are the
variants of ``ensemble.windows`` here (N outside ``w`` bp centred on the landmark, the same bases for every
member; see docs/experiments/trip-seq.md on §13 B22).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class CombinedTrip:
    """``r_by_window`` (one row per variant x insert type x scope x promoter) and the variant records."""

    r_by_window: pd.DataFrame
    variants: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        t = self.r_by_window
        for scope in ("pooled", "promoter_reduced", "within_promoter"):
            for r in t[t["scope"] == scope].itertuples(index=False):
                v = float(r.pearson_r)
                out[f"r_{scope}[{r.variant}|{r.insert_type}]"] = v if math.isfinite(v) else None
        return out


def combine(results: Mapping[str, Any], variants: Sequence[Mapping[str, Any]], spec) -> CombinedTrip:
    """The table of the module docstring from each variant's
    :class:`~seqbench.experiments.trip_seq.stats.TripResults`."""
    frames = []
    for v in variants:
        c = results[v["name"]].correlations.copy()
        c.insert(0, "window", int(v.get("window") or 0))
        c.insert(0, "model", str(v["model"]))
        c.insert(0, "variant", str(v["name"]))
        frames.append(c)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return CombinedTrip(table, [{k: v[k] for k in ("name", "model", "window", "model_index")} for v in variants])


def write_combined(combined: CombinedTrip, job_dir: Path, *, title: str) -> list[Path]:
    """``tables/r_by_window.csv`` and ``figures/figS16_trip_r_by_window.png``."""
    from seqbench.experiments.trip_seq.figures import windows_figure
    from seqbench.report.figures import save_all
    from seqbench.report.tables import write_frames

    paths = write_frames({"r_by_window": combined.r_by_window}, Path(job_dir) / "tables", parquet=False, csv=True)
    if len(combined.r_by_window):
        paths += save_all([("figS16_trip_r_by_window.png", windows_figure(combined.r_by_window, title))],
                          Path(job_dir) / "figures")
    return paths
