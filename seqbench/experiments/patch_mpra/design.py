"""Patch-MPRA (Hong & Cohen, K562): 676 promoters at 4 genomic landing pads (paper Fig. S17-S19;
experiments-spec §8.3, the authors' ``prepare_cohen_patchmpra.py``).

Inputs (under ``Data/Cohen_genomic_environments/`` by default; tab-separated tables)
-----------------------------------------------------------------------------------
* ``mscarlet``: the mScarlet reporter, FASTA; the first line (the header) is skipped and the rest
  joined and upper-cased, as the authors read it.
* ``landing_pads``: ``Hong`` (landing-pad name) and ``Liftover`` (``"chrN:start-end"`` with
  thousands-separator commas, e.g. ``"chr1:1,234,567-1,234,600"``).  Rows with an empty cell are
  dropped (the authors' ``.dropna()``).  The string is parsed once, here, into 0-based half-open
  coordinates.  Its convention (``inputs.landing_pad_coordinates``):

  - ``"one_based"`` (default): a UCSC position string (what the liftOver column is), 1-based and
    inclusive at both ends: ``[start - 1, end)``;
  - ``"authors"``: the two numbers taken as 0-based half-open ``[start, end)``, as the authors'
    ``kipoiseq.Interval(start, end)`` does (it moves the split point by at most 1 bp).

* ``expression``: ``oligo_id, LP, mean_exp`` (the measured log expression of a promoter at a pad);
  one row per (oligo_id, LP).
* ``sequences``: ``oligo_id, sequence, strand``.  The sequence is inserted as given (the authors
  compute an orientation from ``strand`` but never use it), upper-cased; only A, C, G, T, N.
* ``enhancer``: the fixed 125-bp enhancer of the cassette (default: the authors' string).

Constructs
----------
One construct per measured (promoter, landing pad): the cassette ``enhancer + CRS + mScarlet`` is
inserted, forward, immediately before genome position ``m = (start + end) // 2`` of the pad (the
authors' mode "center": the pad itself is kept, split at its midpoint).  The landmark is the CRS
midpoint, ``len(enhancer) + len(CRS) // 2`` into the cassette; the window is centred on it.

Ensemble (§0.4 exception, §13 B19): forward strand only and the authors' offsets {-64, -32, 0},
which put the landmark at input position ``L/2 + offset`` (their ``shift_five_end = ideal +
offset``).  In seqbench's single convention (docs/geometry.md) a member with shift ``s`` has its
landmark at ``L/2 - s``, so offset ``o`` is shift ``s = -o`` and ``SPEC_DEFAULTS`` holds shifts
``[0, 32, 64]``: the same three model inputs as the paper's.

Readout: K562 CAGE, the 3-bin sum around the landmark's bin (``_landmark_sum``), averaged over the
members in natural scale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import Design, MapFn, construct_means, sequential_map
from seqbench.inputs.tables import InputError, open_input, read_table
from seqbench.keys import Key
from seqbench.models.base import Geometry
from seqbench.sequence.constructs import Construct, InEdit, Literal, insert

NAME = "patch-mpra"
TITLE = "Patch-MPRA (Hong & Cohen, K562): promoters x genomic landing pads"

DATA_DIR = "Data/Cohen_genomic_environments"
MSCARLET_DEFAULT = f"{DATA_DIR}/mScarlet.txt"
LANDING_PADS_DEFAULT = f"{DATA_DIR}/landing_pad_locations.tsv"
EXPRESSION_DEFAULT = f"{DATA_DIR}/patchMPRA_expression.tsv"
SEQUENCES_DEFAULT = f"{DATA_DIR}/sequences.tsv"
#: the fixed 125-bp enhancer of the authors' cassette (§8.3)
ENHANCER = (
    "TGCCCCCCTTCTTCCTATGTCTGATGGAGTTTCCTCTCTAAGTAGCCATTTTATTCTGCTGACTCACCCTCTAACTCCCGGTCTTATTCC"
    "ATCCTGCCTCAGGGTCTGTGGTGTAGTCATAGCAC"
)
COORDINATES = ("one_based", "authors")

INPUTS: dict[str, Key] = {
    "mscarlet": Key(str, MSCARLET_DEFAULT, "mScarlet reporter, FASTA (first line skipped)"),
    "landing_pads": Key(str, LANDING_PADS_DEFAULT, "landing pads (Hong = name, Liftover = chrN:start-end, commas)"),
    "expression": Key(str, EXPRESSION_DEFAULT, "measurements (oligo_id, LP, mean_exp: log expression)"),
    "sequences": Key(str, SEQUENCES_DEFAULT, "promoter sequences (oligo_id, sequence, strand)"),
    "enhancer": Key(str, ENHANCER, "the fixed enhancer 5' of the promoter in the cassette (A/C/G/T/N)"),
    "landing_pad_coordinates": Key(
        str, "one_based",
        "Liftover strings: 'one_based' (UCSC, 1-based inclusive: [start-1, end)) or 'authors' ([start, end))",
        COORDINATES,
    ),
}
PATH_INPUTS = {"mscarlet", "landing_pads", "expression", "sequences"}
DEFAULT_TRACKS: dict[str, Any] = {"cage": {"assay": "CAGE", "cell_type": "K562"}}
READOUT = "cage"
SPEC_DEFAULTS: dict[str, Any] = {"ensemble": {"shifts": [0, 32, 64], "strands": ["+"], "bin_window": [-1, 1]}}

_DNA = re.compile(r"[^ACGTN]")
_LIFTOVER = re.compile(r"\s*([^:\s]+):([\d,]+)-([\d,]+)\s*")


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class LandingPad:
    """A landing pad: ``chrom[start:end)``, 0-based half-open; the cassette goes before ``split``."""

    name: str
    chrom: str
    start: int
    end: int

    @property
    def split(self) -> int:
        """``(start + end) // 2``: the cassette is inserted immediately before this 0-based position."""
        return (self.start + self.end) // 2


