"""TRIP-seq (Hong & Cohen, K562): six promoters integrated at thousands of genomic locations (paper
Fig. 6C/D, S15-S16; experiments-spec §8.1-8.2).

Inputs (``Data/Cohen_genomic_environments/``):

* the TRIP table (``trip_seq.tsv``, rows with any NA dropped as the authors' ``.dropna()``):
  ``promoter`` (a ``Name`` of the sequence table), ``chr``, ``location`` (hg38, used as a 0-based
  position), ``strand`` (integration orientation, ``+``/``-``), ``log2(exp)`` (measured, log2);
* the promoter sequences (``trip_seq_sequences.tsv``): ``Name``, ``Oligo_id`` (suffix ``_-`` ->
  ``Orientation`` ``RC``, else ``SS``; a label only), ``Sequence`` (the CRS, used as given);
* the plasmid (GenBank).  Its FEATURES give the pieces by label (``inputs.plasmid_features`` =
  ``[5' ITR, promoter, reporter, 3' ITR]``): ``plasmid_left = [ITR5.start, promoter.start)``,
  ``plasmid_right = [promoter.end, ITR3.end)`` and ``tdTomato = [reporter.start, reporter.end)``
  (0-based half-open; the authors' constants are [1809:4294], [4426:6128] and [4432:5137]).

Inserts (§8.1): ``full = left + CRS + right`` (landmark ``len(left) + len(CRS) // 2``) and
``minimal = CRS + tdTomato`` (landmark ``len(CRS) // 2``).  On integration strand ``-`` the insert
is reverse-complemented and the landmark is the authors' ``len(right or tdTomato) + len(CRS) // 2``
(one base right of the exact image when ``len(CRS)`` is even; see the docs page).

Geometry: the landing pad ``[location, location + 1)`` is kept and split at ``m = (start + end) // 2
= location`` (the authors' mode "center"): the insert goes immediately before base ``location``.
The model window is centred on the landmark (shift 0) and moved by the ensemble (strand x shift).
Receptive-field windows are the job's ``ensemble.windows`` (one variant each), not constructs.

One construct per distinct (promoter, chr, location, strand) x insert type, ``construct_id = site *
n_types + t``; the measurements of a site measured more than once are averaged (``log2_exp`` mean,
``n_measured``), as the authors' second mean (§8.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import Design, MapFn, sequential_map
from seqbench.inputs.genbank_features import parse_features
from seqbench.inputs.plasmids import parse_genbank
from seqbench.inputs.tables import InputError, read_table
from seqbench.keys import Key
from seqbench.models.base import Geometry
from seqbench.sequence.codes import SequenceError, decode, encode, reverse_complement
from seqbench.sequence.constructs import Construct, InEdit, Literal, insert

NAME = "trip-seq"
TITLE = "TRIP-seq (Hong & Cohen): six promoters at thousands of genomic locations, K562 CAGE"

DATA_DIR = "Data/Cohen_genomic_environments"
TRIP_DEFAULT = f"{DATA_DIR}/trip_seq.tsv"
SEQUENCES_DEFAULT = f"{DATA_DIR}/trip_seq_sequences.tsv"
PLASMID_DEFAULT = f"{DATA_DIR}/trip_plasmid.gb"
FEATURES_DEFAULT = ["5' ITR", "promoter", "tdTomato", "3' ITR"]
INSERT_TYPES = ("minimal", "full")
TRIP_COLUMNS = ("promoter", "chr", "location", "strand", "log2(exp)")
SEQUENCE_COLUMNS = ("Name", "Oligo_id", "Sequence")

INPUTS: dict[str, Key] = {
    "trip_table": Key(str, TRIP_DEFAULT, "TRIP table (promoter, chr, location 0-based, strand, log2(exp))"),
    "sequences": Key(str, SEQUENCES_DEFAULT, "promoter sequences (Name, Oligo_id, Sequence)"),
    "plasmid": Key(str, PLASMID_DEFAULT, "TRIP plasmid, GenBank with the features named by plasmid_features"),
    "plasmid_features": Key(
        list, FEATURES_DEFAULT, "labels of the plasmid features: 5' ITR, promoter slot, reporter, 3' ITR",
        item=str, length=4,
    ),
    "insert_types": Key(list, list(INSERT_TYPES), "insert types, any of minimal, full", INSERT_TYPES, item=str),
}
PATH_INPUTS = {"trip_table", "sequences", "plasmid"}
DEFAULT_TRACKS: dict[str, Any] = {"cage": {"assay": "CAGE", "cell_type": "K562"}}
READOUT = "cage"


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class PlasmidParts:
    """The plasmid pieces (upper-case A/C/G/T/N): ``left`` (5' ITR -> promoter slot), ``right``
    (promoter slot -> 3' ITR) and the reporter ``tdtomato``."""

    left: str
    right: str
    tdtomato: str


def plasmid_parts(path: Path, labels: list[str]) -> PlasmidParts:
    """Cut the pieces of the module docstring from the GenBank record, by feature label."""
    path = Path(path)
    seq = parse_genbank(path)
    feats = parse_features(path)
    by_label: dict[str, Any] = {}
    for f in feats:
        by_label.setdefault(f.label.strip().lower(), f)
    found = []
    for name in labels:
        f = by_label.get(name.strip().lower())
        if f is None:
            have = ", ".join(repr(f.label) for f in feats if f.label) or "no labelled features"
            raise InputError(
                f"{path}: FEATURES: no feature labelled {name!r}; expected the features {labels!r}"
                f" (inputs.plasmid_features); the file has {have}"
            )
        found.append(f)
    itr5, prom, rep, itr3 = found
    if not (itr5.start < prom.start and prom.end <= itr3.end and prom.end <= rep.start and rep.end <= len(seq)):
        raise InputError(
            f"{path}: FEATURES: {labels[0]!r} [{itr5.start}, ...), {labels[1]!r} [{prom.start}, {prom.end}),"
            f" {labels[2]!r} [{rep.start}, {rep.end}), {labels[3]!r} [..., {itr3.end}); expected them in this"
            " order along the plasmid"
        )
    return PlasmidParts(seq[itr5.start : prom.start], seq[prom.end : itr3.end], seq[rep.start : rep.end])


def load_sequences(path: Path) -> pd.DataFrame:
    """``promoter``, ``orientation`` (SS/RC), ``sequence`` (upper-case), one row per promoter name."""
    frame = read_table(path, SEQUENCE_COLUMNS, what="TRIP promoter sequence table")
    rows = []
    seen: set[str] = set()
    for i, r in enumerate(frame.itertuples(index=False)):
        name, oligo, seq = str(r.Name).strip(), str(r.Oligo_id).strip(), r.Sequence
        if name in seen:
            raise InputError(
                f"{path}: row {i + 1}, column 'Name': {name!r} appears twice; expected one sequence a promoter"
            )
        seen.add(name)
        if not isinstance(seq, str) or not seq.strip():
            raise InputError(f"{path}: row {i + 1}, column 'Sequence': the cell is empty; expected a sequence")
        try:
            encode(seq.strip())
        except SequenceError as exc:
            raise InputError(f"{path}: row {i + 1}, column 'Sequence': {exc}") from exc
        rows.append({"promoter": name, "orientation": "RC" if oligo.endswith("_-") else "SS",
                     "sequence": seq.strip().upper()})
    return pd.DataFrame(rows)


def load_trip(path: Path, promoters: set[str], lengths: dict[str, int], fasta_name: str) -> pd.DataFrame:
    """The TRIP rows (NA rows dropped), checked; ``row`` is the 1-based data row of the file."""
    frame = read_table(path, TRIP_COLUMNS, what="TRIP table")
    frame = frame.dropna(subset=list(TRIP_COLUMNS))
    if frame.empty:
        raise InputError(f"{path}: every row of the TRIP table has an empty (NA) cell; expected measured rows")
    out = {"row": [], "promoter": [], "chrom": [], "location": [], "strand": [], "log2_exp": []}
    for idx, r in zip(frame.index, frame[list(TRIP_COLUMNS)].itertuples(index=False), strict=True):
        row = int(idx) + 1
        prom = str(r.promoter).strip()
        if prom not in promoters:
            raise InputError(
                f"{path}: row {row}, column 'promoter': {prom!r} is not a promoter of the sequence table;"
                f" expected one of {', '.join(sorted(promoters))}"
            )
        chrom = str(r.chr).strip()
        if chrom not in lengths:
            raise InputError(
                f"{path}: row {row}, column 'chr': {chrom!r} is not in {fasta_name}; expected one of"
                f" {', '.join(list(lengths)[:6])}{', ...' if len(lengths) > 6 else ''}"
            )
        raw = r.location
        loc = pd.to_numeric(pd.Series([raw]), errors="coerce").iloc[0]
        if isinstance(raw, bool) or not np.isfinite(loc) or loc % 1 != 0:
            raise InputError(f"{path}: row {row}, column 'location': {str(raw)!r}; expected an integer (0-based)")
        loc = int(loc)
        if not 0 <= loc < lengths[chrom]:
            raise InputError(
                f"{path}: row {row}, column 'location': {loc} is off {chrom} (length {lengths[chrom]});"
                f" expected 0 <= location < {lengths[chrom]}"
            )
        strand = str(r.strand).strip()
        if strand not in ("+", "-"):
            raise InputError(f"{path}: row {row}, column 'strand': {strand!r}; expected + or -")
        value = pd.to_numeric(pd.Series([r[4]]), errors="coerce").iloc[0]
        if not np.isfinite(value):
            raise InputError(f"{path}: row {row}, column 'log2(exp)': {str(r[4])!r}; expected a number")
        for k, v in zip(out, (row, prom, chrom, loc, strand, float(value)), strict=True):
            out[k].append(v)
    return pd.DataFrame(out)


# ---------------------------------------------------------------- geometry


def build_insert(crs: str, insert_type: str, strand: str, parts: PlasmidParts) -> tuple[str, int]:
    """``(insert, landmark offset in it)`` (0-based) for a CRS, insert type and integration strand (§8.1)."""
    half = len(crs) // 2
    if insert_type == "full":
        seq, lm, tail = parts.left + crs + parts.right, len(parts.left) + half, len(parts.right)
    elif insert_type == "minimal":
        seq, lm, tail = crs + parts.tdtomato, half, len(parts.tdtomato)
    else:
        raise ValueError(f"insert_type {insert_type!r}: expected one of {', '.join(INSERT_TYPES)}")
    if strand == "-":
        return decode(reverse_complement(encode(seq))), tail + half
    return seq, lm


@dataclass(frozen=True)
class TripBuilder:
    """Builds construct ``i`` (picklable): site ``i // n_types``, insert type ``i % n_types``."""

    parts: PlasmidParts
    crs: tuple[tuple[str, str], ...]  # (promoter, sequence)
    sites: tuple[tuple[str, str, int, str], ...]  # (promoter, chrom, location, strand)
    insert_types: tuple[str, ...]

    def __call__(self, construct_id: int) -> Construct:
        s, t = divmod(construct_id, len(self.insert_types))
        prom, chrom, loc, strand = self.sites[s]
        itype = self.insert_types[t]
        seq, lm = build_insert(dict(self.crs)[prom], itype, strand, self.parts)
        split = (loc + (loc + 1)) // 2  # landing pad [loc, loc + 1), mode "center": kept, split at m = loc
        return Construct(key=f"{prom}|{chrom}:{loc}|{strand}|{itype}", chrom=chrom, landmark=InEdit(0, lm),
                         edits=(insert(split, Literal(seq)),), window_start=None)


def expand(spec, genome, geometry: Geometry) -> Design:
    """Design of the TRIP job (module docstring); every input is checked before any forward pass."""
    inp = spec.inputs
    types = list(inp["insert_types"])
    if not types or any(t not in INSERT_TYPES for t in types) or len(set(types)) != len(types):
        raise InputError(f"inputs.insert_types = {types!r}; expected distinct values among {', '.join(INSERT_TYPES)}")
    seqs = load_sequences(Path(inp["sequences"]))
    parts = plasmid_parts(Path(inp["plasmid"]), list(inp["plasmid_features"]))
    trip = load_trip(Path(inp["trip_table"]), set(seqs["promoter"]), dict(genome.lengths), Path(genome.path).name)
    keys = ["promoter", "chrom", "location", "strand"]
    sites = (trip.groupby(keys, sort=False)
             .agg(log2_exp=("log2_exp", "mean"), n_measured=("log2_exp", "size"), first_row=("row", "min"))
             .reset_index())
    orient = dict(zip(seqs["promoter"], seqs["orientation"], strict=True))
    n_t = len(types)
    table = sites.loc[sites.index.repeat(n_t)].reset_index(drop=True)
    table.insert(0, "insert_type", np.tile(np.asarray(types, dtype=object), len(sites)))
    table.insert(0, "site", np.repeat(np.arange(len(sites), dtype=np.int64), n_t))
    table["orientation"] = table["promoter"].map(orient)
    table["location"] = table["location"].astype(np.int64)
    table.insert(0, "key", [f"{r.promoter}|{r.chrom}:{r.location}|{r.strand}|{r.insert_type}"
                            for r in table.itertuples(index=False)])
    table.insert(0, "construct_id", np.arange(len(table), dtype=np.int64))
    builder = TripBuilder(
        parts=parts,
        crs=tuple(zip(seqs["promoter"], seqs["sequence"], strict=True)),
        sites=tuple((str(p), str(c), int(lo), str(s)) for p, c, lo, s in sites[keys].itertuples(index=False)),
        insert_types=tuple(types),
    )
    return Design(table=table, build=builder)


# ---------------------------------------------------------------- reduce


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Statistics of the job (see :mod:`seqbench.experiments.trip_seq.stats`)."""
    from seqbench.experiments.trip_seq.stats import reduce_trip

    return reduce_trip(predictions, design, readout=READOUT)
