"""Experiments written as data: one row per construct in a table, no code.

The construct table (TSV or Parquet, ``inputs.table``) has one row per construct:

===============  ==========================================================================
column           meaning
===============  ==========================================================================
``name``         unique name of the construct (required)
``chrom``        a reference locus: the chromosome the construct is read from, or
``sequence``     a literal construct (A, C, G, T, N), N-padded to the model's input
                 (exactly one of ``chrom`` and ``sequence`` per row)
``landmark``     the position whose output bins are read, 0-based: on the chromosome for a
                 locus, in the literal for a literal (required); the model window is centred
                 on it
``edits``        zero or more edits separated by ``;`` (notation below; may be empty)
``reference``    the ``name`` of another construct to compare against (optional): reduce gives
                 the log2 fold change of this construct against it
``strand``       the construct's own orientation, ``+`` or ``-`` (optional, default ``+``): a
                 gene's strand.  Models with an anchor (Xpresso) read the window on this strand;
                 the others evaluate both strands and average them either way
                 (``docs/geometry.md``)
anything else    labels, carried to the results; reduce summarises by each of them
===============  ==========================================================================

Edits, in the coordinates of the source (chromosome or literal), 0-based, half-open ``[start,
end)``; edits may be listed in any order but may not overlap:

=====================================  ============================================================
``replace:START-END=SEQ``              replace with a literal (A, C, G, T, N)
``replace:START-END=CHROM:S-E[:-]``    replace with genome sequence (``:-``: reverse complement)
``insert:POS=SEQ`` / ``=CHROM:S-E[:-]``  insert before ``POS``
``delete:START-END``                   delete
``substitute:POS=REF>ALT``             a variant; ``REF`` is checked against the source
``mask:START-END``                     replace with N (same length)
``shuffle:START-END:KIND:R``           shuffle in place; ``KIND`` ``mono`` or ``di``; ``R`` the
                                       replicate number (>= 0), required
=====================================  ============================================================

A shuffle's seed derives from (job seed, source, start, end, kind, replicate), so the same region
and replicate give the same shuffled sequence in every construct that asks for it, and replicates
differ.  Row numbers in messages count data rows (row 1 is the first line after the header).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import Design, MapFn, construct_means, sequential_map
from seqbench.inputs.tables import InputError
from seqbench.keys import Key
from seqbench.models.base import Geometry
from seqbench.sequence.constructs import (
    Construct,
    ConstructError,
    Edit,
    FromGenome,
    Literal,
    Masked,
    Shuffled,
    landmark_position,
)
from seqbench.sequence.shuffles import derive_seed

NAME = "constructs"
TITLE = "Constructs written as data: a table of loci or literals with edits, read at a landmark"
TABLE_DEFAULT = "Data/Constructs/tile_scan.tsv"

INPUTS: dict[str, Key] = {
    "table": Key(str, TABLE_DEFAULT, "construct table (TSV or Parquet), relative to data_root", path=True),
    "group_by": Key(
        list, None, "label columns to summarise by (default: every label column)", item=str
    ),
}
PATH_INPUTS = {"table"}
DEFAULT_TRACKS: dict[str, Any] = {"cage": {"assay": "CAGE", "cell_type": "K562"}}
READOUT = "cage"

#: columns with a meaning; every other column is a label
RESERVED = ("name", "chrom", "sequence", "landmark", "edits", "reference", "strand")
OPS = ("replace", "insert", "delete", "substitute", "mask", "shuffle")

_SEQ = re.compile(r"^[ACGTNacgtn]*$")
_SPAN = re.compile(r"^(\d+)-(\d+)$")
_LOCUS = re.compile(r"^([^:\s]+):(\d+)-(\d+)(?::([+-]))?$")


@dataclass(frozen=True)
class Where:
    """Where a cell is, for messages: the file, the data row (1-based) and the column."""

    path: Path
    row: int
    column: str

    def __call__(self, text: str) -> InputError:
        return InputError(f"{self.path}: row {self.row}, column {self.column!r}: {text}")


def _cell(value: Any) -> str | None:
    """A cell as text, or ``None`` when empty / NA."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _int(text: str, what: str, where: Where) -> int:
    try:
        value = int(text)
    except ValueError:
        raise where(f"{what} {text!r} is not an integer") from None
    if value < 0:
        raise where(f"{what} {value} is negative; expected a 0-based position")
    return value


def _span(text: str, op: str, where: Where) -> tuple[int, int]:
    m = _SPAN.match(text)
    if not m:
        raise where(f"{op}: {text!r} is not START-END (0-based, half-open)")
    start, end = int(m.group(1)), int(m.group(2))
    if end <= start:
        raise where(f"{op}: {text!r} is empty or reversed; expected START < END")
    return start, end


