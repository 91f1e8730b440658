"""Saturation mutagenesis in the genome (paper: Fig. 4D-E, Fig. S6-S7; experiments-spec §4, the
authors' ``prepare_kircher_ingenome.py``): the Kircher et al. (2019) CAGI5 variants.

Every variant of the lifted CAGI5 tables is put into its locus in the reference genome: one
*reference* construct per unique ``(locus, chromosome, position)`` and one *alternative* construct
per table row, each the genomic window centred on the variant (``window_start = None``, landmark =
the variant's 0-based position), the allele written by ``substitute(pos0, ref, allele)`` (the
reference construct substitutes the reference base for itself, so that the genome base is checked
where the sequence is built as well).  The readout is the 5-bin landmark sum
(``ensemble.bin_window = [-2, 2]``, the authors' ``_landmark_sum_wide``) averaged over the
strand x shift ensemble in natural scale.

Tracks are matched per locus by data, not by code branches (experiments-spec §4.3): the table
:data:`LOCUS_CELL_TYPES` gives each locus a cell-type *descriptor*; :func:`extra_tracks` asks the
model's track table for every CAGE and every DNASE track whose description contains the descriptor
(case-insensitive; the assay case-sensitive), falling back to every track of the assay when none
does, and labels them ``<assay>:<descriptor>:<track index>`` (``cage:hepg2:2``).  The reduce takes,
per locus and assay, the mean of the raw ensemble means over the columns labelled with that locus'
descriptor, then ``log2(pred + 1)``, then ``delta = alt - ref``, and correlates it with the measured
``log2FC`` (:mod:`seqbench.experiments.saturation_mutagenesis.stats`).

Construct ids enumerate the loci in table order (files sorted by path, rows in file order), the
positions of a locus in ascending order, and at each position the reference construct followed by
the alternative alleles in A, C, G, T order.
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
from seqbench.models.base import Geometry, TrackError
from seqbench.sequence.constructs import Construct, substitute

NAME = "saturation-mutagenesis"
TITLE = "Saturation mutagenesis of promoters and enhancers (Kircher et al., CAGI5), in the genome"
TABLES_DEFAULT = "Data/Kircher_saturation_mutagenesis/CAGI5_train_test_hg19_to_hg38_liftover"

#: locus -> cell-type descriptor (experiments-spec §4.3; the paper's Methods list): a substring
#: matched case-insensitively against track descriptions; "mel" matches melanocyte and melanoma
LOCUS_CELL_TYPES: dict[str, str] = {
    "F9": "hepg2",
    "LDLR": "hepg2",
    "SORT1": "hepg2",
    "GP1BB": "k562",
    "HBB": "k562",
    "HBG1": "k562",
    "PKLR": "k562",
    "HNF4A": "hek293",
    "MSMB": "hek293",
    "TERT-HEK293T": "hek293",
    "MYCrs6983267": "hek293",
    "ZFAND3": "pancreas",
    "TERT-GBM": "glioblastoma",
    "IRF6": "keratinocyte",
    "IRF4": "mel",
}
#: assays compared (matched case-sensitively as substrings of the track descriptions)
ASSAYS: tuple[str, ...] = ("CAGE", "DNASE")
#: columns of the CAGI5 tables (no header), in file order
TABLE_COLUMNS: tuple[str, ...] = ("Chromosome", "Pos_hg38", "Ref", "Alt", "log2FC", "Variance")
BASES = "ACGT"

INPUTS: dict[str, Key] = {
    "tables": Key(
        str, TABLES_DEFAULT, "folder of the lifted CAGI5 tables (*.tsv in it or its subfolders), relative to data_root"
    ),
    "cell_types": Key(
        dict, {}, "locus -> cell-type descriptor, added to (or overriding) the paper's table LOCUS_CELL_TYPES"
    ),
    "calibration_loci": Key(
        list, ["F9", "LDLR"], "the two loci compared for calibration (Fig. 4E)", item=str, length=2
    ),
    "max_loci": Key(int, 0, "use only the first N loci in table order (0: all)", min=0),
}
PATH_INPUTS = {"tables"}
#: a reference K562 CAGE column; the statistics read the per-locus labels that extra_tracks adds
DEFAULT_TRACKS: dict[str, Any] = {"cage": {"assay": "CAGE", "cell_type": "K562"}}
READOUT = "cage"
#: the authors' ``_landmark_sum_wide``: 5 bins around the variant's bin
SPEC_DEFAULTS: dict[str, Any] = {"ensemble": {"bin_window": [-2, 2]}}

_LABEL_RE = re.compile(r"^(?P<assay>[a-z0-9]+):(?P<descriptor>.+):(?P<index>\d+)$")


# ------------------------------------------------------------------------------------------ inputs


def cell_types(spec) -> dict[str, str]:
    """The locus -> descriptor table of a job: :data:`LOCUS_CELL_TYPES` updated by ``inputs.cell_types``."""
    extra = spec.inputs.get("cell_types") or {}
    for k, v in extra.items():
        if not isinstance(v, str) or not v:
            raise InputError(f"{spec.source}: inputs.cell_types.{k} = {v!r}; expected a non-empty string")
    return {**LOCUS_CELL_TYPES, **{str(k): str(v) for k, v in extra.items()}}


def locus_of(path: Path) -> str:
    """Locus of a table file: the last ``_``-separated token of its name without the extension."""
    return Path(path).stem.rsplit("_", 1)[-1]


def table_files(folder: Path) -> list[Path]:
    """``folder/*.tsv`` (the authors' archive: the tables directly in the folder) and ``folder/*/*.tsv``
    (split into subfolders, e.g. ``train/`` and ``test/``), sorted by relative path (the authors' order
    was the directory listing, §13 B21)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: CAGI5 table folder not found (expected a folder holding *.tsv or */*.tsv)")
    found = [*folder.glob("*.tsv"), *folder.glob("*/*.tsv")]
    files = sorted((p for p in found if p.is_file()), key=lambda p: p.relative_to(folder).as_posix())
    if not files:
        raise InputError(f"{folder}: no tables; expected tab-separated files in it or its subfolders (*.tsv, */*.tsv)")
    return files


def _read_one(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False)
    except OSError as exc:
        raise InputError(f"{path}: CAGI5 table cannot be read ({exc.strerror or exc})") from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path}: CAGI5 table is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be parsed as a tab-separated table ({exc})") from exc
    if raw.shape[1] != len(TABLE_COLUMNS):
        raise InputError(
            f"{path}: {raw.shape[1]} columns; expected {len(TABLE_COLUMNS)} without a header:"
            f" {', '.join(TABLE_COLUMNS)}"
        )
    raw.columns = list(TABLE_COLUMNS)
    return raw


