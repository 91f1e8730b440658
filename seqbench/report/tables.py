"""Writing an experiment's tables: one atomic writer for every format the experiments use.

Each file goes to a hidden temporary name next to its final name and is moved into place
(:func:`seqbench.files.atomic_write`), so a reader never sees a partial table.  Formats:

* Parquet: ``frame.to_parquet(path, index=False)``;
* CSV: ``frame.to_csv(path, index=False)``;
* TSV: ``frame.to_csv(path, sep="\\t", index=False)``;

with ``float_format`` passed to the CSV and TSV writers when given.  Indexes are never written:
a table that carries information in its index resets it before it is handed over.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from seqbench.files import atomic_write

__all__ = ["write_frames", "write_json"]

#: file suffix -> how one frame is written to a path, in the order the suffixes are written per stem
_WRITERS = {
    ".parquet": lambda frame, path, fmt: frame.to_parquet(path, index=False),
    ".csv": lambda frame, path, fmt: frame.to_csv(path, index=False, float_format=fmt),
    ".tsv": lambda frame, path, fmt: frame.to_csv(path, sep="\t", index=False, float_format=fmt),
}


def _chosen(stems: Collection[str], which: bool | Collection[str], fmt: str) -> set[str]:
    if isinstance(which, bool):
        return set(stems) if which else set()
    if isinstance(which, str):
        raise TypeError(f"write_frames: {fmt}= takes a bool or a collection of stems, not the string {which!r}")
    unknown = set(which) - set(stems)
    if unknown:
        raise ValueError(f"write_frames: {fmt}= names {sorted(unknown)}, which are not among the frames {list(stems)}")
    return set(which)


def write_frames(
    frames: Mapping[str, pd.DataFrame],
    out_dir: Path,
    *,
    parquet: bool | Collection[str] = True,
    csv: bool | Collection[str] = (),
    tsv: bool | Collection[str] = (),
    float_format: str | None = None,
) -> list[Path]:
    """Write each frame of ``frames`` (file stem -> table) under ``out_dir``, atomically.

    ``parquet``, ``csv`` and ``tsv`` each say which stems get that format: ``True`` (all),
    ``False`` or empty (none), or a collection of stems.  Returns the paths written: per stem in
    the order of ``frames``, its ``.parquet``, then ``.csv``, then ``.tsv``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = {
        ".parquet": _chosen(frames.keys(), parquet, "parquet"),
        ".csv": _chosen(frames.keys(), csv, "csv"),
        ".tsv": _chosen(frames.keys(), tsv, "tsv"),
    }
    written: list[Path] = []
    for stem, frame in frames.items():
        for suffix, write in _WRITERS.items():
            if stem in chosen[suffix]:
                path = out_dir / f"{stem}{suffix}"
                written.append(atomic_write(path, lambda tmp, f=frame, w=write: w(f, tmp, float_format)))
    return written


def write_json(path: Path, obj: Any) -> Path:
    """``obj`` as JSON (``indent=2``, keys in their order, one trailing newline), atomically."""
    text = json.dumps(obj, indent=2) + "\n"
    return atomic_write(Path(path), lambda tmp: tmp.write_text(text))