def parse_liftover(text: Any, *, where: str, coordinates: str = "one_based") -> tuple[str, int, int]:
    """``"chrN:start-end"`` (thousands-separator commas allowed) -> ``(chrom, start, end)``, 0-based half-open.

    ``coordinates="one_based"``: the string is a UCSC position (1-based, both ends inclusive), so
    ``chr1:1,001-1,010`` is ``("chr1", 1000, 1010)``.  ``"authors"``: the numbers are taken as they
    are (``("chr1", 1001, 1010)``).  ``where`` starts the one-line error (file, row, column).
    """
    expected = (
        "expected chrN:start-end with start <= end (1-based, inclusive; commas allowed),"
        " e.g. 'chr1:1,234,567-1,234,600'"
    )
    if coordinates == "authors":
        expected = "expected chrN:start-end with start < end (0-based, half-open; commas allowed)"
    m = _LIFTOVER.fullmatch(text) if isinstance(text, str) else None
    if m is None or any(not re.fullmatch(r"\d{1,3}(,\d{3})*|\d+", g) for g in m.groups()[1:]):
        raise InputError(f"{where}: found {text!r}; {expected}")
    chrom, a, b = m.group(1), int(m.group(2).replace(",", "")), int(m.group(3).replace(",", ""))
    start = a - 1 if coordinates == "one_based" else a
    if (coordinates == "one_based" and (a < 1 or b < a)) or (coordinates == "authors" and b <= a):
        raise InputError(f"{where}: found {text!r}; {expected}")
    return chrom, start, b


def load_landing_pads(path: Path, *, coordinates: str = "one_based") -> list[LandingPad]:
    """The landing pads (sorted by name, as the authors sort them); rows with an empty cell are dropped."""
    frame = read_table(path, ("Hong", "Liftover"), what="landing-pad table")
    pads: list[LandingPad] = []
    seen: dict[str, int] = {}
    for i, (name, text) in enumerate(zip(frame["Hong"], frame["Liftover"], strict=True)):
        if frame.iloc[i].isna().any():  # the authors' .dropna() (over every column)
            continue
        chrom, start, end = parse_liftover(
            text, where=f"{path}: row {i + 1}, column 'Liftover'", coordinates=coordinates
        )
        name = str(name)
        if name in seen:
            raise InputError(
                f"{path}: row {i + 1}, column 'Hong': {name!r} is already row {seen[name] + 1}; expected unique names"
            )
        seen[name] = i
        pads.append(LandingPad(name, chrom, start, end))
    if not pads:
        raise InputError(f"{path}: landing-pad table has no complete row (Hong, Liftover)")
    return sorted(pads, key=lambda p: p.name)


