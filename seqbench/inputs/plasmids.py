"""Input pieces shared by the plasmid and landing-pad experiments (promoter-mpra, promoter-enhancer-mpra):
the authors' GenBank recipe and the ``chrom:start-end`` landing-pad notation."""

from __future__ import annotations

import re
from pathlib import Path

from seqbench.inputs.tables import InputError


def parse_genbank(path: Path) -> str:
    """The sequence of a GenBank file by the authors' recipe (§3.1): the lines after ``ORIGIN`` up to
    ``//``, spaces, ``/`` and digits removed, upper-cased.  Only A, C, G, T and N are accepted; a
    ``LOCUS`` line's length (``... 6243 bp``), when present, must match."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: plasmid GenBank file not found")
    try:
        lines = path.read_text(errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: plasmid GenBank file cannot be read ({exc})") from exc
    start = next((i for i, line in enumerate(lines) if line.startswith("ORIGIN")), None)
    if start is None:
        raise InputError(f"{path}: no ORIGIN line; expected a GenBank record with its sequence after ORIGIN")
    parts = []
    for k, line in enumerate(lines[start + 1 :], start=start + 2):
        if line.startswith("//"):
            break
        chunk = re.sub(r"[\s/0-9]", "", line).upper()
        bad = re.search(r"[^ACGTN]", chunk)
        if bad:
            raise InputError(f"{path}: line {k}: character {bad.group()!r} in the sequence; expected A, C, G, T or N")
        parts.append(chunk)
    seq = "".join(parts)
    if not seq:
        raise InputError(f"{path}: the ORIGIN section holds no sequence")
    locus = next((line for line in lines[:start] if line.startswith("LOCUS")), None)
    m = re.search(r"\s(\d+)\s+bp\b", locus or "")
    if m and int(m.group(1)) != len(seq):
        raise InputError(f"{path}: LOCUS says {m.group(1)} bp but the ORIGIN section holds {len(seq)} bp")
    return seq


#: the AAVS1 landing pad of the authors' insertions (chr19, 30 bp, 0-based half-open)
AAVS1 = "chr19:55115750-55115780"


def parse_landing_pad(text: str, where: str = "inputs.landing_pad") -> tuple[str, int, int]:
    """``chrom:start-end`` (0-based, half-open; commas allowed) -> ``(chrom, start, end)``."""
    m = re.fullmatch(r"\s*([^:\s]+):([\d,]+)-([\d,]+)\s*", text)
    if not m:
        raise InputError(f"{where} = {text!r}; expected chrom:start-end (0-based, half-open)")
    chrom, start, end = m.group(1), int(m.group(2).replace(",", "")), int(m.group(3).replace(",", ""))
    if end <= start:
        raise InputError(f"{where} = {text!r}; expected start < end")
    return chrom, start, end


def format_genbank(header: list[str], seq: str) -> str:
    """A GenBank record: ``header`` lines (LOCUS ... FEATURES), then ``ORIGIN`` with ``seq`` in the
    standard layout (60 bases a line in groups of 10, 1-based position first), then ``//``.
    :func:`parse_genbank` reads it back exactly (upper-cased)."""
    low = seq.lower()
    lines = [*header, "ORIGIN"]
    for i in range(0, len(low), 60):
        groups = " ".join(low[j : j + 10] for j in range(i, min(i + 60, len(low)), 10))
        lines.append(f"{i + 1:>9} {groups}")
    lines.append("//")
    return "\n".join(lines) + "\n"
