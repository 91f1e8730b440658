"""Class imbalance: how far from the TSS bona fide and candidate regulatory elements lie (paper Fig. 3B,
"Most known strong regulators are located close to their target genes"; experiments-spec §2).

This experiment runs **no model**: its design has no constructs (``expand`` returns an empty table
and a builder that is never called), so a job plans zero forward passes, never starts Ray and only
reduces its inputs (:mod:`seqbench.experiments.class_imbalance.stats`).  ``expand`` reads and checks
every input anyway, so that ``seqbench-ray plan`` refuses a bad file before a job directory exists.

Inputs (paths relative to ``data_root``, the paper's layout by default); every reader refuses a bad
file with one :class:`~seqbench.inputs.tables.InputError` line naming the file, the row (data rows
1-based; in a file without a header row N is line N), the column, what was found and what was
expected.  Coordinates are 0-based, half-open; the only 1-based column is the eQTL ``position``.

* ``ccre_bed``: ENCODE cCREs, BED without header, at least 6 tab-separated columns; the class string
  (``dELS``, ``pELS,CTCF-bound``, ``PLS``, ...) is the 6th (the authors read it with ``pr.read_bed``,
  which puts it in the ``Strand`` slot);
* ``susie_table``: ``susie_df_small_blocks.tsv`` (§7.1), one row per credible-set variant after the
  authors' filters; read: ``gene_id, cs_id, tissue, chromosome`` (``1`` or ``chr1``), ``position``
  (1-based), ``tss`` (the canonical TSS, already 0-based in this file), ``Strand`` (1 / -1); if the
  file has ``abs_tss_distance_mean`` it must agree with the mean of ``|position - 1 - tss|`` over the
  set (catches a 1-based ``tss``).  The gene windows come from this table's ``tss`` and ``Strand``:
  the canonical-TSS table is not needed;
* ``crispri_table``: ``ziga_additional_columns.tsv``; read: ``ziga_key, chromosome, gene`` (or
  ``Gene``), ``main_tss_start, main_tss_end, fix_enhancer_wide_start, fix_enhancer_wide_end,
  actual_tss_distance, validated``;
* ``regions_bed``: the Basenji2 regions ``human_regions.bed``
  (:func:`seqbench.inputs.expression.read_regions_bed`); only ``set == train`` is used;
* ``gene_table`` (optional): a TSV with a ``gene_name`` column.  The authors keep only CRISPRi pairs
  whose gene is in the GENCODE v39 GTF (an inner merge on the name); given a table, pairs whose
  ``gene`` is not among its names are dropped and counted; empty (default): every pair is kept;
* ``gene_renames`` (optional, needs ``gene_table``): a TSV ``gene_name, crispri_gene`` renaming the
  gene table's names before the match (the authors hard-code 62 such new-HGNC -> old-symbol renames,
  ``missing_genes``, ``EE.py:L8873``; supply them as this table).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import Design, MapFn, sequential_map
from seqbench.inputs.expression import read_regions_bed
from seqbench.inputs.tables import InputError, read_table, require_int_column
from seqbench.keys import Key
from seqbench.models.base import Geometry
from seqbench.sequence.constructs import Construct

NAME = "class-imbalance"
TITLE = "Class imbalance: distance to the TSS of eQTLs, CRISPRi enhancers and enhancer-like cCREs (no model)"

INPUTS: dict[str, Key] = {
    "ccre_bed": Key(
        str,
        "Data/gtex_aFC/GRCh38-cCREs.bed",
        "ENCODE cCREs, BED with the cCRE class in column 6, relative to data_root",
    ),
    "susie_table": Key(
        str,
        "Data/gtex_aFC/susie_df_small_blocks.tsv",
        "filtered eQTL credible sets, one row per variant with the gene's 0-based tss and Strand, relative to"
        " data_root",
    ),
    "crispri_table": Key(
        str, "Data/Fulco_CRISPRi/ziga_additional_columns.tsv", "extended Avsec CRISPRi table, relative to data_root"
    ),
    "regions_bed": Key(
        str,
        "Data/GTEX/human_regions.bed",
        "Basenji2 regions (Chromosome, Start, End, set; no header): the train set of the training-overlap"
        " analysis, relative to data_root",
    ),
    "gene_table": Key(
        str,
        "",
        "optional TSV with a gene_name column: CRISPRi pairs whose gene is not in it are dropped (the authors"
        " match the GENCODE gene names); empty: keep every pair",
    ),
    "gene_renames": Key(
        str,
        "",
        "optional TSV gene_name, crispri_gene: renames applied to gene_table's names before the match (the"
        " authors' 62-entry missing_genes map); empty: none",
    ),
    "window": Key(
        int,
        95_000,
        "gene window TSS +- this (bp) for cCREs; CRISPRi pairs and eQTL sets closer than this (the code:"
        " 95,000; the caption says 98 kb)",
        min=1,
        max=10_000_000,
    ),
    "near_tss_distance": Key(
        int, 10_000, "summary: fraction of elements at distance <= this (bp)", min=0, max=10_000_000
    ),
    "distal_distance": Key(
        int,
        32_768,
        "summary: fraction of elements at distance > this (bp); 32,768 = the distal two-thirds of Enformer's"
        " 98,304-bp half window, where the paper counts ~20 % of eQTLs and ~25 % of validated enhancers",
        min=0,
        max=10_000_000,
    ),
    "predicted_trim": Key(
        int, 8_192, "training overlap: a train region shrunk by this per side = its predicted part (bp)", min=0,
        max=1_000_000,
    ),
    "seen_extension": Key(
        int, 32_768, "training overlap: a train region grown by this per side = its seen part (bp)", min=0,
        max=1_000_000,
    ),
}
PATH_INPUTS = {"ccre_bed", "susie_table", "crispri_table", "regions_bed", "gene_table", "gene_renames"}
DEFAULT_TRACKS: dict[str, Any] = {}
READOUT = None

CCRE_MIN_COLUMNS = 6
SUSIE_REQUIRED = ("gene_id", "cs_id", "tissue", "chromosome", "position", "tss", "Strand")
CRISPRI_REQUIRED = (
    "ziga_key",
    "chromosome",
    "main_tss_start",
    "main_tss_end",
    "fix_enhancer_wide_start",
    "fix_enhancer_wide_end",
    "actual_tss_distance",
    "validated",
)
_CRISPRI_INT = ("main_tss_start", "main_tss_end", "fix_enhancer_wide_start", "fix_enhancer_wide_end")


def _found(value: Any) -> str:
    return "the cell is empty (or NA)" if pd.isna(value) or str(value).strip() == "" else repr(str(value))


def _first(mask: np.ndarray | pd.Series) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


# ------------------------------------------------------------------------------------- readers


def read_ccre_bed(path: Path) -> pd.DataFrame:
    """ENCODE cCREs: ``chrom, start, end, cre_type`` (the 6th column).  No header; lines starting with
    ``#``, ``track`` or ``browser`` and blank lines are skipped; row N is line N of the file."""
    path = Path(path)
    what = "cCRE BED"
    if not path.is_file():
        raise InputError(f"{path}: {what} {'is a directory; expected a file' if path.is_dir() else 'not found'}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: {what} cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what} is not UTF-8 text ({exc.reason}); expected a tab-separated BED") from exc
    rows, lines = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = line.split("\t")
        if len(fields) < CCRE_MIN_COLUMNS:
            hint = " (it looks space-separated)" if len(fields) == 1 and len(line.split()) >= CCRE_MIN_COLUMNS else ""
            raise InputError(
                f"{path}: row {n} has {len(fields)} tab-separated column(s){hint}; expected at least"
                f" {CCRE_MIN_COLUMNS}: chrom, start, end, name, score, cCRE class"
            )
        rows.append(fields[:3] + [fields[5]])
        lines.append(n)
    if not rows:
        raise InputError(f"{path}: {what} is empty; expected BED lines chrom, start, end, name, score, cCRE class")
    cols = list(zip(*rows, strict=True))
    starts, ends = _bed_ints(path, cols[1], lines, "2 ('start')"), _bed_ints(path, cols[2], lines, "3 ('end')")
    bad = ends <= starts
    if bad.any():
        i = _first(bad)
        raise InputError(
            f"{path}: row {lines[i]}, column 3 ('end'): {ends[i]} is not after start = {starts[i]};"
            " expected start < end"
        )
    chrom = np.array([c.strip() for c in cols[0]], dtype=object)
    cre_type = np.array([c.strip() for c in cols[3]], dtype=object)
    for j, (values, col) in enumerate(((chrom, "1 ('chrom')"), (cre_type, "6 (the cCRE class)"))):
        empty = values == ""
        if empty.any():
            i = _first(empty)
            want = "a chromosome name" if j == 0 else "a cCRE class such as dELS, pELS or PLS"
            raise InputError(f"{path}: row {lines[i]}, column {col}: the cell is empty; expected {want}")
    return pd.DataFrame({"chrom": chrom, "start": starts, "end": ends, "cre_type": cre_type})