def load_sequences(path: Path) -> dict[str, str]:
    """``oligo_id -> sequence`` (upper-cased; only A, C, G, T, N; unique ids), in file order."""
    frame = read_table(path, ("oligo_id", "sequence", "strand"), what="promoter sequence table")
    out: dict[str, str] = {}
    rows: dict[str, int] = {}
    for i, (oid, seq) in enumerate(zip(frame["oligo_id"], frame["sequence"], strict=True)):
        if pd.isna(oid):
            raise InputError(f"{path}: row {i + 1}, column 'oligo_id': the cell is empty (or NA); expected an id")
        if pd.isna(seq) or not isinstance(seq, str) or not seq.strip():
            raise InputError(
                f"{path}: row {i + 1}, column 'sequence': the cell is empty (or NA); expected a DNA sequence"
            )
        s = seq.strip().upper()
        bad = _DNA.search(s)
        if bad:
            raise InputError(
                f"{path}: row {i + 1}, column 'sequence': character {bad.group()!r} at position {bad.start() + 1};"
                " expected only A, C, G, T or N"
            )
        key = str(oid)
        if key in out:
            raise InputError(
                f"{path}: row {i + 1}, column 'oligo_id': {key!r} is already row {rows[key] + 1}; expected unique ids"
            )
        out[key], rows[key] = s, i
    return out


def load_expression(path: Path, oligos: set[str], pads: set[str], sequences: Path, landing_pads: Path) -> pd.DataFrame:
    """``oligo_id, LP, mean_exp`` (finite), every oligo and pad known, one row per pair; file order."""
    frame = read_table(path, ("oligo_id", "LP", "mean_exp"), what="Patch-MPRA expression table")
    frame = frame[["oligo_id", "LP", "mean_exp"]].copy()
    for col, known, table in (("oligo_id", oligos, sequences), ("LP", pads, landing_pads)):
        empty = frame[col].isna()
        if empty.any():
            i = int(empty.to_numpy().nonzero()[0][0])
            raise InputError(f"{path}: row {i + 1}, column {col!r}: the cell is empty (or NA); expected an id")
        frame[col] = frame[col].astype(str)
        unknown = ~frame[col].isin(known)
        if unknown.any():
            i = int(unknown.to_numpy().nonzero()[0][0])
            raise InputError(
                f"{path}: row {i + 1}, column {col!r}: found {frame[col].iloc[i]!r}; expected one of the"
                f" {len(known)} {'promoters' if col == 'oligo_id' else 'landing pads'} of {table.name}"
            )
    values = pd.to_numeric(frame["mean_exp"], errors="coerce")
    bad = values.isna() | ~np.isfinite(values)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raw = frame["mean_exp"].iloc[i]
        found = "the cell is empty (or NA)" if pd.isna(raw) else f"found {str(raw)!r}"
        raise InputError(f"{path}: row {i + 1}, column 'mean_exp': {found}; expected a finite number")
    frame["mean_exp"] = values.astype(np.float64)
    dup = frame.duplicated(["oligo_id", "LP"])
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        o, lp = frame["oligo_id"].iloc[i], frame["LP"].iloc[i]
        first = int(((frame["oligo_id"] == o) & (frame["LP"] == lp)).to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, columns 'oligo_id', 'LP': ({o!r}, {lp!r}) is already row {first + 1};"
            " expected one measurement per promoter and landing pad"
        )
    return frame.reset_index(drop=True)


def load_mscarlet(path: Path) -> str:
    """The reporter: every line after the first, joined, upper-cased; only A, C, G, T, N."""
    with open_input(Path(path), "mScarlet FASTA") as f:
        raw = f.read()
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: mScarlet FASTA is not UTF-8 text ({exc.reason}); expected FASTA") from exc
    seq = "".join(x.strip() for x in lines[1:]).upper()
    if not seq:
        raise InputError(f"{path}: mScarlet FASTA has no sequence after its first line; expected FASTA")
    bad = _DNA.search(seq)
    if bad:
        n = 0
        for k, line in enumerate(lines[1:]):
            if bad.start() < n + len(line.strip()):
                raise InputError(
                    f"{path}: line {k + 2}: character {bad.group()!r}; expected only A, C, G, T or N"
                )
            n += len(line.strip())
    return seq


def check_enhancer(seq: str) -> str:
    s = seq.strip().upper()
    bad = _DNA.search(s)
    if not s or bad:
        found = "an empty sequence" if not s else f"character {bad.group()!r}"  # type: ignore[union-attr]
        raise InputError(f"inputs.enhancer: {found}; expected a DNA sequence of A, C, G, T or N")
    return s