def _bad(path: Path, i: int, column: str, value: str, expected: str) -> InputError:
    found = "the cell is empty" if value == "" else repr(value)
    return InputError(f"{path}: row {i + 1}, column {column!r}: {found}; expected {expected}")


def load_tables(folder: Path, known: dict[str, str] | None = None, *, check_refs: bool = True) -> pd.DataFrame:
    """All CAGI5 rows, checked, one row per variant.

    Columns: ``locus, file`` (path relative to ``folder``), ``row`` (1-based data row of its file),
    ``chromosome, pos`` (**0-based**: the file's 1-based ``Pos_hg38`` minus 1, converted here and
    nowhere else), ``ref, alt`` (upper-case single bases), ``log2FC, variance`` (float).  Rows keep
    the file order; files are sorted by relative path.  Refused with one line naming file, row and
    column: a row that is not an SNV of A/C/G/T, a non-integer or non-positive position, a
    non-finite ``log2FC``, ``alt == ref``, two rows of a locus with the same position and alt, two
    rows of a locus giving one position different ``Ref`` bases, and a locus missing from ``known``
    (the locus -> descriptor table).  ``check_refs=False`` leaves out the last check: a caller with the
    genome runs :func:`check_reference` first, which names the row the genome contradicts, then
    :func:`check_one_ref`.
    """
    folder = Path(folder)
    known = LOCUS_CELL_TYPES if known is None else known
    frames = []
    for path in table_files(folder):
        locus = locus_of(path)
        if locus not in known:
            raise InputError(
                f"{path}: locus {locus!r} (the last '_' token of the file name) has no cell type;"
                f" expected one of {', '.join(known)}, or add it under inputs.cell_types"
            )
        raw = _read_one(path)
        pos = pd.to_numeric(raw["Pos_hg38"], errors="coerce")
        for i in np.flatnonzero((pos.isna() | (pos % 1 != 0) | (pos < 1)).to_numpy()):
            raise _bad(path, int(i), "Pos_hg38", raw["Pos_hg38"].iloc[i], "a 1-based position (integer >= 1)")
        for i in np.flatnonzero((raw["Chromosome"].str.strip() == "").to_numpy()):
            raise _bad(path, int(i), "Chromosome", "", "a chromosome name")
        for col in ("Ref", "Alt"):
            allele = raw[col].str.strip().str.upper()
            for i in np.flatnonzero(~allele.isin(list(BASES)).to_numpy()):
                raise _bad(
                    path, int(i), col, raw[col].iloc[i], "one base A, C, G or T (only SNVs are supported)"
                )
        fc = pd.to_numeric(raw["log2FC"], errors="coerce")
        for i in np.flatnonzero(~np.isfinite(fc.to_numpy(dtype=float))):
            raise _bad(path, int(i), "log2FC", raw["log2FC"].iloc[i], "a finite number")
        var = pd.to_numeric(raw["Variance"], errors="coerce")
        for i in np.flatnonzero(var.isna().to_numpy()):
            raise _bad(path, int(i), "Variance", raw["Variance"].iloc[i], "a number")
        frame = pd.DataFrame(
            {
                "locus": locus,
                "file": path.relative_to(folder).as_posix(),
                "row": np.arange(1, len(raw) + 1, dtype=np.int64),
                "chromosome": raw["Chromosome"].str.strip(),
                "pos": pos.astype(np.int64) - 1,
                "ref": raw["Ref"].str.strip().str.upper(),
                "alt": raw["Alt"].str.strip().str.upper(),
                "log2FC": fc.astype(float),
                "variance": var.astype(float),
            }
        )
        same = frame["ref"] == frame["alt"]
        for i in np.flatnonzero(same.to_numpy()):
            raise _bad(path, int(i), "Alt", raw["Alt"].iloc[i], f"a base other than Ref ({frame['ref'].iloc[i]})")
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    where = out["file"] + ": row " + out["row"].astype(str)
    dup = out.duplicated(["locus", "chromosome", "pos", "alt"], keep=False)
    if dup.any():
        first, second = (int(i) for i in np.flatnonzero(dup.to_numpy())[:2])
        r = out.iloc[second]
        raise InputError(
            f"{folder}/{where.iloc[second]}: locus {r.locus} variant {r.chromosome}:{r.pos + 1} {r.ref}>{r.alt}"
            f" (1-based) is already given at {where.iloc[first]}; expected one row per variant"
        )
    if check_refs:
        check_one_ref(out, folder)
    return out


