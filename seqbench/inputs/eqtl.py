"""Readers of the eQTL inputs (experiments-spec §7.1): eQTL Catalogue SuSiE credible sets, the canonical
TSS table, every protein-coding TSS of the biomart export, the susie -> GTEx tissue map, GTEx v8 pairs
files and the stored ridge matches of a tissue-expression job.

Coordinates: the credible sets' ``position`` is **1-based** (converted once, here, to ``pos0 =
position - 1``, 0-based); the canonical table's ``tss`` is 1-based (``tss0 = tss - 1``); every other
position in seqbench is 0-based, half-open.  Every reader refuses a bad file with one
:class:`~seqbench.inputs.tables.InputError` line naming the file, the row (data rows, 1-based), the
column, what was found and what was expected.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from seqbench.inputs.expression import BIOMART_CHROMS, BIOMART_COLUMNS, read_biomart_tss, strip_version
from seqbench.inputs.tables import InputError, read_table, require_int_column

__all__ = [
    "CREDIBLE_SET_COLUMNS",
    "CREDIBLE_SET_PREFIX",
    "read_canonical_tss",
    "read_credible_sets",
    "read_pairs",
    "read_protein_coding_tss",
    "read_ridge_matches",
    "read_tissue_map",
    "tissue_key",
]

#: the columns read from an eQTL Catalogue SuSiE credible-set file
CREDIBLE_SET_COLUMNS = ("molecular_trait_id", "variant", "chromosome", "position", "ref", "alt", "cs_id")
#: file names are ``GTEx_ge_<tissue>.<anything>``; the tissue is the stem minus this prefix
CREDIBLE_SET_PREFIX = "GTEx_ge_"
_ALLELE = re.compile(r"^[ACGTNacgtn]+$")


def tissue_key(name: str) -> str:
    """A tissue name normalised for matching: lower case, every run of other characters -> ``_``
    (``"Whole Blood"``, ``"Whole_Blood"`` and ``"whole_blood"`` all give ``whole_blood``)."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def _first(mask) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


def _chrom(values: pd.Series) -> pd.Series:
    s = values.astype(str).str.strip()
    s = s.where(s.str.startswith("chr"), "chr" + s)
    return s.where(s != "chrMT", "chrM")


def credible_set_tissue(path: Path) -> str:
    """``GTEx_ge_adipose_subcutaneous.purity_filtered.txt.gz`` -> ``adipose_subcutaneous``."""
    name = Path(path).name
    return name[len(CREDIBLE_SET_PREFIX):].split(".", 1)[0]


