"""Several models (or receptive-field windows) side by side: one table and one figure comparing
the variants of a job on the experiment's headline figures (as the paper's Fig. 2A compares models).

Plain Python, no experiment branches: the rows are the variants' ``summary.json`` values under the
experiment's headline keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd


def comparison_frame(
    variants: Sequence[Mapping[str, Any]],
    summaries: Mapping[str, Mapping[str, Any]],
    headline: Sequence[tuple[str, str]],
) -> pd.DataFrame:
    """One row per variant (``name``, ``model``, ``window`` bp, 0 = whole input), one column per headline key."""
    rows = []
    for v in variants:
        s = summaries[v["name"]]
        row: dict[str, Any] = {"variant": v["name"], "model": v["model"], "window": int(v.get("window") or 0)}
        for key, _text in headline:
            row[key] = s.get(key)
        rows.append(row)
    return pd.DataFrame(rows)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(float(value)) else None


def write_comparison_figure(
    frame: pd.DataFrame, headline: Sequence[tuple[str, str]], path: Path, *, title: str
) -> Path | None:
    """Bars per variant, one panel per numeric headline figure; None when no headline figure is a number."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [(k, t) for k, t in headline if any(_number(v) is not None for v in frame[k])]
    if not keys:
        return None
    n = len(keys)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    names = list(frame["variant"])
    for ax, (key, text) in zip(axes.flat, keys, strict=False):
        values = [_number(v) for v in frame[key]]
        shown = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(range(len(names)), shown, color=[f"C{i % 10}" for i in range(len(names))])
        for b, v in zip(bars, values, strict=True):
            ax.annotate("n/a" if v is None else f"{v:.3g}", (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(text if len(text) <= 48 else text[:45] + "...", fontsize=9)
        ax.axhline(0, color="grey", lw=0.5)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
