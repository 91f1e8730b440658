"""Endogenous-expression inputs of experiment (a): GTEx, Cardoso-Moreira (Kaessmann), the Basenji2
regions, the biomart TSS table and the GENCODE GTF (experiments-spec §0.1, §1.1), with the authors'
filters, gene lengths and train/test split (§1.4 items 2-4).

Every reader refuses a bad file with one :class:`~seqbench.inputs.tables.InputError` line naming the
file, the row (data rows 1-based: row 1 is the first line after the header; in a file without a
header, row 1 is its first line), the column, what was found and what was expected.

Coordinates are 0-based, half-open.  The 1-based sources are converted once, where they are read: the
biomart TSS, in :func:`read_biomart_tss`, to the column ``tss0`` (``tss0 = tss - 1``), and the GTF's
1-based closed ``[start, end]``, in :func:`read_gtf`, to ``[start - 1, end)``.
"""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from seqbench.inputs.tables import InputError, parser_error

#: the seven organs of Cardoso-Moreira et al. (``Human.RPKM.txt``)
KAESSMANN_ORGANS = ("Brain", "Cerebellum", "Heart", "Kidney", "Liver", "Ovary", "Testis")
#: the sets of ``human_regions.bed``
REGION_SETS = ("train", "valid", "test")
REGION_COLUMNS = ("Chromosome", "Start", "End", "set")
#: the biomart export's columns, in order, as ``prepare_tss_sim.py`` renames them (positionally)
BIOMART_COLUMNS = (
    "ts_id",
    "ts_ver",
    "ts_type",
    "chr",
    "strand",
    "ts_start",
    "ts_end",
    "tss",
    "ensembl_canonical",
    "mane",
    "tsl",
    "gene_id",
    "gene_name",
)
#: biomart chromosome names kept (anything else, e.g. scaffolds, is dropped as the authors do)
BIOMART_CHROMS = (*(str(i) for i in range(1, 23)), "MT", "X", "Y")
PAR_Y = "_PAR_Y"

_VERSION = re.compile(r"\.\d+(?=(?:_PAR_Y)?$)")


def strip_version(name: str) -> str:
    """``ENSG00000223972.5`` -> ``ENSG00000223972``; a ``_PAR_Y`` suffix after the version is kept
    (``ENSG00000182378.14_PAR_Y`` -> ``ENSG00000182378_PAR_Y``), so the Y copy of a pseudo-autosomal
    gene keeps an id of its own and :func:`tidy_gtex` can still drop it."""
    return _VERSION.sub("", name)


def _found(value: Any) -> str:
    return "the cell is empty (or NA)" if pd.isna(value) or str(value).strip() == "" else repr(str(value))


def _read_text(path: Path, what: str) -> str:
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise InputError(f"{path}: {what} is a directory; expected a file")
        raise InputError(f"{path}: {what} not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {what} cannot be read ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what} is not UTF-8 text ({exc.reason}); expected UTF-8 text") from exc
    if not text.strip():
        raise InputError(f"{path}: {what} is empty")
    return text


def _parse(path: Path, text: str, what: str, sep: str, sep_name: str) -> pd.DataFrame:
    """``text`` (a header line, then data rows) as a frame of strings; ragged rows name their data row."""
    lines = text.splitlines()
    want = lines[0].count(sep) + 1
    for n, line in enumerate(lines[1:], start=1):
        if line.strip() and line.count(sep) + 1 != want:
            raise InputError(
                f"{path}: row {n} has {line.count(sep) + 1} {sep_name}-separated fields; expected {want},"
                f" as many as the {what}'s header"
            )
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[], index_col=False)
    except pd.errors.ParserError as exc:
        raise parser_error(path, exc, what, sep) from exc


def _unique_header(path: Path, header: list[str], what: str) -> None:
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen:
            raise InputError(
                f"{path}: {what}'s header names column {name!r} twice (columns {seen[name] + 1} and {j + 1});"
                " expected unique column names"
            )
        seen[name] = j


def _numbers(path: Path, frame: pd.DataFrame, columns: list[str], ids: pd.Series, unit: str) -> np.ndarray:
    """The ``columns`` of ``frame`` as a float matrix; the first non-numeric, infinite or negative cell
    (in reading order) is refused naming its row, its gene and its column."""
    values = np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64) for c in columns])
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        raise InputError(
            f"{path}: row {i + 1} (gene {ids.iloc[i]!r}), column {columns[j]!r}: {_found(frame[columns[j]].iloc[i])};"
            f" expected {unit} (a number >= 0)"
        )
    return values