def check_one_ref(frame: pd.DataFrame, folder: Path) -> None:
    """Refuse two rows that give one position of a locus different ``Ref`` bases; names both rows."""
    where = frame["file"] + ": row " + frame["row"].astype(str)
    first = frame.groupby(["locus", "chromosome", "pos"], sort=False)["ref"].transform("first")
    differs = (frame["ref"] != first).to_numpy()
    if differs.any():
        i = int(np.flatnonzero(differs)[0])
        r = frame.iloc[i]
        same = (frame["locus"] == r.locus) & (frame["chromosome"] == r.chromosome) & (frame["pos"] == r.pos)
        j = int(np.flatnonzero(same.to_numpy())[0])  # the position's first row, which gives the other Ref
        raise InputError(
            f"{folder}/{where.iloc[i]}, column 'Ref': position {r.chromosome}:{r.pos + 1} (1-based) of locus"
            f" {r.locus} has Ref {', '.join(sorted(set(frame.loc[same, 'ref'])))} in different rows ({r.ref!r} here,"
            f" {frame['ref'].iloc[j]!r} at {where.iloc[j]}); expected one reference base"
        )


def check_reference(frame: pd.DataFrame, genome, folder: Path) -> None:
    """Refuse a row whose ``Ref`` is not the genome's base at its position (a fix of §13 B21).

    The authors wrote the file's Ref into the reference construct without checking it; a liftover
    error then silently compares a wrong "reference".  Reads one span per (locus, chromosome).
    """
    for (_locus, chrom), rows in frame.groupby(["locus", "chromosome"], sort=False):
        r0 = rows.iloc[0]
        genome.check_chrom(chrom, where=f"{folder}/{r0.file}: row {r0.row}, column 'Chromosome'")
        length = genome.lengths[chrom]
        off = rows[(rows["pos"] >= length)]
        if len(off):
            r = off.iloc[0]
            raise InputError(
                f"{folder}/{r.file}: row {r.row}, column 'Pos_hg38': {r.pos + 1} is past the end of {chrom}"
                f" (length {length} in {genome.path.name})"
            )
        lo, hi = int(rows["pos"].min()), int(rows["pos"].max()) + 1
        codes = genome.fetch(chrom, lo, hi)
        got = np.frombuffer(b"ACGTN", dtype=np.uint8)[codes[rows["pos"].to_numpy() - lo]]
        want = rows["ref"].str.encode("ascii").map(lambda b: b[0]).to_numpy(dtype=np.uint8)
        bad = np.flatnonzero(got != want)
        if bad.size:
            r = rows.iloc[int(bad[0])]
            raise InputError(
                f"{folder}/{r.file}: row {r.row}, column 'Ref': {r.ref!r} but {genome.path.name} has"
                f" {chr(got[bad[0]])!r} at {chrom}:{r.pos + 1} (1-based); expected the genome's reference base"
                f" ({bad.size} row(s) of locus {r.locus} disagree; fix the liftover or remove them)"
            )


