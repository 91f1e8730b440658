"""Reading input tables with errors that name the file, the row and the column.

Row numbers in messages count data rows, 1-based: row 1 is the first line after the header.
"""

from __future__ import annotations

import re
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
    except pd.errors.ParserError as exc:
        raise parser_error(path, exc, what, sep, hint=_sep_hint(sep)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: {what} is not UTF-8 text ({exc.reason}); expected a UTF-8 tab-separated table"
            " (re-save it as UTF-8)"
        ) from exc
    _check_header(path, frame, required, what=what, sep=sep)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: {what} lacks column {missing[0]!r}"
            f"{f' (and {len(missing) - 1} more: ' + ', '.join(missing[1:]) + ')' if len(missing) > 1 else ''}"
        )
    if frame.empty:
        raise InputError(f"{path}: {what} has a header but no rows")
    return frame


_SEP_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", " ": "space"}


def _sep_hint(sep: str) -> str:
    return " (a tab inside a cell?)" if sep == "\t" else ""


def _check_header(path: Path, frame: pd.DataFrame, required: Sequence[str], *, what: str, sep: str) -> None:
    """Refuse a table that is not separated by ``sep`` (one column holding commas or semicolons), and a
    header that repeats a column name (pandas renames the second ``X`` to ``X.1`` and reads the first)."""
    cols = [str(c) for c in frame.columns]
    if len(cols) == 1 and len(required) > 1:
        for other in (",", ";", "\t", " "):
            if other != sep and other in cols[0]:
                raise InputError(
                    f"{path}: {what} has one column {cols[0][:60] + ('...' if len(cols[0]) > 60 else '')!r}:"
                    f" it looks {_SEP_NAMES.get(other, 'space')}-separated; expected a"
                    f" {_SEP_NAMES.get(sep, repr(sep))}-separated table"
                )
    mangled = [c for c in cols if re.fullmatch(r".+\.\d+", c) and c.rsplit(".", 1)[0] in cols]
    if not mangled:
        return
    header = [str(c) for c in pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str).iloc[0]]
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen:
            raise InputError(
                f"{path}: {what}'s header names column {name!r} twice (columns {seen[name] + 1} and {j + 1});"
                " expected unique column names"
            )
        seen[name] = j


def parser_error(path: Path, exc: Exception, what: str, sep: str = "\t", *, hint: str = "") -> InputError:
    """pandas' ``ParserError`` as one line: a ragged row names its data row (1-based) and its field count."""
    name = _SEP_NAMES.get(sep, repr(sep))
    ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if ragged:  # the line counts the header: line N is data row N - 1
        want, line, saw = (int(x) for x in ragged.groups())
        return InputError(
            f"{path}: row {line - 1} has {saw} {name}-separated fields; expected {want}, as many as the {what}'s"
            f" header{hint}"
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(f"{path}: {what} cannot be parsed as a {name}-separated table ({first})")


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