def _unique_genes(path: Path, ids: pd.Series, column: str, raw: pd.Series) -> None:
    dup = ids.duplicated()
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        first = int((ids == ids.iloc[i]).to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, column {column!r}: {raw.iloc[i]!r} is gene {ids.iloc[i]!r}, already the gene of"
            f" row {first + 1} ({raw.iloc[first]!r}) once the version is stripped; expected one row per gene"
        )


# ----------------------------------------------------------------------------------------------- GTEx


def read_gct(path: Path) -> pd.DataFrame:
    """A GTEx median-TPM ``.gct`` as a wide frame ``gene_id, gene_name, <one float column per tissue>``.

    The file may start with its GCT 1.2 preamble (``#1.2``, then ``ROWS<TAB>COLUMNS``) or without it
    (a plain TSV, as the authors read it); both give the same frame, and a preamble whose counts
    disagree with the table is refused.  ``Name`` becomes ``gene_id`` with its version stripped
    (:func:`strip_version`; a ``_PAR_Y`` suffix is kept), ``Description`` becomes ``gene_name``.
    TPMs must be numbers >= 0.  Row numbers in errors count data rows (row 1: the line after the
    header), with or without the preamble.
    """
    what = "GTEx median-TPM table"
    text = _read_text(path, what)
    lines = text.splitlines()
    counts: tuple[int, int] | None = None
    if lines[0].startswith("#"):
        if lines[0].strip() != "#1.2":
            raise InputError(
                f"{path}: line 1 is {lines[0][:40]!r}; expected '#1.2' (the GCT 1.2 preamble) or the header"
                " line 'Name<TAB>Description<TAB><tissues...>'"
            )
        fields = lines[1].split() if len(lines) > 1 else []
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            found = repr(lines[1][:40]) if len(lines) > 1 else "missing"
            raise InputError(
                f"{path}: line 2 (GCT preamble) is {found}; expected the counts line 'ROWS<TAB>COLUMNS'"
                " (genes, tissues)"
            )
        counts = (int(fields[0]), int(fields[1]))
        lines = lines[2:]
        if not lines:
            raise InputError(f"{path}: {what} has a GCT preamble but no header line")
    header = lines[0].split("\t")
    _unique_header(path, header, what)
    missing = [c for c in ("Name", "Description") if c not in header]
    if missing:
        hint = " (it looks space-separated)" if len(header) == 1 and " " in header[0] else ""
        raise InputError(
            f"{path}: {what} lacks column {missing[0]!r}{hint}; expected a tab-separated GCT with columns"
            " Name, Description, then one per tissue"
        )
    frame = _parse(path, "\n".join(lines) + "\n", what, "\t", "tab")
    tissues = [c for c in frame.columns if c not in ("Name", "Description")]
    if not tissues:
        raise InputError(f"{path}: {what} has no tissue column; expected Name, Description, then one per tissue")
    if frame.empty:
        raise InputError(f"{path}: {what} has a header but no rows")
    if counts is not None:
        wrong = []
        if counts[0] != len(frame):
            wrong.append(f"{counts[0]} rows (genes) but the table has {len(frame)} data rows")
        if counts[1] != len(tissues):
            wrong.append(f"{counts[1]} columns (tissues) but the header has {len(tissues)} tissue columns")
        if wrong:
            raise InputError(
                f"{path}: the GCT preamble (line 2) says {'; and '.join(wrong)}; expected counts that match the table"
            )
    raw = frame["Name"].astype(str)
    bad = raw.str.strip() == ""
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{path}: row {i + 1}, column 'Name': the cell is empty; expected a gene id")
    gene_id = raw.map(strip_version)
    _unique_genes(path, gene_id, "Name", raw)
    values = _numbers(path, frame, tissues, raw, "a TPM")
    out = pd.DataFrame({"gene_id": gene_id.to_numpy(), "gene_name": frame["Description"].astype(str).to_numpy()})
    return pd.concat([out, pd.DataFrame(values, columns=tissues)], axis=1)


