"""What an experiment is: inputs it accepts, ``expand`` into constructs, ``reduce`` and ``report``.

An experiment never touches Ray.  ``expand`` returns a :class:`Design`: a table with one row
per construct (``construct_id`` 0..n-1 plus the labels the statistics need) and a picklable
builder of the construct with a given id, so that the runtime can cut the id range into
shards and build each shard's constructs where they are materialized.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from seqbench.sequence.constructs import Construct


class InputError(ValueError):
    """An input table is missing, unreadable or not in the expected layout."""


class ConstructBuilder(Protocol):
    def __call__(self, construct_id: int) -> Construct: ...


@dataclass
class Design:
    """Constructs of a job: ``table`` (``construct_id``, ``key`` and labels) and a builder."""

    table: pd.DataFrame
    build: ConstructBuilder

    @property
    def n_constructs(self) -> int:
        return len(self.table)

    def constructs(self, ids: Sequence[int]) -> list[Construct]:
        return [self.build(int(i)) for i in ids]


MapFn = Callable[[Callable[[Any], Any], list[Any]], list[Any]]


def sequential_map(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [fn(x) for x in items]


def read_table(path: Path, required: Sequence[str], *, what: str, sep: str = "\t") -> pd.DataFrame:
    """Read a delimited table and check its columns; errors name the file and the column."""
    if not Path(path).is_file():
        raise InputError(f"{path}: {what} not found")
    try:
        frame = pd.read_csv(path, sep=sep)
    except OSError as exc:  # unreadable (permissions), a directory, an I/O error
        raise InputError(f"{path}: {what} cannot be read ({exc.strerror or exc})") from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path}: {what} is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: {what} cannot be parsed as a tab-separated table ({exc})") from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: {what} lacks column {missing[0]!r}"
            f"{f' (and {len(missing) - 1} more: ' + ', '.join(missing[1:]) + ')' if len(missing) > 1 else ''}"
        )
    if frame.empty:
        raise InputError(f"{path}: {what} has a header but no rows")
    return frame


def open_input(path: Path, what: str = "input file"):
    """``open(path, "rb")``, or :class:`InputError` naming the file and why it cannot be read."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: {what} cannot be read ({exc.strerror or exc})") from exc


def require_int_column(frame: pd.DataFrame, column: str, path: Path) -> None:
    """Refuse a column that should hold integers, naming the first bad row (1-based data row)."""
    col = pd.to_numeric(frame[column], errors="coerce")
    bad = col.isna() | (col % 1 != 0)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        value = frame[column].iloc[i]
        found = "the cell is empty (or NA)" if pd.isna(value) else repr(str(value))
        raise InputError(f"{path}: row {i + 1}, column {column!r}: {found}; expected an integer")