def cassette(enhancer: str, crs: str, reporter: str) -> tuple[str, int]:
    """``enhancer + CRS + reporter`` and the landmark (CRS midpoint), a 0-based offset into it."""
    return enhancer + crs + reporter, len(enhancer) + len(crs) // 2


# ---------------------------------------------------------------- constructs


@dataclass(frozen=True, eq=False)
class PatchBuilder:
    """Builds construct ``i`` (picklable): promoter ``pair_oligo[i]`` at pad ``pair_pad[i]``."""

    oligo_ids: tuple[str, ...]
    oligo_seqs: tuple[str, ...]
    pads: tuple[LandingPad, ...]
    pair_oligo: np.ndarray
    pair_pad: np.ndarray
    enhancer: str
    reporter: str

    def __call__(self, construct_id: int) -> Construct:
        o, p = int(self.pair_oligo[construct_id]), int(self.pair_pad[construct_id])
        pad = self.pads[p]
        seq, lm = cassette(self.enhancer, self.oligo_seqs[o], self.reporter)
        return Construct(
            key=f"{self.oligo_ids[o]}|{pad.name}",
            chrom=pad.chrom,
            landmark=InEdit(0, lm),
            edits=(insert(pad.split, Literal(seq)),),
        )


def expand(spec, genome, geometry: Geometry) -> Design:
    """Design: one construct per measured (promoter, landing pad), sorted by oligo_id then pad name."""
    inp = spec.inputs
    pads_path, seq_path, expr_path = Path(inp["landing_pads"]), Path(inp["sequences"]), Path(inp["expression"])
    pads = load_landing_pads(pads_path, coordinates=inp["landing_pad_coordinates"])
    for pad in pads:
        where = f"{pads_path}: landing pad {pad.name!r}, column 'Liftover'"
        genome.check_chrom(pad.chrom, where=where)
        if pad.end > genome.lengths[pad.chrom]:
            raise InputError(
                f"{where}: found {pad.chrom}:{pad.start}-{pad.end} (0-based); expected an interval within"
                f" {pad.chrom} (length {genome.lengths[pad.chrom]})"
            )
    seqs = load_sequences(seq_path)
    expr = load_expression(expr_path, set(seqs), {p.name for p in pads}, seq_path, pads_path)
    reporter = load_mscarlet(Path(inp["mscarlet"]))
    enhancer = check_enhancer(inp["enhancer"])

    expr = expr.sort_values(["oligo_id", "LP"], kind="stable").reset_index(drop=True)
    o_ids = sorted(expr["oligo_id"].unique())
    pad_names = [p.name for p in pads]
    o_code = pd.Categorical(expr["oligo_id"], categories=o_ids).codes.astype(np.int32)
    p_code = pd.Categorical(expr["LP"], categories=pad_names).codes.astype(np.int32)
    table = pd.DataFrame(
        {
            "construct_id": np.arange(len(expr), dtype=np.int64),
            "oligo_id": pd.Categorical.from_codes(o_code, o_ids),
            "LP_name": pd.Categorical.from_codes(p_code, pad_names),
            "mean_exp": expr["mean_exp"].to_numpy(np.float64),
        }
    )
    builder = PatchBuilder(
        oligo_ids=tuple(o_ids),
        oligo_seqs=tuple(seqs[i] for i in o_ids),
        pads=tuple(pads),
        pair_oligo=o_code,
        pair_pad=p_code,
        enhancer=enhancer,
        reporter=reporter,
    )
    return Design(table=table, build=builder)


# ---------------------------------------------------------------- reduce


def pair_predictions(predictions: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """The design rows with ``pred``: the readout's mean over the members (offsets), natural scale."""
    pairs = construct_means(predictions, design, [READOUT]).rename(columns={READOUT: "pred"})
    pairs["oligo_id"] = pairs["oligo_id"].astype(str)
    pairs["LP_name"] = pairs["LP_name"].astype(str)
    return pairs


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """The §8.3 statistics (see :mod:`seqbench.experiments.patch_mpra.stats`)."""
    from seqbench.experiments.patch_mpra.stats import reduce_patch

    return reduce_patch(pair_predictions(predictions, design), map_fn=map_fn)