def drop_unexpressed(tidy: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop the genes whose ``observed`` is 0 in every row (max over all tissues or samples = 0), as the
    authors do; returns the remaining rows (same order) and the number of genes dropped."""
    peak = tidy.groupby("gene_id", sort=False)["observed"].max()
    silent = peak.index[peak.to_numpy() == 0]
    keep = ~tidy["gene_id"].isin(silent)
    return tidy.loc[keep].reset_index(drop=True), len(silent)


def tidy_gtex(wide: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The :func:`read_gct` frame in tidy form ``gene_id, tissue, observed`` (TPM), with the authors'
    filters (§1.4 item 2): the ``*_PAR_Y`` copies are dropped, then every gene whose TPM is 0 in all
    tissues -- skipped and counted, as the authors do.  Returns the tidy frame (tissue by tissue, genes
    in file order within each) and the counts ``{"par_y": ..., "all_zero": ...}`` of genes dropped.

    Dropping the genes on chrY and chrM (from the GTF) is left to the caller, which has the GTF.
    """
    par_y = wide["gene_id"].astype(str).str.endswith(PAR_Y)
    kept = wide.loc[~par_y]
    tissues = [c for c in wide.columns if c not in ("gene_id", "gene_name")]
    tidy = kept.melt(id_vars=["gene_id"], value_vars=tissues, var_name="tissue", value_name="observed")
    tidy["observed"] = tidy["observed"].astype(np.float64)
    tidy, zero = drop_unexpressed(tidy)
    return tidy, {"par_y": int(par_y.sum()), "all_zero": zero}


# ------------------------------------------------------------------------------------------ Kaessmann


def read_kaessmann_rpkm(path: Path) -> pd.DataFrame:
    """Cardoso-Moreira ``Human.RPKM.txt`` (space-separated) in tidy form
    ``gene_id, sample, organ, stage, observed`` (RPKM), samples in file order, genes in file order.

    The gene id is the first column: either unnamed (the header is one field shorter than the rows,
    as R's ``write.table`` writes it) or with a name of its own.  Each sample is ``Organ.stage[.rep...]``:
    ``organ`` is the text before the first ``.``, ``stage`` the second field; the organ must be one of
    :data:`KAESSMANN_ORGANS`.  Gene versions, if any, are stripped.  RPKMs must be numbers >= 0.
    No gene is dropped here: see :func:`drop_unexpressed`.
    """
    what = "Kaessmann RPKM table"
    text = _read_text(path, what)
    lines = [line for line in text.splitlines() if line.strip()]
    width = len(lines[1].split()) if len(lines) > 1 else 0
    if width not in (len(lines[0].split()), len(lines[0].split()) + 1):
        raise InputError(
            f"{path}: row 1 has {width} space-separated fields; expected {len(lines[0].split()) + 1}"
            " (the gene id, then one per sample of the header)"
        )
    for n, line in enumerate(lines[2:], start=2):
        if len(line.split()) != width:
            raise InputError(
                f"{path}: row {n} has {len(line.split())} space-separated fields; expected {width}, as many as row 1"
            )
    try:
        frame = pd.read_csv(io.StringIO(text), sep=r"\s+", dtype=str, keep_default_na=False, na_values=[])
    except pd.errors.ParserError as exc:
        ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if ragged:
            want, line, saw = (int(x) for x in ragged.groups())
            raise InputError(
                f"{path}: row {line - 1} has {saw} space-separated fields; expected {want}, as many as the first row"
            ) from exc
        raise InputError(f"{path}: {what} cannot be parsed as a space-separated table ({exc})") from exc
    if isinstance(frame.index, pd.RangeIndex):  # the header names the gene-id column too
        if frame.shape[1] < 2:
            raise InputError(f"{path}: {what} has one column; expected the gene id, then one column per sample")
        ids = frame.iloc[:, 0].astype(str)
        frame = frame.iloc[:, 1:]
    else:
        ids = pd.Series(frame.index.astype(str), name="gene_id")
        frame = frame.reset_index(drop=True)
    if frame.empty:
        raise InputError(f"{path}: {what} has a header but no rows")
    samples = [str(c) for c in frame.columns]
    _unique_header(path, samples, what)
    organs, stages = [], []
    for s in samples:
        parts = s.split(".")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise InputError(f"{path}: column {s!r}: expected a sample name Organ.stage[.rep] (e.g. 'Brain.4wpc')")
        if parts[0] not in KAESSMANN_ORGANS:
            near = [o for o in KAESSMANN_ORGANS if o.lower() == parts[0].lower()]
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise InputError(
                f"{path}: column {s!r}: unknown organ {parts[0]!r}{hint}; expected one of {', '.join(KAESSMANN_ORGANS)}"
            )
        organs.append(parts[0])
        stages.append(parts[1])
    gene_id = ids.map(strip_version).reset_index(drop=True)
    _unique_genes(path, gene_id, "gene id", ids.reset_index(drop=True))
    frame.columns = samples
    values = _numbers(path, frame, samples, ids.reset_index(drop=True), "an RPKM")
    n, m = values.shape
    return pd.DataFrame(
        {
            "gene_id": np.tile(gene_id.to_numpy(), m),
            "sample": np.repeat(samples, n),
            "organ": np.repeat(organs, n),
            "stage": np.repeat(stages, n),
            "observed": values.T.reshape(-1),
        }
    )


# -------------------------------------------------------------------------------------------- regions


def read_regions_bed(path: Path) -> pd.DataFrame:
    """``human_regions.bed`` (the Basenji2/Enformer regions): no header, four tab-separated columns
    ``Chromosome, Start, End, set`` with ``set`` in train, valid, test; 0-based half-open as in BED.
    Row N is line N (the file has no header); blank lines are skipped."""
    what = "regions BED"
    text = _read_text(path, what)
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            hint = " (it looks space-separated)" if len(fields) == 1 and len(line.split()) == 4 else ""
            raise InputError(
                f"{path}: row {n} has {len(fields)} column(s){hint}; expected 4 tab-separated columns:"
                " chrom, start, end, set"
            )
        chrom, start, end, kind = (f.strip() for f in fields)
        for col, value in (("Start", start), ("End", end)):
            if not re.fullmatch(r"\d+", value):
                raise InputError(f"{path}: row {n}, column {col!r}: {_found(value)}; expected an integer >= 0")
        if int(end) <= int(start):
            raise InputError(f"{path}: row {n}, column 'End': {end} is not after Start = {start}; expected Start < End")
        if kind not in REGION_SETS:
            raise InputError(f"{path}: row {n}, column 'set': {_found(kind)}; expected one of {', '.join(REGION_SETS)}")
        if not chrom:
            raise InputError(f"{path}: row {n}, column 'Chromosome': the cell is empty; expected a chromosome name")
        rows.append((chrom, int(start), int(end), kind))
    frame = pd.DataFrame(rows, columns=list(REGION_COLUMNS))
    return frame.astype({"Start": np.int64, "End": np.int64})


# -------------------------------------------------------------------------------------------- biomart


def read_biomart_tss(path: Path) -> pd.DataFrame:
    """The biomart TSS export (``bigly_tss_from_biomart.txt``, tab-separated, one header line, 13 columns
    renamed positionally to :data:`BIOMART_COLUMNS` as ``prepare_tss_sim.py`` does), filtered as the
    authors do: protein-coding, Ensembl-canonical (``"1"``) transcripts on chromosomes 1-22, MT, X, Y.

    Returns ``ts_id, ts_ver, gene_id, gene_name, chrom, strand, tss0, mane, tsl``: ``chrom`` is
    ``chr*`` (MT -> chrM), ``strand`` is ``+`` for ``1`` and ``-`` for ``-1`` (anything else is refused),
    and ``tss0`` is the TSS **converted to 0-based** (biomart's 1-based ``tss`` minus 1): the TSS base is
    ``[tss0, tss0 + 1)``.  Rows named in errors are the file's data rows (before filtering).
    """
    what = "biomart TSS table"
    text = _read_text(path, what)
    frame = _parse(path, text, what, "\t", "tab")
    if frame.shape[1] != len(BIOMART_COLUMNS):
        raise InputError(
            f"{path}: {what} has {frame.shape[1]} tab-separated column(s); expected {len(BIOMART_COLUMNS)}:"
            f" {', '.join(BIOMART_COLUMNS)}"
        )
    frame.columns = list(BIOMART_COLUMNS)
    if frame.empty:
        raise InputError(f"{path}: {what} has a header but no rows")
    frame = frame.apply(lambda c: c.fillna("").astype(str).str.strip())
    keep = (
        (frame["ts_type"] == "protein_coding")
        & frame["ensembl_canonical"].isin(["1", "1.0"])
        & frame["chr"].isin(BIOMART_CHROMS)
    )
    rows = frame.loc[keep]
    header = text.splitlines()[0].split("\t")
    for col, unit in (("tss", "an integer >= 1 (the 1-based TSS)"), ("strand", "1 or -1")):
        name = header[BIOMART_COLUMNS.index(col)]
        # a 1-based TSS is an integer >= 1
        ok = rows[col].str.fullmatch(r"0*[1-9]\d*") if col == "tss" else rows[col].isin(["1", "-1"])
        if not ok.all():
            i = int(rows.index[~ok.to_numpy()][0])
            raise InputError(
                f"{path}: row {i + 1}, column {BIOMART_COLUMNS.index(col) + 1} ({name!r}, read as {col!r}):"
                f" {_found(frame[col].iloc[i])}; expected {unit}"
            )
    chrom = "chr" + rows["chr"]
    out = pd.DataFrame(
        {
            "ts_id": rows["ts_id"],
            "ts_ver": rows["ts_ver"],
            "gene_id": rows["gene_id"],
            "gene_name": rows["gene_name"],
            "chrom": chrom.where(chrom != "chrMT", "chrM"),
            "strand": np.where(rows["strand"] == "1", "+", "-"),
            "tss0": rows["tss"].astype(np.int64) - 1,
            "mane": rows["mane"],
            "tsl": rows["tsl"],
        }
    )
    return out.reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ GTF

#: the nine GTF columns, in order
GTF_COLUMNS = ("seqname", "source", "feature", "start", "end", "score", "strand", "frame", "attribute")
#: the columns of :func:`read_gtf`'s two frames
GTF_GENE_COLUMNS = ("gene_id", "gene_name", "chrom", "start", "end", "strand", "gene_type")
GTF_EXON_COLUMNS = ("gene_id", "transcript_id", "start", "end")
_GTF_READ = ("seqname", "feature", "start", "end", "strand", "attribute")
_GTF_EXPECTED = (
    "9 tab-separated columns: seqname, source, feature, start, end, score, strand, frame, attribute"
)


class GtfTables(NamedTuple):
    """The ``genes`` and ``exons`` of a GTF (:func:`read_gtf`)."""

    genes: pd.DataFrame
    exons: pd.DataFrame


def _gtf_attribute(names: str) -> str:
    """RE2 pattern of an attribute's value (quoted or not), the attribute first or after a ``;``."""
    return rf'(?:^|;)\s*(?:{names})\s+"?(?P<v>[^";]*)"?'


_GTF_ATTRIBUTES = {
    "gene_id": _gtf_attribute("gene_id"),
    "transcript_id": _gtf_attribute("transcript_id"),
    "gene_name": _gtf_attribute("gene_name"),
    "gene_type": _gtf_attribute("gene_type|gene_biotype"),
}


def _gzipped(path: Path) -> bool:
    """Whether ``path`` starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_maybe_gzip(path: Path):
    if _gzipped(path):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _gtf_field_error(path: Path) -> InputError:
    """The first line (not a comment, not blank) without 9 tab-separated fields, as one error line."""
    with _open_maybe_gzip(path) as fh:
        for n, line in enumerate(fh, start=1):
            text = line.rstrip("\r\n")
            if text.startswith("#") or not text.strip():
                continue
            fields = text.split("\t")
            if len(fields) != len(GTF_COLUMNS):
                hint = " (it looks space-separated)" if len(fields) < 9 and len(text.split()) >= 9 else ""
                return InputError(
                    f"{path}: line {n} has {len(fields)} tab-separated field(s){hint}: {text[:60]!r}; expected"
                    f" {_GTF_EXPECTED}"
                )
    return InputError(f"{path}: GTF has a line without 9 tab-separated fields; expected {_GTF_EXPECTED}")


def _gtf_lines(path: Path, rows: list[int]) -> dict[int, int]:
    """File line numbers (1-based, comments counted) of data rows ``rows`` (0-based, in file order)."""
    want = set(rows)
    out: dict[int, int] = {}
    row = -1
    with _open_maybe_gzip(path) as fh:
        for n, line in enumerate(fh, start=1):
            if line.rstrip("\r\n").count("\t") != len(GTF_COLUMNS) - 1:
                continue  # a comment or a blank line (any other line was refused while reading)
            row += 1
            if row in want:
                out[row] = n
                if len(out) == len(want):
                    break
    return out


def read_gtf(path: Path, *, block_size: int = 1 << 24) -> GtfTables:
    """A GTF (GENCODE, e.g. ``Data/Genome/genes.gtf``) as its genes and exons.

    Returns :class:`GtfTables` ``(genes, exons)``:

    * ``genes``: ``gene_id, gene_name, chrom, start, end, strand, gene_type``, one row per ``gene``
      line, in file order; ``gene_id`` with its version stripped (:func:`strip_version`, a ``_PAR_Y``
      suffix kept), ``chrom`` the GTF's seqname as written (GENCODE: ``chr1`` .. ``chrM``);
    * ``exons``: ``gene_id, transcript_id, start, end``, one row per ``exon`` line, in file order;
      ``gene_id`` stripped as above, ``transcript_id`` as written (with its version) -- the input of
      :func:`gene_lengths`.

    Coordinates are converted from the GTF's 1-based closed ``[start, end]`` to 0-based half-open:
    ``start - 1``, ``end`` unchanged.  ``gene_name`` and ``gene_type`` (``gene_type``, or Ensembl's
    ``gene_biotype``) are ``""`` when a gene line has none.  Attribute values may be quoted or not.

    A gzip-compressed file is recognised by its first bytes, whatever its name.

    Speed: only the columns seqname, feature, start, end, strand and attribute are read, by pyarrow's
    multithreaded CSV reader in blocks of ``block_size`` bytes; each block keeps only its ``gene`` and
    ``exon`` lines (transcripts, CDS, UTRs, codons ... are dropped at once) and their attributes are
    parsed there with vectorised regular expressions, so memory stays near the size of the result.
    A 1.5 GB GENCODE GTF is read in well under a minute.

    Lines starting with ``#`` and blank lines are comments.  A bad file is refused with one
    :class:`~seqbench.inputs.tables.InputError` line naming the file, the line (1-based, counting
    comments), what was found and what was expected: a line without 9 tab-separated fields, a gene or
    exon line whose start or end is not an integer >= 1 or whose end precedes its start, a gene line
    whose strand is not ``+`` or ``-``, a gene or exon line without ``gene_id``, an exon line without
    ``transcript_id``, a gene id on two gene lines, or a file with no gene line.
    """
    what = "GTF"
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise InputError(f"{path}: {what} is a directory; expected a file")
        raise InputError(f"{path}: {what} not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: {what} is empty")

    sample = 1 << 16
    try:
        compression = "gzip" if _gzipped(path) else None
        with pa.input_stream(str(path), compression=compression) as stream:
            head = stream.read(sample)
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (exc.reason == "unexpected end of data" and len(head) == sample):  # not a character cut short
            raise InputError(f"{path}: {what} is not UTF-8 text ({exc.reason}); expected UTF-8 text") from exc
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path}: {what} cannot be read ({getattr(exc, 'strerror', None) or exc})") from exc

    bad: list[str] = []

    def on_invalid(row: Any) -> str:
        if row.text.startswith("#") or not row.text.strip():
            return "skip"
        bad.append(row.text)
        return "error"

    read_options = pacsv.ReadOptions(column_names=list(GTF_COLUMNS), block_size=block_size)
    parse_options = pacsv.ParseOptions(
        delimiter="\t", quote_char=False, double_quote=False, escape_char=False, invalid_row_handler=on_invalid
    )
    convert_options = pacsv.ConvertOptions(
        include_columns=list(_GTF_READ), column_types={c: pa.string() for c in _GTF_READ}
    )
    parts: dict[str, list[pa.Table]] = {"gene": [], "exon": []}
    seen = 0
    try:
        with pa.input_stream(str(path), compression=compression) as stream:
            reader = pacsv.open_csv(
                stream, read_options=read_options, parse_options=parse_options, convert_options=convert_options
            )
            for batch in reader:
                comment = pc.starts_with(batch.column("seqname"), "#")
                for kind in parts:
                    keep = pc.and_(pc.equal(batch.column("feature"), kind), pc.invert(comment))
                    rows = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
                    if not rows.size:
                        continue
                    sub = pa.Table.from_batches([batch]).take(pa.array(rows))
                    attr = sub.column("attribute")
                    names = ("gene_id", "gene_name", "gene_type") if kind == "gene" else ("gene_id", "transcript_id")
                    cols = {
                        "row": pa.array(rows + seen, pa.int64()),
                        "chrom": sub.column("seqname"),
                        "start": sub.column("start"),
                        "end": sub.column("end"),
                        "strand": sub.column("strand"),
                    }
                    for name in names:
                        cols[name] = pc.struct_field(pc.extract_regex(attr, _GTF_ATTRIBUTES[name]), [0])
                    parts[kind].append(pa.table(cols))
                seen += batch.num_rows
    except pa.ArrowInvalid as exc:
        if bad:
            raise _gtf_field_error(path) from exc
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise InputError(f"{path}: {what} is not UTF-8 text; expected UTF-8 text") from exc
        reason = str(exc).splitlines()[0]
        raise InputError(f"{path}: {what} cannot be parsed ({reason}); expected {_GTF_EXPECTED}") from exc
    except OSError as exc:
        raise InputError(f"{path}: {what} cannot be read ({exc.strerror or exc})") from exc

    tables = {kind: pa.concat_tables(p).to_pandas() if p else None for kind, p in parts.items()}
    genes_raw, exons_raw = tables["gene"], tables["exon"]
    if genes_raw is None:
        raise InputError(
            f"{path}: {what} has no 'gene' line (column 3, feature); expected GENCODE's gene, transcript and exon"
            f" lines in {_GTF_EXPECTED}"
        )
    if exons_raw is None:
        empty = ("row", "chrom", "start", "end", "strand", "gene_id", "transcript_id")
        exons_raw = pd.DataFrame({c: pd.Series(dtype=object) for c in empty})

    def fail(frame: pd.DataFrame, i: int, message: str) -> InputError:
        row = int(frame["row"].iloc[i])
        line = _gtf_lines(path, [row]).get(row, row + 1)
        return InputError(f"{path}: line {line}: {message}")

    def first(mask: np.ndarray) -> int | None:
        hit = np.flatnonzero(mask)
        return int(hit[0]) if hit.size else None

    coords: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for kind, frame in (("gene", genes_raw), ("exon", exons_raw)):
        for col, pos in (("start", 4), ("end", 5)):
            ok = frame[col].str.fullmatch(r"0*[1-9]\d{0,17}").fillna(False).to_numpy(bool)
            i = first(~ok)
            if i is not None:
                raise fail(
                    frame, i, f"{kind} {col} (column {pos}) is {_found(frame[col].iloc[i])}; expected an integer >= 1"
                    " (GTF coordinates are 1-based)"
                )
        start = frame["start"].astype(np.int64).to_numpy()
        end = frame["end"].astype(np.int64).to_numpy()
        i = first(end < start)
        if i is not None:
            raise fail(
                frame, i, f"{kind} end (column 5) {end[i]} is before its start {start[i]}; expected start <= end"
                " (1-based, closed)"
            )
        coords[kind] = (start - 1, end)
        for name in ("gene_id", "transcript_id") if kind == "exon" else ("gene_id",):
            missing = (frame[name].isna() | (frame[name].fillna("") == "")).to_numpy(bool)
            i = first(missing)
            if i is not None:
                raise fail(
                    frame, i, f"{kind} line without {name} in its attributes (column 9); expected e.g."
                    f' {name} "ENS...";'
                )
    i = first(~genes_raw["strand"].isin(["+", "-"]).to_numpy(bool))
    if i is not None:
        raise fail(genes_raw, i, f"gene strand (column 7) is {_found(genes_raw['strand'].iloc[i])}; expected + or -")

    gene_id = genes_raw["gene_id"].map(strip_version)
    dup = gene_id.duplicated().to_numpy(bool)
    i = first(dup)
    if i is not None:
        j = int(np.flatnonzero((gene_id == gene_id.iloc[i]).to_numpy(bool))[0])
        lines = _gtf_lines(path, [int(genes_raw["row"].iloc[j]), int(genes_raw["row"].iloc[i])])
        raise InputError(
            f"{path}: line {lines.get(int(genes_raw['row'].iloc[i]))}: gene {gene_id.iloc[i]!r}"
            f" ({genes_raw['gene_id'].iloc[i]!r}) is already the gene of line"
            f" {lines.get(int(genes_raw['row'].iloc[j]))} once the version is stripped; expected one gene line per gene"
        )
    genes = pd.DataFrame(
        {
            "gene_id": gene_id.to_numpy(object),
            "gene_name": genes_raw["gene_name"].fillna("").to_numpy(object),
            "chrom": genes_raw["chrom"].to_numpy(object),
            "start": coords["gene"][0],
            "end": coords["gene"][1],
            "strand": genes_raw["strand"].to_numpy(object),
            "gene_type": genes_raw["gene_type"].fillna("").to_numpy(object),
        }
    )
    exons = pd.DataFrame(
        {
            "gene_id": exons_raw["gene_id"].map(strip_version).to_numpy(object),
            "transcript_id": exons_raw["transcript_id"].to_numpy(object),
            "start": coords["exon"][0].astype(np.int64),
            "end": coords["exon"][1].astype(np.int64),
        }
    )
    return GtfTables(genes, exons)


# ---------------------------------------------------------------------------------- split and lengths


def split_train_test(genes: pd.DataFrame, regions: pd.DataFrame) -> pd.Series:
    """The authors' train/test split (§1.4 item 4, ``EE.py:L6379-L6390``), strict inequalities.

    ``genes``: ``gene_id, chrom, start, end`` (0-based half-open); ``regions``: ``Chromosome, Start, End,
    set`` (:func:`read_regions_bed`), of which only the ``test`` rows count, on the gene's chromosome.

    * test genes: inside a test region, ``region.Start < gene.start`` and ``region.End > gene.end``;
    * intersecting genes: ``gene.start`` or ``gene.end`` strictly inside a test region
      (``region.Start < x < region.End``);
    * the result, indexed like ``genes``: ``"test"`` for a test gene, ``"train"`` for a gene that does not
      intersect, ``None`` otherwise (dropped by the authors).

    As in the authors' code, a gene that spans a whole test region with neither end inside it is "train".
    Equal coordinates are *not* inside.
    """
    test = regions.loc[regions["set"] == "test"]
    out = np.full(len(genes), "train", dtype=object)
    starts_all = genes["start"].to_numpy(np.int64)
    ends_all = genes["end"].to_numpy(np.int64)
    chroms = genes["chrom"].astype(str).to_numpy()
    for chrom, reg in test.groupby(test["Chromosome"].astype(str), sort=False):
        idx = np.flatnonzero(chroms == chrom)
        if not len(idx):
            continue
        order = np.argsort(reg["Start"].to_numpy(np.int64), kind="stable")
        r_start = reg["Start"].to_numpy(np.int64)[order]
        # the largest End among the regions that start at or before each sorted region
        r_end_max = np.maximum.accumulate(reg["End"].to_numpy(np.int64)[order])

        def max_end_before(x: np.ndarray, r_start=r_start, r_end_max=r_end_max) -> np.ndarray:
            """Largest region End among the regions with Start < x (-1 if none)."""
            k = np.searchsorted(r_start, x, side="left")
            return np.where(k > 0, r_end_max[np.maximum(k - 1, 0)], -1)

        g_start, g_end = starts_all[idx], ends_all[idx]
        start_inside = max_end_before(g_start) > g_start
        end_inside = max_end_before(g_end) > g_end
        contained = max_end_before(g_start) > g_end
        out[idx[start_inside | end_inside]] = None
        out[idx[contained]] = "test"
    return pd.Series(out, index=genes.index, name="split", dtype=object)


def gene_lengths(gtf_exons: pd.DataFrame) -> pd.Series:
    """Gene length ``len`` (§1.4 item 3): for each transcript, the summed lengths of its exons
    (``end - start``, 0-based half-open, overlaps not merged); per gene, the median over its
    transcripts.  ``gtf_exons``: ``gene_id, transcript_id, start, end``.  Returns a float Series
    indexed by ``gene_id`` (sorted), named ``len``."""
    width = gtf_exons["end"].to_numpy(np.int64) - gtf_exons["start"].to_numpy(np.int64)
    if (width <= 0).any():
        i = int(np.flatnonzero(width <= 0)[0])
        raise ValueError(
            f"exon row {i + 1}: end {gtf_exons['end'].iloc[i]} is not after start {gtf_exons['start'].iloc[i]};"
            " expected 0-based half-open exons with start < end"
        )
    per_tx = (
        pd.DataFrame(
            {"gene_id": gtf_exons["gene_id"].to_numpy(), "tx": gtf_exons["transcript_id"].to_numpy(), "w": width}
        )
        .groupby(["gene_id", "tx"])["w"]
        .sum()
    )
    return per_tx.groupby(level="gene_id").median().astype(np.float64).rename("len")