def read_credible_sets(folder: Path) -> pd.DataFrame:
    """Every ``GTEx_ge_*`` file of ``folder`` (sorted by name; gzip or plain TSV with a header).

    Returns one row per (file, row): ``gene_id`` (``molecular_trait_id``, version stripped),
    ``variant_id`` (``variant``), ``chromosome`` (as written), ``chrom`` (``chr*``), ``position``
    (1-based, as written), ``pos0`` (0-based), ``ref``, ``alt`` (upper case), ``cs_id``,
    ``susie_tissue`` (from the file name), ``file`` and ``row`` (1-based data row)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: credible-set folder not found; expected a folder of {CREDIBLE_SET_PREFIX}*.txt.gz"
                         " files (inputs.credible_sets)")
    files = sorted(p for p in folder.iterdir() if p.name.startswith(CREDIBLE_SET_PREFIX) and p.is_file())
    if not files:
        raise InputError(f"{folder}: no {CREDIBLE_SET_PREFIX}*.txt.gz file; expected one credible-set file per tissue")
    frames = []
    for path in files:
        frame = read_table(path, CREDIBLE_SET_COLUMNS, what="SuSiE credible-set file")
        for col in ("molecular_trait_id", "variant", "chromosome", "cs_id", "ref", "alt"):
            empty = frame[col].isna() | (frame[col].astype(str).str.strip() == "")
            if empty.any():
                i = _first(empty)
                raise InputError(f"{path}: row {i + 1}, column {col!r}: the cell is empty; expected a value")
        require_int_column(frame, "position", path)
        position = pd.to_numeric(frame["position"]).astype(np.int64)
        if (position < 1).any():
            i = _first(position < 1)
            raise InputError(f"{path}: row {i + 1}, column 'position': {int(position.iloc[i])}; expected a 1-based"
                             " position >= 1")
        for col in ("ref", "alt"):
            ok = frame[col].astype(str).str.strip().str.fullmatch(_ALLELE)
            if not ok.all():
                i = _first(~ok)
                raise InputError(f"{path}: row {i + 1}, column {col!r}: {str(frame[col].iloc[i])!r}; expected an"
                                 " allele of A, C, G, T, N")
        frames.append(pd.DataFrame({
            "gene_id": frame["molecular_trait_id"].astype(str).str.strip().map(strip_version),
            "variant_id": frame["variant"].astype(str).str.strip(),
            "chromosome": frame["chromosome"].astype(str).str.strip(),
            "chrom": _chrom(frame["chromosome"]),
            "position": position,
            "pos0": position - 1,
            "ref": frame["ref"].astype(str).str.strip().str.upper(),
            "alt": frame["alt"].astype(str).str.strip().str.upper(),
            "cs_id": frame["cs_id"].astype(str).str.strip(),
            "susie_tissue": credible_set_tissue(path),
            "file": str(path),
            "row": np.arange(1, len(frame) + 1),
        }))
    return pd.concat(frames, ignore_index=True)


def read_canonical_tss(path: Path) -> pd.DataFrame:
    """``only_protein_coding_ensembl_canonical_tss.tsv``: ``ts_id, gene_id, tss`` (1-based), ``chr``.

    Returns ``gene_id, ts_id, chrom`` (``chr*``), ``tss0`` (0-based: ``tss - 1``, as ``EE.py:L6561``).
    A gene listed twice is refused."""
    path = Path(path)
    frame = read_table(path, ("ts_id", "gene_id", "tss", "chr"), what="canonical TSS table")
    require_int_column(frame, "tss", path)
    tss = pd.to_numeric(frame["tss"]).astype(np.int64)
    if (tss < 1).any():
        i = _first(tss < 1)
        raise InputError(f"{path}: row {i + 1}, column 'tss': {int(tss.iloc[i])}; expected a 1-based TSS >= 1")
    gene = frame["gene_id"].astype(str).str.strip().map(strip_version)
    dup = gene.duplicated()
    if dup.any():
        i = _first(dup)
        raise InputError(f"{path}: row {i + 1}, column 'gene_id': {gene.iloc[i]} is listed twice; expected one"
                         " canonical TSS per gene")
    return pd.DataFrame({"gene_id": gene, "ts_id": frame["ts_id"].astype(str).str.strip(),
                         "chrom": _chrom(frame["chr"]), "tss0": tss - 1})


def read_protein_coding_tss(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The biomart export: its canonical rows (:func:`~seqbench.inputs.expression.read_biomart_tss`, which
    checks the file) and **every** protein-coding transcript on chromosomes 1-22, X, Y, MT as
    ``gene_id, ts_id, chrom, strand`` (``+``/``-``), ``tss0`` (0-based), ``canonical`` (bool): the
    authors' "no alternative 5' TSS" rule (``unclear_genes``, ``EE.py:L6563``) reads them all."""
    canonical = read_biomart_tss(Path(path))
    raw = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    raw.columns = list(BIOMART_COLUMNS)
    raw = raw.apply(lambda c: c.str.strip())
    rows = raw[(raw["ts_type"] == "protein_coding") & raw["chr"].isin(BIOMART_CHROMS)]
    ok = rows["tss"].str.fullmatch(r"0*[1-9]\d*") & rows["strand"].isin(["1", "-1"])
    if not ok.all():
        i = int(rows.index[~ok.to_numpy()][0])
        col = "tss" if not re.fullmatch(r"0*[1-9]\d*", raw["tss"].iloc[i]) else "strand"
        raise InputError(f"{path}: row {i + 1}, column {BIOMART_COLUMNS.index(col) + 1} (read as {col!r}):"
                         f" {raw[col].iloc[i]!r}; expected {'a 1-based TSS' if col == 'tss' else '1 or -1'}")
    chrom = _chrom(rows["chr"])
    every = pd.DataFrame({
        "gene_id": rows["gene_id"].map(strip_version).to_numpy(),
        "ts_id": rows["ts_id"].to_numpy(),
        "chrom": chrom.to_numpy(),
        "strand": np.where(rows["strand"] == "1", "+", "-"),
        "tss0": rows["tss"].astype(np.int64).to_numpy() - 1,
        "canonical": rows["ensembl_canonical"].isin(["1", "1.0"]).to_numpy(),
    })
    return canonical, every