def _payload(text: str, op: str, where: Where) -> Literal | FromGenome:
    m = _LOCUS.match(text)
    if m:
        start, end = int(m.group(2)), int(m.group(3))
        if end <= start:
            raise where(f"{op}: source {text!r} is empty or reversed; expected CHROM:START-END with START < END")
        return FromGenome(m.group(1), start, end, m.group(4) or "+")
    if not _SEQ.match(text):
        bad = next(c for c in text if c not in "ACGTNacgtn")
        raise where(f"{op}: {text!r} is neither a sequence (A, C, G, T, N; found {bad!r}) nor CHROM:START-END")
    return Literal(text.upper())


def parse_edit(text: str, *, source: str, seed: int, where: Where) -> Edit:
    """One edit of the notation in the module docstring (``source`` and ``seed`` seed a shuffle)."""
    op, sep, rest = text.partition(":")
    op = op.strip().lower()
    if not sep or op not in OPS:
        raise where(f"unknown edit {text!r}; expected one of {', '.join(o + ':...' for o in OPS)}")
    rest = rest.strip()
    if op in ("replace", "insert", "substitute"):
        lhs, eq, rhs = rest.partition("=")
        if not eq:
            raise where(f"{op}: {text!r} lacks '='; expected {op}:{'POS' if op != 'replace' else 'START-END'}=...")
        if op == "replace":
            start, end = _span(lhs, op, where)
            return Edit(start, end, _payload(rhs, op, where))
        pos = _int(lhs, f"{op} position", where)
        if op == "insert":
            payload = _payload(rhs, op, where)
            if isinstance(payload, Literal) and not payload.seq:
                raise where(f"insert: {text!r} inserts nothing")
            return Edit(pos, pos, payload)
        ref, gt, alt = rhs.partition(">")
        if not gt or not ref or not _SEQ.match(ref) or not _SEQ.match(alt):
            raise where(f"substitute: {text!r}; expected substitute:POS=REF>ALT with REF and ALT of A, C, G, T, N")
        return Edit(pos, pos + len(ref), Literal(alt.upper()), expect=ref.upper())
    if op in ("delete", "mask"):
        start, end = _span(rest, op, where)
        return Edit(start, end, Literal("") if op == "delete" else Masked())
    parts = rest.split(":")
    if len(parts) != 3:
        raise where(
            f"shuffle: {text!r}; expected shuffle:START-END:KIND:R (KIND mono or di, R the replicate number)"
        )
    start, end = _span(parts[0], op, where)
    kind = parts[1].strip().lower()
    if kind not in ("mono", "di"):
        raise where(f"shuffle: kind {parts[1]!r}; expected mono or di")
    rep = _int(parts[2].strip(), "shuffle replicate", where)
    return Edit(start, end, Shuffled(derive_seed(seed, f"constructs|{source}:{start}-{end}|{kind}", rep), kind))


