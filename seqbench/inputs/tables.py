"""Reading input tables with errors that name the file, the row and the column.

Row numbers in messages count data rows, 1-based: row 1 is the first line after the header.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd


class InputError(ValueError):
    """An input table is missing, unreadable or not in the expected layout."""


def read_table(path: Path, required: Sequence[str], *, what: str, sep: str = "\t") -> pd.DataFrame:
    """Read a delimited table and check its columns; errors name the file and the column."""
    if not Path(path).is_file():
        if Path(path).is_dir():
            raise InputError(f"{path}: {what} is a directory; expected a file")
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
