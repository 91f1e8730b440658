"""The FEATURES table of a GenBank file: feature type, location and label.

Only what the plasmid experiments need: simple locations ``a..b``, ``complement(a..b)``, ``<a..>b``
and single bases ``a`` (1-based, inclusive in the file), returned 0-based half-open ``[start, end)``;
the label is the first ``/label=``, else ``/gene=``, ``/product=`` or ``/note=`` qualifier.  Joined or
ordered locations (``join(...)``) are kept with the span of their parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from seqbench.inputs.tables import InputError

_LABEL_KEYS = ("label", "gene", "product", "note")


@dataclass(frozen=True)
class Feature:
    """One feature: ``kind`` (``CDS``, ``misc_feature``, ...), ``[start, end)`` 0-based half-open on the
    record's + strand, ``strand`` (``+``/``-``), ``label`` (``""`` if none), ``line`` (1-based, in the file)."""

    kind: str
    start: int
    end: int
    strand: str
    label: str
    line: int


def _location(text: str, path: Path, line: int) -> tuple[int, int, str]:
    strand = "-" if "complement(" in text else "+"
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if not numbers:
        raise InputError(f"{path}: line {line}: feature location {text!r}; expected e.g. 1809..4294")
    return min(numbers) - 1, max(numbers), strand


def parse_features(path: Path) -> list[Feature]:
    """Every feature of the record's FEATURES table, in file order (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: plasmid GenBank file not found")
    try:
        lines = path.read_text(errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: plasmid GenBank file cannot be read ({exc})") from exc
    start = next((i for i, s in enumerate(lines) if s.startswith("FEATURES")), None)
    if start is None:
        return []
    out: list[Feature] = []
    cur: dict | None = None

    def flush() -> None:
        if cur is None:
            return
        s, e, strand = _location(cur["loc"], path, cur["line"])
        label = next((cur["q"][k] for k in _LABEL_KEYS if k in cur["q"]), "")
        out.append(Feature(cur["kind"], s, e, strand, label, cur["line"]))

    for k in range(start + 1, len(lines)):
        line = lines[k]
        if line.startswith("ORIGIN") or line.startswith("//") or (line and not line.startswith(" ")):
            break
        if len(line) > 5 and line[5] != " " and line[:5].strip() == "":
            flush()
            parts = line.split(None, 1)
            cur = {"kind": parts[0], "loc": parts[1] if len(parts) > 1 else "", "line": k + 1, "q": {}, "last": None}
            continue
        if cur is None:
            continue
        body = line.strip()
        m = re.match(r'/(\w+)(?:=(.*))?$', body)
        if m:
            key, value = m.group(1), (m.group(2) or "").strip().strip('"')
            cur["q"].setdefault(key, value)
            cur["last"] = key
        elif cur["last"] is None:
            cur["loc"] += body  # location continued on the next line
    flush()
    return out
