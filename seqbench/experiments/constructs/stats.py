"""Statistics of a construct table: per construct, against its reference, and by label.

Per construct and track ``t``: ``t`` is the mean over the ensemble members of the landmark
readout (natural scale), ``log2_t = log2(t + 1)``; for a construct with a ``reference``,
``t_ref`` is the reference's value and ``log2fc_t = log2(t + 1) - log2(t_ref + 1)`` (the same
pseudocount as the paper's knock-down effects).

By label column ``g`` (every label unless ``inputs.group_by`` says otherwise), over the constructs
that have a reference: ``n``, the mean, median, standard deviation, minimum and maximum of
``log2fc`` of the readout, and the mean of its absolute value, one row per value of ``g``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.report.tables import write_frames

SUMMARY_KEYS: tuple[str, ...] = (
    "readout",
    "n_constructs",
    "n_compared",
    "median_abs_log2fc",
    "max_abs_log2fc",
    "top_construct",
    "top_log2fc",
    "n_groupings",
)


@dataclass
class ConstructResults:
    """``constructs``: one row per construct; ``groups``: label column -> its summary table."""

    constructs: pd.DataFrame
    groups: dict[str, pd.DataFrame]
    readout: str

    def summary(self) -> dict[str, Any]:
        """Flat strict-JSON dict with the keys :data:`SUMMARY_KEYS` (NaN becomes ``None``)."""
        col = f"log2fc_{self.readout}"
        fc = self.constructs[col].dropna() if col in self.constructs else pd.Series(dtype=float)
        top = fc.abs().idxmax() if len(fc) else None
        out = {
            "readout": self.readout,
            "n_constructs": int(len(self.constructs)),
            "n_compared": int(len(fc)),
            "median_abs_log2fc": float(fc.abs().median()) if len(fc) else math.nan,
            "max_abs_log2fc": float(fc.abs().max()) if len(fc) else math.nan,
            "top_construct": str(self.constructs.loc[top, "key"]) if top is not None else None,
            "top_log2fc": float(fc.loc[top]) if top is not None else math.nan,
            "n_groupings": len(self.groups),
        }
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def reduce_constructs(
    means: pd.DataFrame, *, tracks: list[str], readout: str, group_by: list[str]
) -> ConstructResults:
    """``means``: one row per construct (``construct_id``, ``key``, ``reference``, labels, one column
    per track of ensemble means).  Matches each construct to its reference by name."""
    out = means.copy()
    by_name = out.set_index("key")
    has_ref = out["reference"].notna() if "reference" in out else pd.Series(False, index=out.index)
    for t in tracks:
        out[f"log2_{t}"] = np.log2(out[t].to_numpy(np.float64) + 1.0)
        ref = pd.Series(np.nan, index=out.index)
        if has_ref.any():
            ref[has_ref] = by_name.loc[out.loc[has_ref, "reference"], t].to_numpy(np.float64)
        out[f"{t}_ref"] = ref
        out[f"log2fc_{t}"] = out[f"log2_{t}"] - np.log2(ref + 1.0)
    groups = {}
    col = f"log2fc_{readout}"
    compared = out[has_ref]
    for g in group_by:
        if g not in out.columns:
            continue
        fc = compared.groupby(g, sort=True, dropna=False)[col]
        table = fc.agg(["count", "mean", "median", "std", "min", "max"]).rename(columns={"count": "n"})
        table["mean_abs"] = compared[col].abs().groupby(compared[g], sort=True, dropna=False).mean()
        groups[g] = table.reset_index()
    return ConstructResults(constructs=out, groups=groups, readout=readout)


def write_tables(results: ConstructResults, out_dir: Path) -> list[Path]:
    """``constructs.tsv`` (one row per construct) and ``by_<label>.tsv`` per label grouping."""
    frames = {"constructs": results.constructs}
    for g, table in results.groups.items():
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in g)
        frames[f"by_{safe}"] = table
    return write_frames(frames, out_dir, parquet=False, tsv=True, float_format="%.10g")