def _bed_ints(path: Path, values: tuple[str, ...], lines: list[int], col: str) -> np.ndarray:
    s = pd.Series(values, dtype=object).str.strip()
    ok = s.str.fullmatch(r"\d{1,18}").to_numpy(dtype=bool)
    if not ok.all():
        i = _first(~ok)
        raise InputError(f"{path}: row {lines[i]}, column {col}: {_found(values[i])}; expected an integer >= 0")
    return s.astype(np.int64).to_numpy()


def _require_nonempty(frame: pd.DataFrame, columns: tuple[str, ...], path: Path) -> None:
    for c in columns:
        empty = frame[c].isna() | (frame[c].astype(str).str.strip() == "")
        if empty.any():
            i = _first(empty)
            raise InputError(f"{path}: row {i + 1}, column {c!r}: the cell is empty (or NA); expected a value")


def _chrom_names(values: pd.Series) -> pd.Series:
    """``1`` -> ``chr1`` (the eQTL Catalogue writes no prefix; the authors add it), ``chr1`` unchanged."""
    s = values.astype(str).str.strip()
    return s.where(s.str.startswith("chr"), "chr" + s)


def read_susie(path: Path) -> pd.DataFrame:
    """The filtered credible sets: ``gene_id, cs_id, tissue, chrom, position`` (1-based), ``tss``
    (0-based) and ``strand`` (+1 / -1), one row per variant, in file order."""
    path = Path(path)
    frame = read_table(path, SUSIE_REQUIRED, what="eQTL credible-set table")
    _require_nonempty(frame, ("gene_id", "cs_id", "tissue", "chromosome"), path)
    for col in ("position", "tss"):
        require_int_column(frame, col, path)
    position = pd.to_numeric(frame["position"]).astype(np.int64)
    tss = pd.to_numeric(frame["tss"]).astype(np.int64)
    for col, values, low, want in (("position", position, 1, "a 1-based position >= 1"),
                                   ("tss", tss, 0, "a 0-based TSS >= 0")):
        bad = values < low
        if bad.any():
            i = _first(bad)
            raise InputError(f"{path}: row {i + 1}, column {col!r}: {int(values.iloc[i])}; expected {want}")
    raw_strand = frame["Strand"].astype(str).str.strip()
    strand_map = {"1": 1, "1.0": 1, "+": 1, "+1": 1, "-1": -1, "-1.0": -1, "-": -1}
    strand = raw_strand.map(strand_map)
    if strand.isna().any():
        i = _first(strand.isna())
        raise InputError(
            f"{path}: row {i + 1}, column 'Strand': {_found(frame['Strand'].iloc[i])}; expected 1 or -1 (or + / -)"
        )
    out = pd.DataFrame(
        {
            "gene_id": frame["gene_id"].astype(str).str.strip(),
            "cs_id": frame["cs_id"].astype(str).str.strip(),
            "tissue": frame["tissue"].astype(str).str.strip(),
            "chrom": _chrom_names(frame["chromosome"]),
            "position": position,
            "tss": tss,
            "strand": strand.astype(np.int64),
        }
    )
    _check_one_tss_per_gene(out, path)
    if "abs_tss_distance_mean" in frame.columns:
        _check_set_means(out, frame["abs_tss_distance_mean"], path)
    return out