# ------------------------------------------------------------------------------------------ design


@dataclass(frozen=True)
class SaturationBuilder:
    """Builds construct ``i`` from plain tuples (picklable; shipped to materialization tasks)."""

    keys: tuple[str, ...]
    chroms: tuple[str, ...]
    positions: tuple[int, ...]  # 0-based
    refs: str  # one base per construct
    alleles: str  # the base written at the position (= ref for reference constructs)

    def __call__(self, construct_id: int) -> Construct:
        i = int(construct_id)
        pos = self.positions[i]
        return Construct(
            key=self.keys[i],
            chrom=self.chroms[i],
            landmark=pos,
            edits=(substitute(pos, self.refs[i], self.alleles[i]),),
            window_start=None,
        )


def design_table(variants: pd.DataFrame, descriptors: dict[str, str]) -> pd.DataFrame:
    """One row per construct (see the module docstring for the order).

    Columns: ``construct_id, locus, descriptor, chromosome, pos`` (0-based), ``allele`` (``"ref"`` or
    ``"alt"``), ``nucleotide`` (the base written), ``ref``, ``log2FC, variance`` (measured; NaN on
    reference rows), ``file, row`` (where the variant came from; empty / 0 on reference rows).
    """
    loci = list(dict.fromkeys(variants["locus"]))
    parts = []
    for locus in loci:
        v = variants[variants["locus"] == locus]
        refs = v.drop_duplicates(["chromosome", "pos"])[["chromosome", "pos", "ref"]].assign(
            allele="ref", nucleotide=lambda d: d["ref"], log2FC=np.nan, variance=np.nan, file="", row=0, _o=0
        )
        alts = v[["chromosome", "pos", "ref", "alt", "log2FC", "variance", "file", "row"]].rename(
            columns={"alt": "nucleotide"}
        )
        alts = alts.assign(allele="alt", _o=alts["nucleotide"].map(lambda b: 1 + BASES.index(b)))
        both = pd.concat([refs, alts], ignore_index=True).sort_values(["chromosome", "pos", "_o"], kind="stable")
        parts.append(both.assign(locus=locus, descriptor=descriptors[locus]))
    table = pd.concat(parts, ignore_index=True).drop(columns="_o")
    table.insert(0, "construct_id", np.arange(len(table), dtype=np.int64))
    cols = ["construct_id", "locus", "descriptor", "chromosome", "pos", "allele", "nucleotide", "ref"]
    table = table[cols + ["log2FC", "variance", "file", "row"]]
    table["row"] = table["row"].astype(np.int64)
    table["pos"] = table["pos"].astype(np.int64)
    return table


