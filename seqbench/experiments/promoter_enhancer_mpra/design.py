"""Bergman promoter x enhancer plasmid MPRA (ExP, K562; paper: "Enformer ... underestimates the importance of
enhancers", Fig. 5A-D; experiments-spec §5, the authors' ``prepare_bergmann_exp.py``).

Every (promoter, enhancer) pair that passes the §5.2 filters is one construct per insert type
(``inputs.insert_types``; the authors' generator makes all three): the plasmid's promoter slot
holds the 264-bp promoter fragment and its enhancer slot the enhancer fragment.

* ``min_plasmid`` (the paper's fits): ``5'P adaptor + promoter + 3'P adaptor + tGFP + barcode
  left + N x 16 + barcode right + 5'E adaptor + enhancer + 3'E adaptor``, a literal-source
  construct, N beyond its ends (the authors' ``pad_sequence``);
* ``full_plasmid``: ``plasmid_left + min_plasmid + plasmid[1838:]``, N-padded.  The authors'
  ``plasmid_left = plasmid[17:]`` (§13 B8) repeats almost the whole vector; seqbench uses
  ``plasmid[:17]`` by default (``inputs.full_plasmid_left = "fixed"``), ``"authors"`` reproduces
  theirs;
* ``aavs1``: ``min_plasmid`` inserted at the landing pad (``inputs.landing_pad``, 0-based half-open,
  split at its midpoint, the pad kept: the authors' mode "center").

``tGFP = plasmid[119:372]`` (253 bp), 0-based half-open slices of the GenBank sequence.  The
landmark (``inputs.landmark``) is the promoter midpoint, offset ``len(promoter) // 2`` into the
promoter fragment (the paper), or the enhancer midpoint (``"enhancer"``: the authors'
``bergmann_enhancercentered``, ``len(enhancer) // 2`` into the enhancer fragment); the window is
centred on it (``window_start = None``).

``inputs.promoter_only`` adds the authors' ``bergmann_promoteronly`` constructs: every promoter
*and* enhancer fragment of the fitted pairs alone in the promoter slot, ``5'P + fragment + 3'P +
tGFP`` (no barcode, no enhancer slot; ``full_plasmid``: ``left + that + plasmid[1838:]``;
``aavs1``: that at the landing pad), the landmark at the fragment's midpoint.  The authors predict
every fragment of the two fragment tables; seqbench those of the fitted pairs, the only ones with a
measured strength to compare with.

Ensemble (§0.4 exception, §13 B20): forward strand only, the authors' offsets {-64, -32, 0}.  Their
plasmid generator puts the landmark at input position ``196,608 + offset`` (§0.3 ``pad_sequence``),
which is seqbench's shift ``s = -offset`` (docs/geometry.md, §13 B19), so ``SPEC_DEFAULTS`` has
shifts ``[0, 32, 64]``: the same three model inputs as the paper's.  The ensemble is not symmetric,
so the sign matters here: ``[-64, -32, 0]`` would move the landmark to the other side of the centre.

Construct ids: the fitted pairs sorted by promoter id, then enhancer id, each with one construct
per insert type (``construct_id = pair * n_types + t``, ``t`` in the order of
``inputs.insert_types``); then the fragments alone (promoters then enhancers, each sorted by id:
``construct_id = n_pairs * n_types + fragment * n_types + t``).  The design table carries
``kind`` (``pair`` or ``alone``), ``insert_type`` and, for a pair, its filtered measurements
(``n_barcodes, DNA_input, RNA_sum, log_ratio``), so the reduce needs no second pass over the
barcode table except for the replicate check; for a fragment alone, ``fragment`` and
``fragment_kind``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import Design, MapFn, construct_means, sequential_map
from seqbench.inputs.plasmids import parse_genbank, parse_landing_pad
from seqbench.inputs.tables import InputError, read_table
from seqbench.keys import Key
from seqbench.models.base import Geometry
from seqbench.sequence.constructs import Construct, InEdit, Literal, insert

NAME = "promoter-enhancer-mpra"
TITLE = "Bergman promoter x enhancer MPRA (ExP, K562): promoter and enhancer strengths"

DATA_DIR = "Data/Bergman_compatibility_logic"
COUNTS_DEFAULT = f"{DATA_DIR}/GSE184426_ExP_1Kx1K_counts.txt"
PROMOTERS_DEFAULT = f"{DATA_DIR}/promoters.txt"
ENHANCERS_DEFAULT = f"{DATA_DIR}/enhancers.txt"
PROMOTER_CLASSES_DEFAULT = f"{DATA_DIR}/promoter_classes.txt"
ENHANCER_CLASSES_DEFAULT = f"{DATA_DIR}/enhancer_classes.txt"
PLASMID_DEFAULT = f"{DATA_DIR}/hstarr_seq.gbk"
AAVS1 = "chr19:55115750-55115780"
BASE_PROMOTER = "chr14:78352885-78353149-promoter"
BASE_ENHANCER = "chr22:17329655-17329919-enhancer"
INSERT_TYPES = ("min_plasmid", "full_plasmid", "aavs1")
LANDMARKS = ("promoter", "enhancer")
PAIR, ALONE = "pair", "alone"
PROMOTER_KIND, ENHANCER_KIND = "promoter", "enhancer"

# the plasmid's pieces (§5.3), 0-based half-open slices and adaptors
PROMOTER_5P = "TCATGTGGGACATCAAGC"
PROMOTER_3P = "GCATAGTGAGTCCACCTT"
ENHANCER_5P = "GCTAACTTCTACCCATGC"
ENHANCER_3P = "GCAAGTTAAGTAGGTCGT"
BARCODE_LEFT = "TAGATTGATCTAGAGCATGCA"
BARCODE_RIGHT = "GAGTACTGGTATGTTCA"
BARCODE_N = 16
TGFP_SLICE = (119, 372)
LEFT_FIXED_SLICE = (0, 17)  # seqbench's reading of §13 B8
LEFT_AUTHORS_START = 17  # the authors' plasmid[17:]
RIGHT_START = 1838

INPUTS: dict[str, Key] = {
    "counts": Key(str, COUNTS_DEFAULT, "barcode counts (promoter, enhancer, DNA_input, weighted_reads_rep1..4)"),
    "promoters": Key(str, PROMOTERS_DEFAULT, "promoter fragments (fragment, seq)"),
    "enhancers": Key(str, ENHANCERS_DEFAULT, "enhancer fragments (fragment, seq)"),
    "promoter_classes": Key(
        str, PROMOTER_CLASSES_DEFAULT, "promoter classes (fragment, promoter_exp_class, randomBG); read if present"
    ),
    "enhancer_classes": Key(
        str, ENHANCER_CLASSES_DEFAULT, "enhancer classes (fragment, enhancer_exp_class, randomBG); read if present"
    ),
    "plasmid": Key(str, PLASMID_DEFAULT, "hSTARR-seq_SCP1 vector, GenBank (tGFP and the flanks are cut from it)"),
    "insert_types": Key(
        list, list(INSERT_TYPES), "insert types, any of min_plasmid, full_plasmid, aavs1 (the headline reads"
        " min_plasmid when present, as the paper)", INSERT_TYPES, item=str,
    ),
    "insert_type": Key(
        str, None, "one insert type (the key before insert_types existed; kept so older specs still run):"
        " the same as insert_types = [insert_type]", INSERT_TYPES,
    ),
    "landmark": Key(
        str, "promoter", "the landmark: the promoter midpoint (the paper) or the enhancer midpoint (the authors'"
        " bergmann_enhancercentered)", LANDMARKS,
    ),
    "promoter_only": Key(
        bool, False, "also predict every promoter and enhancer fragment alone in the promoter slot (the authors'"
        " bergmann_promoteronly)",
    ),
    "full_plasmid_left": Key(
        str, "fixed", "full plasmid left flank: plasmid[:17] ('fixed') or the authors' plasmid[17:] (§13 B8)",
        ("fixed", "authors"),
    ),
    "landing_pad": Key(str, AAVS1, "aavs1 landing pad: chrom:start-end (0-based), split at its midpoint"),
    "base_promoter": Key(str, BASE_PROMOTER, "reference promoter of the treatment coding (paper: median random-BG)"),
    "base_enhancer": Key(str, BASE_ENHANCER, "reference enhancer of the treatment coding (paper: median random-BG)"),
    "min_dna_input": Key(int, 25, "keep barcodes with DNA_input above this (strictly)", min=0),
    "min_barcodes": Key(int, 2, "keep pairs with at least this many barcodes", min=1),
    "min_partners": Key(
        int, 500, "induced variation (Fig. 5D): promoters with more than this many enhancers", min=0
    ),
    "max_promoters": Key(
        int, 0, "use only the baseline and the first N-1 other promoters, sorted by id (0: all)", min=0
    ),
    "max_enhancers": Key(
        int, 0, "use only the baseline and the first N-1 other enhancers, sorted by id (0: all)", min=0
    ),
}
PATH_INPUTS = {"counts", "promoters", "enhancers", "promoter_classes", "enhancer_classes", "plasmid"}
DEFAULT_TRACKS: dict[str, Any] = {"cage": {"assay": "CAGE", "cell_type": "K562"}}
READOUT = "cage"
SPEC_DEFAULTS: dict[str, Any] = {"ensemble": {"shifts": [0, 32, 64], "strands": ["+"], "bin_window": [-1, 1]}}

COUNT_COLUMNS = ("promoter", "enhancer", "DNA_input", "weighted_reads_rep1", "weighted_reads_rep2",
                 "weighted_reads_rep3", "weighted_reads_rep4")
_NUMERIC_COUNT_COLUMNS = COUNT_COLUMNS[2:]


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class PlasmidParts:
    """The vector pieces around the fragments (upper-case sequences)."""

    tgfp: str  # plasmid[119:372]
    left: str  # plasmid[:17] (fixed) or plasmid[17:] (authors, §13 B8)
    right: str  # plasmid[1838:]


def plasmid_parts(path: Path, *, left: str = "fixed") -> PlasmidParts:
    """Cut tGFP and the full-plasmid flanks from the GenBank plasmid (see the module docstring)."""
    seq = parse_genbank(path)
    if len(seq) <= RIGHT_START:
        raise InputError(
            f"{path}: the plasmid is {len(seq)} bp; expected more than {RIGHT_START} bp (right flank plasmid[1838:])"
        )
    lf = seq[LEFT_FIXED_SLICE[0] : LEFT_FIXED_SLICE[1]] if left == "fixed" else seq[LEFT_AUTHORS_START:]
    return PlasmidParts(tgfp=seq[TGFP_SLICE[0] : TGFP_SLICE[1]], left=lf, right=seq[RIGHT_START:])


def min_plasmid(promoter: str, enhancer: str, tgfp: str, landmark: str = "promoter") -> tuple[str, int]:
    """The minimal plasmid insert and the landmark, a 0-based offset into it: the promoter midpoint
    (``landmark="promoter"``) or the enhancer midpoint (``"enhancer"``)."""
    head = PROMOTER_5P + promoter + PROMOTER_3P + tgfp + BARCODE_LEFT + "N" * BARCODE_N + BARCODE_RIGHT + ENHANCER_5P
    seq = head + enhancer + ENHANCER_3P
    if landmark == "enhancer":
        return seq, len(head) + len(enhancer) // 2
    return seq, len(PROMOTER_5P) + len(promoter) // 2


def promoter_only_insert(fragment: str, tgfp: str) -> tuple[str, int]:
    """The authors' ``bergmann_promoteronly`` insert ``5'P + fragment + 3'P + tGFP`` and its landmark
    (the fragment midpoint), a 0-based offset into it."""
    return PROMOTER_5P + fragment + PROMOTER_3P + tgfp, len(PROMOTER_5P) + len(fragment) // 2


def load_counts(path: Path) -> pd.DataFrame:
    """The barcode table: ids as strings, numeric columns finite and >= 0 (errors name the row)."""
    frame = read_table(path, COUNT_COLUMNS, what="barcode count table")
    for col in ("promoter", "enhancer"):
        missing = frame[col].isna()
        if missing.any():
            i = int(missing.to_numpy().nonzero()[0][0])
            raise InputError(f"{path}: row {i + 1}, column {col!r}: the cell is empty (or NA); expected a fragment id")
        frame[col] = frame[col].astype(str)
    for col in _NUMERIC_COUNT_COLUMNS:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values) | (values < 0)
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raw = frame[col].iloc[i]
            found = "the cell is empty (or NA)" if pd.isna(raw) else repr(str(raw))
            raise InputError(f"{path}: row {i + 1}, column {col!r}: {found}; expected a number >= 0")
        frame[col] = values.astype(np.float64)
    return frame


def load_fragments(path: Path, what: str) -> pd.DataFrame:
    """``fragment`` (unique id) and ``seq`` (A/C/G/T/N, upper-cased), in file order."""
    frame = read_table(path, ("fragment", "seq"), what=f"{what} fragment table")
    frame = frame[["fragment", "seq"]].copy()
    for i, (frag, seq) in enumerate(zip(frame["fragment"], frame["seq"], strict=True)):
        if pd.isna(frag):
            raise InputError(f"{path}: row {i + 1}, column 'fragment': the cell is empty (or NA); expected an id")
        if pd.isna(seq) or not isinstance(seq, str) or not seq.strip():
            raise InputError(f"{path}: row {i + 1}, column 'seq': the cell is empty (or NA); expected a DNA sequence")
        bad = re.search(r"[^ACGTN]", seq.strip().upper())
        if bad:
            raise InputError(
                f"{path}: row {i + 1}, column 'seq': character {bad.group()!r}; expected only A, C, G, T or N"
            )
    frame["fragment"] = frame["fragment"].astype(str)
    frame["seq"] = frame["seq"].str.strip().str.upper()
    dup = frame["fragment"].duplicated()
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        first = int((frame["fragment"] == frame["fragment"].iloc[i]).to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, column 'fragment': {frame['fragment'].iloc[i]!r} is already row {first + 1};"
            " expected unique ids"
        )
    return frame.reset_index(drop=True)


def load_classes(path: Path | None, kind: str) -> pd.DataFrame | None:
    """The optional class table (``fragment, <kind>_exp_class, randomBG``), or None when absent."""
    if path is None or str(path) in ("", ".") or not Path(path).is_file():
        return None
    col = f"{kind}_exp_class"
    frame = read_table(Path(path), ("fragment", col, "randomBG"), what=f"{kind} class table")
    frame = frame[["fragment", col, "randomBG"]].copy()
    frame["fragment"] = frame["fragment"].astype(str)
    frame["randomBG"] = frame["randomBG"].astype(str).str.strip().str.lower().isin(["true", "1"])
    return frame.drop_duplicates("fragment").rename(columns={col: f"{kind}_class", "randomBG": f"{kind}_randomBG"})


def _check_known(counts: pd.DataFrame, column: str, known: set[str], path: Path, table: Path) -> None:
    unknown = ~counts[column].isin(known)
    if unknown.any():
        i = int(unknown.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, column {column!r}: {counts[column].iloc[i]!r} is not a fragment of {table.name}"
        )


# ---------------------------------------------------------------- constructs


@dataclass(frozen=True, eq=False)
class BergmanBuilder:
    """Builds construct ``i`` (picklable: shipped to the materialization tasks).

    ``pair_promoter[k]``/``pair_enhancer[k]`` index ``promoter_seqs``/``enhancer_seqs``;
    ``alone_kind[f]`` (0 promoter, 1 enhancer) and ``alone_index[f]`` name fragment ``f`` alone.
    Construct ``i`` is item ``i // n_types`` (pairs first, then fragments alone) in insert type
    ``insert_types[i % n_types]``.
    """

    promoter_ids: tuple[str, ...]
    promoter_seqs: tuple[str, ...]
    enhancer_ids: tuple[str, ...]
    enhancer_seqs: tuple[str, ...]
    pair_promoter: np.ndarray
    pair_enhancer: np.ndarray
    insert_types: tuple[str, ...]
    parts: PlasmidParts
    landing_pad: tuple[str, int, int] | None = None
    landmark: str = "promoter"
    alone_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    alone_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    def __call__(self, construct_id: int) -> Construct:
        item, t = divmod(int(construct_id), len(self.insert_types))
        itype = self.insert_types[t]
        n_pairs = len(self.pair_promoter)
        if item < n_pairs:
            p, e = int(self.pair_promoter[item]), int(self.pair_enhancer[item])
            key = f"{self.promoter_ids[p]}|{self.enhancer_ids[e]}|{itype}"
            seq, lm = min_plasmid(self.promoter_seqs[p], self.enhancer_seqs[e], self.parts.tgfp, self.landmark)
        else:
            f = item - n_pairs
            k = int(self.alone_index[f])
            ids, seqs = (self.promoter_ids, self.promoter_seqs) if self.alone_kind[f] == 0 else (
                self.enhancer_ids, self.enhancer_seqs)
            key = f"{ids[k]}|alone|{itype}"
            seq, lm = promoter_only_insert(seqs[k], self.parts.tgfp)
        if itype == "min_plasmid":
            return Construct(key=key, literal=seq, landmark=lm)
        if itype == "full_plasmid":
            full = self.parts.left + seq + self.parts.right
            return Construct(key=key, literal=full, landmark=len(self.parts.left) + lm)
        assert self.landing_pad is not None
        chrom, start, end = self.landing_pad
        split = (start + end) // 2
        return Construct(key=key, chrom=chrom, landmark=InEdit(0, lm), edits=(insert(split, Literal(seq)),))


def _limit(levels: list[str], base: str, n: int) -> list[str]:
    if not n or len(levels) <= n:
        return levels
    others = [x for x in levels if x != base][: max(n - 1, 0)]
    return sorted([base, *others]) if base in levels else levels[:n]


def filtered_pairs(spec) -> tuple[pd.DataFrame, dict[str, int], pd.DataFrame]:
    """Read and filter the barcode table: ``(pairs, filter counts, raw counts)`` (see the stats module)."""
    from seqbench.experiments.promoter_enhancer_mpra.stats import filter_barcodes

    inp = spec.inputs
    counts = load_counts(Path(inp["counts"]))
    pairs, stats = filter_barcodes(counts, min_dna_input=inp["min_dna_input"], min_barcodes=inp["min_barcodes"])
    return pairs, stats, counts


def expand(spec, genome, geometry: Geometry) -> Design:
    """Design: one construct per filtered (promoter, enhancer) pair."""
    inp = spec.inputs
    counts_path = Path(inp["counts"])
    if inp["min_barcodes"] < 1:
        raise InputError(f"inputs.min_barcodes = {inp['min_barcodes']}; expected >= 1")
    promoters = load_fragments(Path(inp["promoters"]), "promoter")
    enhancers = load_fragments(Path(inp["enhancers"]), "enhancer")
    pairs, _, counts = filtered_pairs(spec)
    _check_known(counts, "promoter", set(promoters["fragment"]), counts_path, Path(inp["promoters"]))
    _check_known(counts, "enhancer", set(enhancers["fragment"]), counts_path, Path(inp["enhancers"]))
    if pairs.empty:
        raise InputError(
            f"{counts_path}: no (promoter, enhancer) pair passes the filters (DNA_input > {inp['min_dna_input']},"
            f" RNA_sum > 0, >= {inp['min_barcodes']} barcodes)"
        )
    for kind, base in (("promoter", inp["base_promoter"]), ("enhancer", inp["base_enhancer"])):
        if not (pairs[kind] == base).any():
            raise InputError(
                f"inputs.base_{kind} = {base!r} is not the {kind} of any pair passing the filters in"
                f" {counts_path.name};"
                f" expected one of the {pairs[kind].nunique()} filtered {kind}s (e.g. {sorted(pairs[kind])[0]!r})"
            )
    keep_p = _limit(sorted(pairs["promoter"].unique()), inp["base_promoter"], inp["max_promoters"])
    keep_e = _limit(sorted(pairs["enhancer"].unique()), inp["base_enhancer"], inp["max_enhancers"])
    pairs = pairs[pairs["promoter"].isin(keep_p) & pairs["enhancer"].isin(keep_e)]
    pairs = pairs.sort_values(["promoter", "enhancer"]).reset_index(drop=True)

    types = list(inp["insert_types"])
    if inp.get("insert_type") is not None:  # an older spec's single insert type
        if types not in (list(INSERT_TYPES), [inp["insert_type"]]):
            raise InputError(f"inputs.insert_type = {inp['insert_type']!r} and inputs.insert_types = {types!r} are"
                             " both set; expected one of them (insert_types = [...])")
        types = [inp["insert_type"]]
    if not types or len(set(types)) != len(types):
        raise InputError(f"inputs.insert_types = {types!r}; expected distinct values among {', '.join(INSERT_TYPES)}")
    parts = plasmid_parts(Path(inp["plasmid"]), left=inp["full_plasmid_left"])
    pad = None
    if "aavs1" in types:
        pad = parse_landing_pad(inp["landing_pad"])
        genome.check_chrom(pad[0], where="inputs.landing_pad")
        if pad[2] > genome.lengths[pad[0]]:
            raise InputError(f"inputs.landing_pad = {inp['landing_pad']!r} is off {pad[0]} "
                             f"(length {genome.lengths[pad[0]]})")

    p_ids = sorted(pairs["promoter"].unique())
    e_ids = sorted(pairs["enhancer"].unique())
    p_seq = dict(zip(promoters["fragment"], promoters["seq"], strict=True))
    e_seq = dict(zip(enhancers["fragment"], enhancers["seq"], strict=True))
    p_code = pd.Categorical(pairs["promoter"], categories=p_ids).codes.astype(np.int32)
    e_code = pd.Categorical(pairs["enhancer"], categories=e_ids).codes.astype(np.int32)
    n_t, n_pairs = len(types), len(pairs)
    alone_kind = np.zeros(0, dtype=np.int8)
    alone_index = np.zeros(0, dtype=np.int32)
    if inp["promoter_only"]:
        alone_kind = np.repeat(np.array([0, 1], dtype=np.int8), [len(p_ids), len(e_ids)])
        alone_index = np.concatenate([np.arange(len(p_ids)), np.arange(len(e_ids))]).astype(np.int32)
    n_alone = len(alone_kind)
    none = np.full(n_alone * n_t, -1, dtype=np.int32)  # a fragment alone has no pair: NaN in these columns
    alone_ids = np.array([*p_ids, *e_ids], dtype=object)[: n_alone]
    alone_kinds = np.array([PROMOTER_KIND, ENHANCER_KIND], dtype=object)[alone_kind]
    table = pd.DataFrame(
        {
            "construct_id": np.arange((n_pairs + n_alone) * n_t, dtype=np.int64),
            "kind": pd.Categorical(np.repeat([PAIR, ALONE], [n_pairs * n_t, n_alone * n_t]), categories=[PAIR, ALONE]),
            "insert_type": pd.Categorical.from_codes(
                np.tile(np.arange(n_t, dtype=np.int8), n_pairs + n_alone), categories=types
            ),
            "promoter": pd.Categorical.from_codes(np.concatenate([np.repeat(p_code, n_t), none]), p_ids),
            "enhancer": pd.Categorical.from_codes(np.concatenate([np.repeat(e_code, n_t), none]), e_ids),
            "fragment": np.concatenate([np.full(n_pairs * n_t, "", dtype=object), np.repeat(alone_ids, n_t)]),
            "fragment_kind": np.concatenate([np.full(n_pairs * n_t, "", dtype=object), np.repeat(alone_kinds, n_t)]),
        }
    )
    for col, dtype in (("n_barcodes", np.int64), ("DNA_input", np.float64), ("RNA_sum", np.float64),
                       ("log_ratio", np.float64)):
        vals = np.repeat(pairs[col].to_numpy(dtype), n_t)
        fill = np.zeros(n_alone * n_t, dtype) if dtype is np.int64 else np.full(n_alone * n_t, np.nan)
        table[col] = np.concatenate([vals, fill])
    builder = BergmanBuilder(
        promoter_ids=tuple(p_ids),
        promoter_seqs=tuple(p_seq[i] for i in p_ids),
        enhancer_ids=tuple(e_ids),
        enhancer_seqs=tuple(e_seq[i] for i in e_ids),
        pair_promoter=p_code,
        pair_enhancer=e_code,
        insert_types=tuple(types),
        parts=parts,
        landing_pad=pad,
        landmark=inp["landmark"],
        alone_kind=alone_kind,
        alone_index=alone_index,
    )
    return Design(table=table, build=builder)


# ---------------------------------------------------------------- reduce and report


def pair_predictions(predictions: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """The design rows with ``pred`` (and ``dnase``): each track's mean over the members, natural scale."""
    cols = [c for c in (READOUT, "dnase") if c in predictions.columns]
    rows = construct_means(predictions, design, cols).rename(columns={READOUT: "pred"})
    for col in ("promoter", "enhancer", "insert_type", "kind"):
        if col in rows.columns:
            rows[col] = rows[col].astype(str)
    return rows


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Fit the §5.4 models per insert type (see :mod:`seqbench.experiments.promoter_enhancer_mpra.stats`)."""
    from seqbench.experiments.promoter_enhancer_mpra.stats import (
        filter_barcodes,
        reduce_bergman,
        replicate_r2,
    )

    inp = spec.inputs
    rows = pair_predictions(predictions, design)
    pairs = rows[rows["kind"] == PAIR].drop(columns=["kind", "fragment", "fragment_kind"]).reset_index(drop=True)
    alone = rows[rows["kind"] == ALONE][["fragment", "fragment_kind", "insert_type", "pred"]].reset_index(drop=True)
    counts = load_counts(Path(inp["counts"]))
    _, fstats = filter_barcodes(counts, min_dna_input=inp["min_dna_input"], min_barcodes=inp["min_barcodes"])
    results = reduce_bergman(
        pairs,
        alone,
        base_promoter=inp["base_promoter"],
        base_enhancer=inp["base_enhancer"],
        landmark=inp["landmark"],
        min_partners=inp["min_partners"],
        filter_counts=fstats,
        replicate=replicate_r2(counts, min_dna_input=inp["min_dna_input"]),
        map_fn=map_fn,
    )
    for kind, key in (("promoter", "promoter_classes"), ("enhancer", "enhancer_classes")):
        classes = load_classes(Path(inp[key]) if inp[key] else None, kind)
        if classes is not None:
            by_insert = {
                t: replace(r, **{f"{kind}s": getattr(r, f"{kind}s").merge(
                    classes.rename(columns={"fragment": kind}), on=kind, how="left")})
                for t, r in results.by_insert.items()
            }
            results = replace(results, by_insert=by_insert)
    return results