def _check_one_tss_per_gene(susie: pd.DataFrame, path: Path) -> None:
    cols = ["chrom", "tss", "strand"]
    first = susie.groupby("gene_id", sort=False)[cols].transform("first")
    bad = (susie[cols] != first).any(axis=1)
    if bad.any():
        i = _first(bad)
        r, f = susie.iloc[i], first.iloc[i]
        col = next(c for c in cols if r[c] != f[c])
        name = {"chrom": "chromosome", "tss": "tss", "strand": "Strand"}[col]
        j = _first((susie["gene_id"] == r["gene_id"]).to_numpy())
        raise InputError(
            f"{path}: row {i + 1}, column {name!r}: gene {r['gene_id']} has {col} {r[col]!s} here and"
            f" {f[col]!s} in row {j + 1}; expected one canonical TSS per gene"
        )


def _check_set_means(susie: pd.DataFrame, given: pd.Series, path: Path) -> None:
    """The file's ``abs_tss_distance_mean`` must be the mean of ``|position - 1 - tss|`` over the set."""
    value = pd.to_numeric(given, errors="coerce")
    bad = value.isna() | ~np.isfinite(value.to_numpy(np.float64, na_value=np.nan))
    if bad.any():
        i = _first(bad)
        raise InputError(
            f"{path}: row {i + 1}, column 'abs_tss_distance_mean': {_found(given.iloc[i])}; expected a number (bp)"
        )
    abs_d = (susie["position"] - 1 - susie["tss"]).abs()
    mean = abs_d.groupby([susie["gene_id"], susie["cs_id"], susie["tissue"]], sort=False).transform("mean")
    off = (value - mean).abs() > 1e-6 * np.maximum(1.0, mean.abs())
    if off.any():
        i = _first(off)
        raise InputError(
            f"{path}: row {i + 1}, column 'abs_tss_distance_mean': {_found(given.iloc[i])};"
            f" expected {float(mean.iloc[i])!r}, the mean of |position - 1 - tss| over the credible set"
            " (is tss 0-based and position 1-based?)"
        )