def _variants(spec, genome=None) -> tuple[pd.DataFrame, dict[str, str]]:
    folder = Path(spec.inputs["tables"])
    known = cell_types(spec)
    frame = load_tables(folder, known, check_refs=False)
    if spec.inputs["max_loci"]:
        keep = list(dict.fromkeys(frame["locus"]))[: spec.inputs["max_loci"]]
        frame = frame[frame["locus"].isin(keep)].reset_index(drop=True)
    if genome is not None:  # the genome first: of two rows that disagree, it names the wrong one
        check_reference(frame, genome, folder)
        check_one_ref(frame, folder)
    return frame, {locus: known[locus] for locus in dict.fromkeys(frame["locus"])}


def expand(spec, genome, geometry: Geometry) -> Design:
    """Design of the job: per locus, a reference construct per position and one per alternative allele."""
    pair = spec.inputs["calibration_loci"]
    if len(pair) != 2 or not all(isinstance(x, str) for x in pair):
        raise InputError(f"{spec.source}: inputs.calibration_loci = {pair!r}; expected two locus names")
    frame, descriptors = _variants(spec, genome)
    table = design_table(frame, descriptors)
    keys = tuple(
        f"{lo}|{ch}:{p}|{a}:{n}"
        for lo, ch, p, a, n in zip(
            table["locus"], table["chromosome"], table["pos"], table["allele"], table["nucleotide"], strict=True
        )
    )
    builder = SaturationBuilder(
        keys=keys,
        chroms=tuple(table["chromosome"]),
        positions=tuple(int(p) for p in table["pos"]),
        refs="".join(table["ref"]),
        alleles="".join(table["nucleotide"]),
    )
    return Design(table=table, build=builder)


def track_label(assay: str, descriptor: str, index: int) -> str:
    """Column label of a matched track: ``<assay lower-case>:<descriptor>:<track index>``."""
    return f"{assay.lower()}:{descriptor}:{int(index)}"


def extra_tracks(spec, track_table) -> dict[str, int]:
    """Every CAGE and DNASE track matched to the descriptor of each locus of the job (§4.3).

    ``TrackTable.match(assay, descriptor)``: tracks whose description contains the assay
    (case-sensitive) and the descriptor (case-insensitive), else every track of the assay.
    """
    _frame, descriptors = _variants(spec)
    out: dict[str, int] = {}
    for descriptor in dict.fromkeys(descriptors.values()):
        for assay in ASSAYS:
            found = track_table.match(assay, descriptor)
            if not found:
                raise TrackError(
                    f"{spec.source}: no track description of this model contains {assay!r} (needed for the"
                    f" descriptor {descriptor!r}); expected a track table with descriptions (for Enformer give"
                    " model.targets = targets_human.txt)"
                )
            for i in found:
                out[track_label(assay, descriptor, i)] = int(i)
    return out


def label_map(columns) -> dict[tuple[str, str], list[str]]:
    """``(assay lower-case, descriptor) -> [labels]`` from prediction column names (see :func:`track_label`)."""
    out: dict[tuple[str, str], list[str]] = {}
    for c in columns:
        m = _LABEL_RE.match(str(c))
        if m:
            out.setdefault((m["assay"], m["descriptor"]), []).append(str(c))
    return out


# ------------------------------------------------------------------------------------------ reduce