def read_tissue_map(path: Path) -> dict[str, str]:
    """The susie -> GTEx tissue table: a TSV with columns ``susie`` (the file stem minus ``GTEx_ge_``) and
    ``gtex`` (the GTEx tissue name, as in the ridge matches)."""
    frame = read_table(Path(path), ("susie", "gtex"), what="susie -> GTEx tissue table")
    susie = frame["susie"].astype(str).str.strip()
    dup = susie.duplicated()
    if dup.any():
        i = _first(dup)
        raise InputError(f"{path}: row {i + 1}, column 'susie': {susie.iloc[i]!r} is listed twice; expected one"
                         " GTEx tissue per susie name")
    return dict(zip(susie, frame["gtex"].astype(str).str.strip(), strict=True))


def read_pairs(folder: Path) -> pd.DataFrame:
    """GTEx v8 ``*pairs.txt.gz`` of ``folder``: ``variant_id`` (the ``_b38`` suffix removed), ``gene_id``
    (unversioned), ``slope``, ``tissue_key`` (:func:`tissue_key` of the file name before its first ``.``,
    e.g. ``Whole_Blood.v8.signif_variant_gene_pairs.txt.gz`` -> ``whole_blood``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: GTEx pairs folder not found; expected a folder of *pairs.txt.gz files"
                         " (inputs.gtex_pairs, '' to skip)")
    files = sorted(p for p in folder.iterdir() if "pairs.txt" in p.name and p.is_file())
    if not files:
        raise InputError(f"{folder}: no *pairs.txt.gz file; expected GTEx v8 variant-gene pairs per tissue")
    frames = []
    for path in files:
        frame = read_table(path, ("variant_id", "gene_id", "slope"), what="GTEx pairs file")
        slope = pd.to_numeric(frame["slope"], errors="coerce")
        if slope.isna().any():
            i = _first(slope.isna())
            raise InputError(f"{path}: row {i + 1}, column 'slope': {frame['slope'].iloc[i]!r}; expected a number")
        frames.append(pd.DataFrame({
            "variant_id": frame["variant_id"].astype(str).str.strip().str.replace(r"_b38$", "", regex=True),
            "gene_id": frame["gene_id"].astype(str).str.strip().map(strip_version),
            "slope": slope.astype(np.float64),
            "tissue_key": tissue_key(path.name.split(".", 1)[0]),
        }))
    return pd.concat(frames, ignore_index=True)


def read_ridge_matches(path: Path):
    """A tissue-expression job's ``tables/gtex_ridge_matches.json``: ``(features, {GTEx tissue: RidgeMatch})``.

    Layout ``{"dataset", "features": ["<index>|<description>", ...], "matches": [RidgeMatch.to_json(), ...]}``;
    every match must have the file's features in the file's order."""
    from seqbench.stats.ridge import RidgeMatch, RidgeMatchError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: ridge matches not found; expected a tissue-expression job's"
                         " tables/gtex_ridge_matches.json (inputs.ridge_matches, or --from the job)")
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the ridge matches ({exc}); expected JSON") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("features"), list) or not isinstance(raw.get("matches"),
                                                                                                list):
        raise InputError(f"{path}: expected a JSON object with 'features' (a list) and 'matches' (a list)")
    features = [str(f) for f in raw["features"]]
    if not features or not raw["matches"]:
        raise InputError(f"{path}: no features or no matches; expected a fitted tissue-expression job's matches")
    matches = {}
    for k, m in enumerate(raw["matches"]):
        try:
            match = RidgeMatch.from_json(m, where=f"{path}: match {k}")
        except RidgeMatchError as exc:
            raise InputError(str(exc)) from exc
        if list(match.features) != features:
            raise InputError(f"{path}: match {k} ({match.condition!r}) has other features than the file's"
                             " 'features'; expected the same features in the same order")
        matches[match.condition] = match
    return features, matches


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no file name, mtime 0): the same text gives the same bytes."""
    return gzip.compress(data, mtime=0)