def _bool_column(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    flags = frame[column].astype(str).str.strip().str.lower()
    ok = flags.isin(["true", "false", "1", "0", "1.0", "0.0"])
    if not ok.all():
        i = _first(~ok)
        raise InputError(
            f"{path}: row {i + 1}, column {column!r}: {_found(frame[column].iloc[i])}; expected a boolean"
            " (True, False, 1 or 0)"
        )
    return flags.isin(["true", "1", "1.0"])


def read_crispri(path: Path) -> pd.DataFrame:
    """The CRISPRi pairs: ``ziga_key, gene, chrom, main_tss_start, main_tss_end, fix_start, fix_end,
    distance`` (``actual_tss_distance``, bp, a number >= 0) and ``validated``, in file order."""
    path = Path(path)
    frame = read_table(path, CRISPRI_REQUIRED, what="CRISPRi pair table")
    gene_col = "gene" if "gene" in frame.columns else "Gene" if "Gene" in frame.columns else None
    if gene_col is None:
        raise InputError(f"{path}: CRISPRi pair table lacks column 'gene' (or 'Gene')")
    _require_nonempty(frame, ("ziga_key", "chromosome", gene_col), path)
    for col in _CRISPRI_INT:
        require_int_column(frame, col, path)
    ints = {col: pd.to_numeric(frame[col]).astype(np.int64) for col in _CRISPRI_INT}
    distance = pd.to_numeric(frame["actual_tss_distance"], errors="coerce")
    bad = distance.isna() | ~np.isfinite(distance.to_numpy(np.float64, na_value=np.nan)) | (distance < 0)
    if bad.any():
        i = _first(bad)
        raise InputError(
            f"{path}: row {i + 1}, column 'actual_tss_distance': {_found(frame['actual_tss_distance'].iloc[i])};"
            " expected a distance in bp (a number >= 0)"
        )
    out = pd.DataFrame(
        {
            "ziga_key": frame["ziga_key"].astype(str).str.strip(),
            "gene": frame[gene_col].astype(str).str.strip(),
            "chrom": frame["chromosome"].astype(str).str.strip(),
            "main_tss_start": ints["main_tss_start"],
            "main_tss_end": ints["main_tss_end"],
            "fix_start": ints["fix_enhancer_wide_start"],
            "fix_end": ints["fix_enhancer_wide_end"],
            "distance": distance.astype(np.float64),
            "validated": _bool_column(frame, "validated", path),
        }
    )
    for lo, hi, lo_name, hi_name in (
        ("main_tss_start", "main_tss_end", "main_tss_start", "main_tss_end"),
        ("fix_start", "fix_end", "fix_enhancer_wide_start", "fix_enhancer_wide_end"),
    ):
        bad = out[hi] <= out[lo]
        if bad.any():
            i = _first(bad)
            raise InputError(
                f"{path}: row {i + 1}, column {hi_name!r}: {int(out[hi].iloc[i])} is not after {lo_name} ="
                f" {int(out[lo].iloc[i])}; expected {lo_name} < {hi_name}"
            )
    dup = out["ziga_key"].duplicated()
    if dup.any():
        i = _first(dup)
        j = _first((out["ziga_key"] == out["ziga_key"].iloc[i]).to_numpy())
        raise InputError(
            f"{path}: row {i + 1}, column 'ziga_key': {out['ziga_key'].iloc[i]!r} is already the key of row {j + 1};"
            " expected unique keys"
        )
    return out


def read_gene_names(gene_table: Path, renames: Path | None) -> set[str]:
    """The names of ``gene_table`` (column ``gene_name``), each renamed by ``renames`` (``gene_name ->
    crispri_gene``) where it has an entry, as the authors' ``missing_genes`` map does."""
    genes = read_table(Path(gene_table), ("gene_name",), what="gene table")
    _require_nonempty(genes, ("gene_name",), Path(gene_table))
    names = genes["gene_name"].astype(str).str.strip()
    if renames is not None:
        path = Path(renames)
        table = read_table(path, ("gene_name", "crispri_gene"), what="gene rename table")
        _require_nonempty(table, ("gene_name", "crispri_gene"), path)
        src = table["gene_name"].astype(str).str.strip()
        dup = src.duplicated()
        if dup.any():
            i = _first(dup)
            j = _first((src == src.iloc[i]).to_numpy())
            raise InputError(
                f"{path}: row {i + 1}, column 'gene_name': {src.iloc[i]!r} is already renamed in row {j + 1};"
                " expected one rename per gene name"
            )
        mapping = dict(zip(src, table["crispri_gene"].astype(str).str.strip(), strict=True))
        names = names.map(lambda n: mapping.get(n, n))
    return set(names)


# ------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Inputs:
    """The checked inputs of one job (frames as :mod:`seqbench.experiments.class_imbalance.stats` takes them)."""

    ccres: pd.DataFrame
    susie: pd.DataFrame
    pairs: pd.DataFrame
    regions: pd.DataFrame
    n_crispri_unmatched: int | None


def _optional(value: Any) -> Path | None:
    return Path(value) if value not in (None, "") else None


def load_inputs(spec) -> Inputs:
    """Read and check every input of the spec; apply the optional CRISPRi gene match."""
    inp = spec.inputs
    gene_table, renames = _optional(inp.get("gene_table")), _optional(inp.get("gene_renames"))
    if renames is not None and gene_table is None:
        raise InputError(
            f"{renames}: inputs.gene_renames is given but inputs.gene_table is not; expected both (the renames"
            " apply to the gene table's names) or neither"
        )
    ccres = read_ccre_bed(Path(inp["ccre_bed"]))
    susie = read_susie(Path(inp["susie_table"]))
    pairs = read_crispri(Path(inp["crispri_table"]))
    regions = read_regions_bed(Path(inp["regions_bed"]))
    unmatched = None
    if gene_table is not None:
        names = read_gene_names(gene_table, renames)
        matched = pairs["gene"].isin(names)
        unmatched = int((~matched).sum())
        pairs = pairs[matched].reset_index(drop=True)
    return Inputs(ccres, susie, pairs, regions, unmatched)


def params_of(spec):
    """The analysis numbers of the spec (:class:`~seqbench.experiments.class_imbalance.stats.Params`)."""
    from seqbench.experiments.class_imbalance.stats import Params

    inp = spec.inputs
    return Params(
        window=int(inp["window"]),
        near_tss=int(inp["near_tss_distance"]),
        distal=int(inp["distal_distance"]),
        predicted_trim=int(inp["predicted_trim"]),
        seen_extension=int(inp["seen_extension"]),
    )


# ------------------------------------------------------------------------------------- design


@dataclass(frozen=True)
class NoConstructs:
    """The builder of a design without constructs (picklable; never called by the runtime)."""

    def __call__(self, construct_id: int) -> Construct:
        raise IndexError(f"{NAME} has no constructs (asked for construct {construct_id}): it runs no model")


def expand(spec, genome, geometry: Geometry) -> Design:
    """No constructs: an empty table (``construct_id, key``).  The inputs are read and checked here
    too, so that a bad file is refused at planning time."""
    load_inputs(spec)
    table = pd.DataFrame({"construct_id": np.zeros(0, dtype=np.int64), "key": pd.Series([], dtype=object)})
    return Design(table=table, build=NoConstructs())


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Every statistic from the inputs alone (``predictions`` has no rows and is not read)."""
    from seqbench.experiments.class_imbalance.stats import reduce_class_imbalance

    inputs = load_inputs(spec)
    return reduce_class_imbalance(
        inputs.ccres, inputs.susie, inputs.pairs, inputs.regions, params_of(spec),
        n_crispri_unmatched=inputs.n_crispri_unmatched,
    )