def variant_effects(predictions: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """Predicted and measured effect of every variant, per assay (long format).

    Per construct: the mean over ensemble members of every track column (natural scale); per locus
    and assay: the mean over the locus' matched track columns (``pred``), then ``log2(pred + 1)``;
    ``delta = log2(alt_pred + 1) - log2(ref_pred + 1)`` (aggregate, then log).  For the authors'
    comparison (§4.4, their LDLR cells) also the other order, ``delta_log_then_aggregate =
    mean_m log2(alt_m + 1) - mean_m log2(ref_m + 1)``, where ``x_m`` is member ``m``'s mean over the
    locus' matched track columns (natural scale, as for ``pred``) and ``mean_m`` the mean over the
    construct's members.  Columns: ``assay`` (``"cage"``, ``"dnase"``), ``locus, descriptor,
    chromosome, pos`` (0-based), ``ref, alt, log2FC, variance, ref_pred, alt_pred, delta,
    delta_log_then_aggregate, n_tracks, file, row``.
    """
    labels = label_map(predictions.columns)
    cols = sorted({c for v in labels.values() for c in v})
    means = construct_means(predictions, design, cols)
    table = means.drop(columns=cols)
    # per member: which descriptor its construct reads (the design, by key; never by position)
    member_ids = predictions["construct_id"].to_numpy(np.int64)
    member_desc = design.set_index("construct_id")["descriptor"].reindex(member_ids).to_numpy()
    out = []
    for assay in (a.lower() for a in ASSAYS):
        pred = np.full(len(table), np.nan)
        member_pred = np.full(len(predictions), np.nan)
        n_tracks = np.zeros(len(table), dtype=np.int64)
        for descriptor in table["descriptor"].unique():
            use = labels.get((assay, descriptor))
            if not use:
                raise InputError(
                    f"predictions have no {assay} column for descriptor {descriptor!r}"
                    f" (expected labels {assay}:{descriptor}:<index>)"
                )
            rows = (table["descriptor"] == descriptor).to_numpy()
            pred[rows] = means.loc[rows, use].to_numpy(np.float64).mean(axis=1)
            n_tracks[rows] = len(use)
            m_rows = member_desc == descriptor
            member_pred[m_rows] = predictions.loc[m_rows, use].to_numpy(np.float64).mean(axis=1)
        log_first = pd.Series(np.log2(member_pred + 1.0)).groupby(member_ids).mean()
        t = table.assign(pred=pred, log_pred=log_first.reindex(table["construct_id"]).to_numpy(), n_tracks=n_tracks)
        keys = ["locus", "chromosome", "pos"]
        ref = t[t["allele"] == "ref"][[*keys, "pred", "log_pred"]].rename(
            columns={"pred": "ref_pred", "log_pred": "ref_log_pred"}
        )
        alt = t[t["allele"] == "alt"].rename(
            columns={"nucleotide": "alt", "pred": "alt_pred", "log_pred": "alt_log_pred"}
        )
        v = alt.merge(ref, on=keys, how="left", validate="many_to_one")
        v["delta"] = np.log2(v["alt_pred"] + 1.0) - np.log2(v["ref_pred"] + 1.0)
        v["delta_log_then_aggregate"] = v["alt_log_pred"] - v["ref_log_pred"]
        v.insert(0, "assay", assay)
        out.append(
            v[["assay", "locus", "descriptor", "chromosome", "pos", "ref", "alt", "log2FC", "variance",
               "ref_pred", "alt_pred", "delta", "delta_log_then_aggregate", "n_tracks", "file", "row"]]
        )
    return pd.concat(out, ignore_index=True)


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Variant effects and their correlation with the measurements (see :mod:`.stats`)."""
    from seqbench.experiments.saturation_mutagenesis.stats import reduce_saturation

    pair = [str(x) for x in spec.inputs["calibration_loci"]]
    if len(pair) != 2:
        raise InputError(f"{spec.source}: inputs.calibration_loci = {pair!r}; expected two locus names")
    return reduce_saturation(variant_effects(predictions, design), calibration_loci=(pair[0], pair[1]))


#: Fig. 4E text: F9 r = 0.3, LDLR r = 0.64, pooled r = 0.1 (Enformer CAGE)