def read_construct_table(path: Path) -> pd.DataFrame:
    """The construct table (TSV, or Parquet by its suffix), columns checked; errors name file and column."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: construct table {'is a directory' if path.is_dir() else 'not found'}")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise InputError(f"{path}: construct table cannot be read as Parquet ({exc})") from exc
    else:
        try:
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"{path}: construct table cannot be read as a tab-separated table ({exc})") from exc
    for col in ("name", "landmark"):
        if col not in frame.columns:
            raise InputError(f"{path}: construct table lacks column {col!r} (columns: {', '.join(frame.columns)})")
    if "chrom" not in frame.columns and "sequence" not in frame.columns:
        raise InputError(f"{path}: construct table has neither a 'chrom' nor a 'sequence' column")
    if frame.empty:
        raise InputError(f"{path}: construct table has a header but no rows")
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class ConstructsBuilder:
    """Construct ``i`` is row ``i`` of the table, already checked (picklable)."""

    constructs: tuple[Construct, ...]

    def __call__(self, construct_id: int) -> Construct:
        return self.constructs[construct_id]


def _row_construct(row: dict[str, Any], i: int, path: Path, seed: int, genome) -> Construct:
    name = _cell(row.get("name"))
    if name is None:
        raise Where(path, i, "name")("the name is empty")
    chrom, literal = _cell(row.get("chrom")), _cell(row.get("sequence"))
    if (chrom is None) == (literal is None):
        raise Where(path, i, "chrom")(
            "give exactly one of chrom (a reference locus) and sequence (a literal); "
            + ("both are set" if chrom else "both are empty")
        )
    if literal is not None and not _SEQ.match(literal):
        bad = next(c for c in literal if c not in "ACGTNacgtn")
        raise Where(path, i, "sequence")(f"{bad!r} is not A, C, G, T or N")
    lm_text = _cell(row.get("landmark"))
    if lm_text is None:
        raise Where(path, i, "landmark")("the landmark is empty; expected a 0-based position")
    landmark = _int(lm_text, "landmark", Where(path, i, "landmark"))
    if chrom is not None:
        genome.check_chrom(chrom, where=f"{path}: row {i}, column 'chrom'")
        length = genome.lengths[chrom]
        source = chrom
    else:
        length = len(literal)
        source = f"literal:{name}"
    if landmark >= length:
        raise Where(path, i, "landmark")(
            f"{landmark} is outside the construct's source ({'chromosome ' + chrom if chrom else 'the literal'}"
            f" is {length} bp); expected 0 <= landmark < {length}"
        )
    where = Where(path, i, "edits")
    edits_text = _cell(row.get("edits"))
    edits = []
    for part in (edits_text or "").split(";"):
        if part.strip():
            edits.append(parse_edit(part.strip(), source=source, seed=seed, where=where))
    edits.sort(key=lambda e: (e.start, e.end))
    for a, b in zip(edits, edits[1:], strict=False):
        if b.start < a.end or (a.start == a.end == b.start == b.end):
            raise where(f"edits [{a.start}, {a.end}) and [{b.start}, {b.end}) overlap; expected disjoint edits")
    for e in edits:
        if e.end > length:
            raise where(f"edit [{e.start}, {e.end}) runs past the source's end ({length} bp)")
        src = e.payload
        if isinstance(src, FromGenome):
            genome.check_chrom(src.chrom, where=f"{path}: row {i}, column 'edits'")
            if src.end > genome.lengths[src.chrom]:
                raise where(f"source {src.chrom}:{src.start}-{src.end} runs past {src.chrom}'s end")
        if e.expect is not None:
            found = (genome.fetch_str(chrom, e.start, e.end) if chrom is not None else literal[e.start : e.end]).upper()
            if found != e.expect:
                raise where(f"substitute at {e.start}: the source has {found!r} there, not REF {e.expect!r}")
    strand = _cell(row.get("strand")) or "+"
    if strand not in ("+", "-"):
        raise Where(path, i, "strand")(f"{strand!r}; expected '+' or '-' (or empty: '+')")
    try:
        construct = Construct(key=name, landmark=landmark, chrom=chrom, literal=literal and literal.upper(),
                              edits=tuple(edits), strand=strand)
        landmark_position(construct)
    except ConstructError as exc:
        raise where(f"{exc}") from exc
    return construct


def load_design(spec, genome) -> tuple[pd.DataFrame, tuple[Construct, ...]]:
    """The checked construct table (one row per construct, ``construct_id`` first) and its constructs."""
    path = Path(spec.inputs["table"])
    frame = read_construct_table(path)
    names = frame["name"].map(_cell)
    dup = names.duplicated() & names.notna()
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        first = int((names == names.iloc[i]).to_numpy().nonzero()[0][0])
        raise Where(path, i + 1, "name")(f"{names.iloc[i]!r} is already the name of row {first + 1}")
    records = frame.to_dict("records")
    constructs = tuple(_row_construct(r, i + 1, path, spec.seed, genome) for i, r in enumerate(records))
    known = set(names)
    if "reference" in frame.columns:
        for i, value in enumerate(frame["reference"]):
            ref = _cell(value)
            if ref is not None and ref not in known:
                raise Where(path, i + 1, "reference")(f"{ref!r} names no construct of the table")
            if ref is not None and ref == names.iloc[i]:
                raise Where(path, i + 1, "reference")(f"{ref!r} is the construct itself")
    group_by = spec.inputs["group_by"]
    labels = [c for c in frame.columns if c not in RESERVED]
    for g in group_by or []:
        if g not in labels:
            raise InputError(
                f"{spec.source}: inputs.group_by names {g!r}, which is not a label column of {path}"
                f" (labels: {', '.join(labels) or 'none'})"
            )
    table = pd.DataFrame({"construct_id": np.arange(len(frame), dtype=np.int64), "key": names.to_numpy()})
    table["reference"] = frame["reference"].map(_cell) if "reference" in frame.columns else None
    for c in labels:
        table[c] = _typed(frame[c])
    return table, constructs


def _typed(column: pd.Series) -> pd.Series:
    """A label column as read from TSV (text) typed: integers (nullable), numbers, else text; an
    empty cell is missing.  So that numeric labels sort and plot as numbers."""
    values = column.map(_cell)
    present = values.notna()
    numbers = pd.to_numeric(values, errors="coerce")
    if present.any() and (numbers.notna() == present).all():
        whole = numbers[present] % 1 == 0
        return numbers.astype("Int64") if whole.all() else numbers.astype("float64")
    return values.astype(object)


def expand(spec, genome, geometry: Geometry) -> Design:
    """One construct per table row; the model window is centred on each landmark."""
    table, constructs = load_design(spec, genome)
    return Design(table=table, build=ConstructsBuilder(constructs))


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Per construct the ensemble-mean readout of every track, log2 fold changes against each
    construct's reference, and summaries by label (:mod:`.stats`)."""
    from seqbench.experiments.constructs.stats import reduce_constructs

    tracks = [c for c in predictions.columns if c not in ("construct_id", "member", "landmark_bin")]
    means = construct_means(predictions, design, tracks)
    labels = [c for c in design.columns if c not in ("construct_id", "key", "reference")]
    group_by = spec.inputs["group_by"] if spec.inputs["group_by"] is not None else labels
    return reduce_constructs(means, tracks=tracks, readout=READOUT, group_by=list(group_by))
