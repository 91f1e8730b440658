"""Weingarten-Gabbay (Segal) promoter MPRA at AAVS1, TATA shift, occlusion and local ISM
(paper: "Deep models, particularly Enformer, correctly predict promoter strength …", Fig. 4A–C;
experiments-spec §3).

Every 164-bp fragment (CRS) of the library is inserted, with its reporter, into the AAVS1 landing
pad and read at the fragment midpoint:

* ``minimal`` insert (default): ``CRS + egfp`` with ``egfp = revcomp(plasmid[4189:4909])``
  (720 bp); landmark = offset ``len(CRS) // 2`` into the insert (the fragment midpoint);
* ``full``: the plasmid's homology-arm-to-arm insert ``full_insert = plasmid[658:6742]``
  (6,084 bp) with its 164-bp N-region ``full_insert[4658:4822]`` replaced by the CRS; landmark
  ``4658 + len(CRS) // 2``;
* ``full_rv``: the reverse complement of ``full``; landmark ``(6084 - 4822) + len(CRS) // 2``
  (the authors' value; the exact image of the ``full`` landmark is one base to the left).

The landing pad (``inputs.landing_pad``, default AAVS1 ``chr19:55115750-55115780``, 0-based
half-open) is split at its midpoint ``(start + end) // 2`` and the insert goes in there (the pad
itself is kept, the authors' mode "center").  The model window is centred on the landmark
(``window_start = None``), then shifted by the ensemble (docs/geometry.md: seqbench's shift ``s``
is the authors' offset ``-s``; the member set is the same).

Besides one construct per (oligo, insert type), the job holds the variants of one baseline
oligo (the ``variant_background`` TATA-shift oligo with ``TATA_position ==
baseline_tata_position``, the paper's RPLP0 at −11), all in the ``variant_insert``:

* ``baseline``: the baseline itself;
* ``occlusion``: for every TATA-shift oligo of that background, the baseline with an N block
  (``len(tata_motif)`` bp) where that oligo carries its moved TATA (see
  :func:`locate_moving_element`);
* ``ism``: every position of ``[ism_start, ism_end)`` of the baseline (0-based positions in the
  fragment) × all three alternative bases (the authors generate only two, §13 B4: fixed here).

Then the **background ISM** of the authors' separate pipeline (``prepare_segal_ism.py``,
experiments-spec §3.5), on every background they used, in their order:

* every core-configuration background (``Configuration_summary == 0``, table order), then
* every TF-screen background (``Motif_info == "-"``, table order), then
* the oligos of ``background_ism_oligos`` (the authors': 12885, labelled ``DNAse_example``);

an oligo already listed is not ISM'd twice.  Each background gets every position of
``[background_ism_start, background_ism_end)`` (0-based fragment positions; the authors: the
whole 164-nt fragment) × the three alternatives × each of ``background_ism_insert_types`` (the
authors: full, full_rv, minimal), then, after all backgrounds, the unmutated backgrounds (one per
background × insert type) that the log2 fold changes are taken against.

Construct ids: the oligo block first, oligo-major then insert type (``id = i * n_types + t``),
then the variant block (baseline, ISM position-major in the order alt = ACGT[(idx(ref)+i) % 4],
i = 1..3, occlusion by TATA position), then the background ISM block in the authors' order:
background, position, alternative (``ACGT[(idx(ref)+i) % 4]``, i = 1..3), insert type; then
the unmutated backgrounds, background-major then insert type.

Readout: the track ``cage`` (K562 CAGE), the 3-bin landmark sum of each member, averaged over
the members in natural scale (ISM and occlusion too; the authors' fixed bins 446..448 are
discussed in docs/experiments/promoter-mpra.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import Design, MapFn, sequential_map
from seqbench.inputs.plasmids import parse_genbank, parse_landing_pad
from seqbench.inputs.tables import InputError, read_table, require_int_column
from seqbench.keys import Key
from seqbench.models.base import Geometry
from seqbench.sequence.codes import SequenceError, decode, encode, reverse_complement
from seqbench.sequence.constructs import Construct, InEdit, Literal, insert

NAME = "promoter-mpra"
TITLE = "Weingarten-Gabbay promoter MPRA at AAVS1: promoter strength, TATA shift, occlusion, ISM"

DATA_DIR = "Data/Segal_promoter"
OLIGOS_DEFAULT = f"{DATA_DIR}/GSM3323461_oligos_measurements_processed_data.tab"
NATIVE_DEFAULT = f"{DATA_DIR}/native_core_promoters.tsv"
PIC_DEFAULT = f"{DATA_DIR}/pic_binding_sites.tsv"
CORE_DEFAULT = f"{DATA_DIR}/synthetic_configurations_of_core_promoters.tsv"
TATA_DEFAULT = f"{DATA_DIR}/tata_inr_shift.tsv"
TF_DEFAULT = f"{DATA_DIR}/tf_activity_screen.tsv"
PLASMID_DEFAULT = f"{DATA_DIR}/PZDONOR EF1alpha Cherry ACTB GFP synthetic core promoter library (Ns).gbk"
AAVS1 = "chr19:55115750-55115780"

#: plasmid slices of the authors' recipe (experiments-spec §3.2), 0-based half-open
FULL_INSERT_SLICE = (658, 6742)
EGFP_SLICE = (4189, 4909)
N_REGION = (4658, 4822)  # in full_insert coordinates
FULL_INSERT_LENGTH = FULL_INSERT_SLICE[1] - FULL_INSERT_SLICE[0]  # 6084
INSERT_TYPES = ("minimal", "full", "full_rv")
MEASURED_COLUMNS = ("GFP_RFP_ratio(mean exp)", "mean_exp")

INPUTS: dict[str, Key] = {
    "oligos": Key(str, OLIGOS_DEFAULT, "oligo table (Oligo_index, Oligo_sequence), relative to data_root"),
    "native": Key(str, NATIVE_DEFAULT, "native core promoters (Oligo_index, measured expression)"),
    "pic": Key(str, PIC_DEFAULT, "PIC binding sites (Oligo_index, measured, CP_Orientation, TFIIB_ID)"),
    "core_configs": Key(str, CORE_DEFAULT, "synthetic core-promoter configurations (Background, positions)"),
    "tata_shift": Key(str, TATA_DEFAULT, "TATA/Inr shift oligos (Background, TATA_position)"),
    "tf_screen": Key(str, TF_DEFAULT, "TF activity screen (Background, Motif_info)"),
    "plasmid": Key(str, PLASMID_DEFAULT, "library plasmid, GenBank (egfp and the full insert are cut from it)"),
    "landing_pad": Key(str, AAVS1, "landing pad chrom:start-end (0-based, half-open), split at its midpoint"),
    "insert_types": Key(list, ["minimal"], "insert types, any of minimal, full, full_rv", INSERT_TYPES, item=str),
    "oligo_scope": Key(str, "all", "oligos predicted: the whole oligo table or only those in a set", ("all", "used")),
    "ism": Key(bool, True, "add the local ISM variants of the baseline oligo"),
    "occlusion": Key(bool, True, "add the occlusion variants (N block at each shifted TATA position)"),
    "variant_background": Key(str, "RPLP0", "TATA-shift background of the baseline (name before the first '_')"),
    "baseline_tata_position": Key(int, -11, "TATA_position of the baseline oligo in that background"),
    "variant_insert": Key(str, "minimal", "insert type of the baseline, ISM and occlusion constructs", INSERT_TYPES),
    "ism_start": Key(int, 46, "first fragment position mutated (0-based)", min=0),
    "ism_end": Key(int, 86, "end of the mutated positions (exclusive): 46..85 by default", min=1),
    "tata_motif": Key(
        str, "TATATAAG", "sequence that locates the moved TATA in a TATA-shift oligo; its length is the N block"
    ),
    "background_ism": Key(
        bool, True, "add the ISM of every background (core-configuration, TF-screen, background_ism_oligos; §3.5)"
    ),
    "background_ism_oligos": Key(
        list, [12885], "oligos ISM'd after the core and TF backgrounds (the authors': 12885, 'DNAse_example')",
        item=int, min=0,
    ),
    "background_ism_insert_types": Key(
        list, ["full", "full_rv", "minimal"], "insert types of the background ISM constructs (the authors': all three)",
        INSERT_TYPES, item=str,
    ),
    "background_ism_start": Key(int, 0, "first fragment position mutated in each background (0-based)", min=0),
    "background_ism_end": Key(
        int, 164, "end of the mutated positions (exclusive; the default is the library's whole 164-nt fragment)",
        min=1,
    ),
}
PATH_INPUTS = {"oligos", "native", "pic", "core_configs", "tata_shift", "tf_screen", "plasmid"}
DEFAULT_TRACKS: dict[str, Any] = {"cage": {"assay": "CAGE", "cell_type": "K562"}}
READOUT = "cage"

ACGT = "ACGT"
#: the authors' extra ISM background and its label (``prepare_segal_ism.py``)
DNASE_EXAMPLE = (12885, "DNAse_example")


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class PlasmidParts:
    """The pieces the constructs use (sequences, upper-case)."""

    egfp: str  # revcomp(plasmid[4189:4909])
    full_insert: str  # plasmid[658:6742], with its N-region at [4658, 4822)


def plasmid_parts(path: Path) -> PlasmidParts:
    """Cut egfp and the full insert from the plasmid; the N-region must be where the recipe says."""
    seq = parse_genbank(path)
    if len(seq) < FULL_INSERT_SLICE[1]:
        raise InputError(
            f"{path}: the plasmid is {len(seq)} bp; expected at least {FULL_INSERT_SLICE[1]} bp"
            f" (full insert = plasmid[{FULL_INSERT_SLICE[0]}:{FULL_INSERT_SLICE[1]}])"
        )
    full = seq[FULL_INSERT_SLICE[0] : FULL_INSERT_SLICE[1]]
    region = full[N_REGION[0] : N_REGION[1]]
    if set(region) != {"N"}:
        raise InputError(
            f"{path}: plasmid[{FULL_INSERT_SLICE[0] + N_REGION[0]}:{FULL_INSERT_SLICE[0] + N_REGION[1]}]"
            f" is {region[:20]!r}...; expected the library's {N_REGION[1] - N_REGION[0]}-bp N-region there"
        )
    egfp = decode(reverse_complement(encode(seq[EGFP_SLICE[0] : EGFP_SLICE[1]])))
    return PlasmidParts(egfp=egfp, full_insert=full)


def load_oligos(path: Path) -> pd.DataFrame:
    """``Oligo_index`` (int, unique) and ``Oligo_sequence`` (A/C/G/T/N, upper-cased)."""
    frame = read_table(path, ("Oligo_index", "Oligo_sequence"), what="oligo table")
    require_int_column(frame, "Oligo_index", path)
    frame = frame[["Oligo_index", "Oligo_sequence"]].copy()
    frame["Oligo_index"] = frame["Oligo_index"].astype(np.int64)
    dup = frame["Oligo_index"].duplicated()
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, column 'Oligo_index': {int(frame['Oligo_index'].iloc[i])} appears twice;"
            " expected unique oligo indices"
        )
    seqs = []
    for i, s in enumerate(frame["Oligo_sequence"]):
        if not isinstance(s, str) or not s.strip():
            raise InputError(f"{path}: row {i + 1}, column 'Oligo_sequence': the cell is empty; expected a sequence")
        try:
            encode(s.strip())
        except SequenceError as exc:
            raise InputError(f"{path}: row {i + 1}, column 'Oligo_sequence': {exc}") from exc
        seqs.append(s.strip().upper())
    frame["Oligo_sequence"] = seqs
    return frame


def _measured(frame: pd.DataFrame, path: Path) -> pd.Series:
    col = next((c for c in MEASURED_COLUMNS if c in frame.columns), None)
    if col is None:
        raise InputError(f"{path}: lacks the measured-expression column {MEASURED_COLUMNS[0]!r} (or 'mean_exp')")
    values = pd.to_numeric(frame[col], errors="coerce")
    bad = values.isna() & frame[col].notna() & (frame[col].astype(str).str.strip().str.lower() != "nan")
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{path}: row {i + 1}, column {col!r}: {str(frame[col].iloc[i])!r}; expected a number")
    return values.astype(np.float64)


def _subset(path: Path, required: tuple[str, ...], what: str, known: set[int]) -> pd.DataFrame:
    frame = read_table(path, ("Oligo_index", *required), what=what)
    require_int_column(frame, "Oligo_index", path)
    out = frame.copy()
    out["Oligo_index"] = out["Oligo_index"].astype(np.int64)
    out["mean_exp"] = _measured(frame, path)
    unknown = ~out["Oligo_index"].isin(known)
    if unknown.any():
        i = int(unknown.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: row {i + 1}, column 'Oligo_index': {int(out['Oligo_index'].iloc[i])} is not in the oligo table"
        )
    for col in required:
        if out[col].isna().any():
            i = int(out[col].isna().to_numpy().nonzero()[0][0])
            raise InputError(f"{path}: row {i + 1}, column {col!r}: the cell is empty (or NA); expected a value")
    return out


def _position_column(frame: pd.DataFrame, col: str, path: Path) -> pd.Series:
    """Positions (int) with ``"-"`` (absent) as NaN; anything else is refused naming the row."""
    raw = frame[col].astype(str).str.strip()
    absent = raw.isin(["-", "nan", ""])
    values = pd.to_numeric(raw.where(~absent), errors="coerce")
    bad = (values.isna() & ~absent) | (values.notna() & (values % 1 != 0))
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{path}: row {i + 1}, column {col!r}: {raw.iloc[i]!r}; expected an integer or '-'")
    return values


CORE_ELEMENTS = ("BREu", "TATA", "BREd", "Int", "MTE", "DPE")


@dataclass
class Inputs:
    """The validated input tables (measured expression as ``mean_exp``, linear)."""

    oligos: pd.DataFrame
    native: pd.DataFrame
    pic: pd.DataFrame
    core: pd.DataFrame
    tata: pd.DataFrame
    tf: pd.DataFrame


def load_inputs(spec) -> Inputs:
    """All tables of the spec, checked (file, 1-based data row, column, found, expected)."""
    inp = spec.inputs
    oligos = load_oligos(Path(inp["oligos"]))
    known = set(oligos["Oligo_index"].tolist())
    native = _subset(Path(inp["native"]), (), "native core promoter table", known)
    pic_path = Path(inp["pic"])
    pic = _subset(pic_path, ("CP_Orientation", "TFIIB_ID"), "PIC binding-site table", known)
    orient = pic["CP_Orientation"].astype(str).str.strip()
    bad = ~orient.isin(["Fw", "Rv"])
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{pic_path}: row {i + 1}, column 'CP_Orientation': {orient.iloc[i]!r}; expected Fw or Rv")
    pic["CP_Orientation"] = orient
    core_path = Path(inp["core_configs"])
    core = _subset(
        core_path,
        ("Background", "Configuration_summary", *(f"{e}_position" for e in CORE_ELEMENTS)),
        "core-promoter configuration table",
        known,
    )
    require_int_column(core, "Configuration_summary", core_path)
    core["Configuration_summary"] = core["Configuration_summary"].astype(np.int64)
    for e in CORE_ELEMENTS:
        core[f"{e}_position"] = _position_column(core, f"{e}_position", core_path)
    tata_path = Path(inp["tata_shift"])
    tata = _subset(tata_path, ("Background", "TATA_position"), "TATA shift table", known)
    require_int_column(tata, "TATA_position", tata_path)
    tata["TATA_position"] = tata["TATA_position"].astype(np.int64)
    tf = _subset(Path(inp["tf_screen"]), ("Background", "Motif_info"), "TF activity screen table", known)
    tf = tf.drop_duplicates(["Oligo_index", "mean_exp"]).reset_index(drop=True)  # as the authors (§3.1)
    for t in (core, tata, tf):
        t["Background"] = t["Background"].astype(str)
    return Inputs(oligos, native, pic, core, tata, tf)


def background_group(name: str) -> str:
    """A background's group name: the part before the first ``_`` (``RPLP0_CE_bg`` -> ``RPLP0``)."""
    return str(name).split("_", 1)[0]


# ---------------------------------------------------------------- geometry


def build_insert(crs: str, insert_type: str, parts: PlasmidParts) -> tuple[str, int]:
    """``(insert sequence, landmark offset in it)`` for a fragment (0-based offsets, §3.2)."""
    half = len(crs) // 2
    if insert_type == "minimal":
        return crs + parts.egfp, half
    full = parts.full_insert[: N_REGION[0]] + crs + parts.full_insert[N_REGION[1] :]
    if insert_type == "full":
        return full, N_REGION[0] + half
    if insert_type == "full_rv":
        return decode(reverse_complement(encode(full))), (FULL_INSERT_LENGTH - N_REGION[1]) + half
    raise ValueError(f"insert_type {insert_type!r}: expected one of {', '.join(INSERT_TYPES)}")


def landing_pad_construct(key: str, chrom: str, split: int, seq: str, landmark: int) -> Construct:
    """``seq`` inserted before ``chrom:split`` (0-based), window centred on ``landmark`` (offset in ``seq``)."""
    return Construct(
        key=key, chrom=chrom, landmark=InEdit(0, landmark), edits=(insert(split, Literal(seq)),), window_start=None
    )


@dataclass(frozen=True)
class PromoterMpraBuilder:
    """Builds construct ``i`` (picklable; shipped once to the materialization tasks)."""

    chrom: str
    split: int
    parts: PlasmidParts
    oligo_index: tuple[int, ...]
    oligo_seq: tuple[str, ...]
    insert_types: tuple[str, ...]
    #: extra constructs after the oligo block: (key, fragment sequence, insert type)
    variants: tuple[tuple[str, str, str], ...]

    @property
    def n_main(self) -> int:
        return len(self.oligo_seq) * len(self.insert_types)

    def __call__(self, construct_id: int) -> Construct:
        if construct_id < self.n_main:
            i, t = divmod(construct_id, len(self.insert_types))
            itype = self.insert_types[t]
            seq, lm = build_insert(self.oligo_seq[i], itype, self.parts)
            return landing_pad_construct(f"{self.oligo_index[i]}|{itype}", self.chrom, self.split, seq, lm)
        key, crs, itype = self.variants[construct_id - self.n_main]
        seq, lm = build_insert(crs, itype, self.parts)
        return landing_pad_construct(key, self.chrom, self.split, seq, lm)


def locate_moving_element(seqs: list[str], motif: str) -> list[int | None]:
    """Start (0-based) of the moved element in each of a background's shifted oligos.

    The occurrences of ``motif`` in an oligo that sit at the same start in at least half of the
    background's oligos belong to the background; of the others, the one occurrence left is the
    moved element.  ``None`` when there is none (the moved element coincides with a background
    copy, or is not there) or more than one (ambiguous).
    """
    occ = [{m.start() for m in re.finditer(f"(?={re.escape(motif)})", s)} for s in seqs]
    counts: dict[int, int] = {}
    for o in occ:
        for p in o:
            counts[p] = counts.get(p, 0) + 1
    shared = {p for p, c in counts.items() if c >= max(2, (len(seqs) + 1) // 2)}
    out: list[int | None] = []
    for o in occ:
        own = sorted(o - shared)
        out.append(own[0] if len(own) == 1 else None)
    return out


def ism_alternatives(ref: str) -> list[str]:
    """The three alternatives of a base, in the authors' order ``ACGT[(idx(ref) + i) % 4]``, i = 1..3."""
    if ref not in ACGT:
        return [b for b in ACGT if b != ref]
    k = ACGT.index(ref)
    return [ACGT[(k + i) % 4] for i in (1, 2, 3)]


def _variant_design(spec, inputs: Inputs) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """The local variants of the baseline oligo (baseline, ISM, occlusion), all in ``variant_insert``."""
    inp = spec.inputs
    vi = inp["variant_insert"]
    if not (inp["ism"] or inp["occlusion"]):
        return [], []
    tata_path = Path(inp["tata_shift"])
    bg = inp["variant_background"]
    sub = inputs.tata[inputs.tata["Background"].map(background_group) == bg].sort_values(
        ["TATA_position", "Oligo_index"], kind="mergesort"
    )
    if sub.empty:
        groups = sorted({background_group(b) for b in inputs.tata["Background"]})
        raise InputError(
            f"{tata_path}: no background named {bg!r} (before the first '_'); it has {', '.join(groups)}"
            " (set inputs.variant_background, or ism = occlusion = false)"
        )
    base_rows = sub[sub["TATA_position"] == inp["baseline_tata_position"]]
    if base_rows.empty:
        raise InputError(
            f"{tata_path}: background {bg!r} has no oligo with TATA_position = {inp['baseline_tata_position']}"
            " (inputs.baseline_tata_position)"
        )
    seq_of = dict(zip(inputs.oligos["Oligo_index"], inputs.oligos["Oligo_sequence"], strict=True))
    base_idx = int(base_rows["Oligo_index"].iloc[0])
    base = seq_of[base_idx]
    rows: list[dict[str, Any]] = [
        {"oligo_index": base_idx, "insert_type": vi, "kind": "baseline", "position": -1, "ref": "", "alt": "",
         "tata_position": np.nan}
    ]
    variants: list[tuple[str, str, str]] = [(f"{base_idx}|baseline", base, vi)]
    if inp["ism"]:
        lo, hi = inp["ism_start"], inp["ism_end"]
        if not 0 <= lo < hi <= len(base):
            raise InputError(
                f"inputs.ism_start/ism_end = {lo}/{hi}; expected 0 <= ism_start < ism_end <= {len(base)}"
                f" (the baseline oligo {base_idx} is {len(base)} bp)"
            )
        for p in range(lo, hi):
            for alt in ism_alternatives(base[p]):
                rows.append(
                    {"oligo_index": base_idx, "insert_type": vi, "kind": "ism", "position": p, "ref": base[p],
                     "alt": alt, "tata_position": np.nan}
                )
                variants.append((f"{base_idx}|ism|{p}|{alt}", base[:p] + alt + base[p + 1 :], vi))
    if inp["occlusion"]:
        motif = inp["tata_motif"].upper()
        if not motif or re.search(r"[^ACGT]", motif):
            raise InputError(f"inputs.tata_motif = {inp['tata_motif']!r}; expected a non-empty A/C/G/T string")
        seqs = [seq_of[int(i)] for i in sub["Oligo_index"]]
        starts = locate_moving_element(seqs, motif)
        for (_, r), start in zip(sub.iterrows(), starts, strict=True):
            if start is None or start + len(motif) > len(base):
                continue
            occluded = base[:start] + "N" * len(motif) + base[start + len(motif) :]
            rows.append(
                {"oligo_index": base_idx, "insert_type": vi, "kind": "occlusion", "position": int(start), "ref": "",
                 "alt": "", "tata_position": float(r["TATA_position"])}
            )
            variants.append((f"{base_idx}|occlusion|{int(r['TATA_position'])}|{start}", occluded, vi))
    return rows, variants


@dataclass(frozen=True)
class IsmBackground:
    """One background of the background ISM (experiments-spec §3.5)."""

    oligo_index: int
    label: str  # the table's ``Background`` (``DNAse_example`` for 12885, ``oligo_<i>`` for another extra)
    source: str  # ``core``, ``tf`` or ``oligo``
    sequence: str


def ism_backgrounds(spec, inputs: Inputs) -> list[IsmBackground]:
    """The backgrounds the authors ISM, in their order: core-configuration backgrounds
    (``Configuration_summary == 0``), TF-screen backgrounds (``Motif_info == "-"``), each in table
    order, then ``background_ism_oligos``; an oligo already listed is kept once (first place)."""
    inp = spec.inputs
    seq_of = dict(zip(inputs.oligos["Oligo_index"], inputs.oligos["Oligo_sequence"], strict=True))
    core = inputs.core[inputs.core["Configuration_summary"] == 0]
    tf = inputs.tf[inputs.tf["Motif_info"].astype(str).str.strip() == "-"]
    listed: list[tuple[int, str, str]] = [(int(i), str(b), "core") for i, b in zip(core["Oligo_index"],
                                                                                   core["Background"], strict=True)]
    listed += [(int(i), str(b), "tf") for i, b in zip(tf["Oligo_index"], tf["Background"], strict=True)]
    for i in inp["background_ism_oligos"]:
        if int(i) not in seq_of:
            raise InputError(
                f"{inp['oligos']}: has no Oligo_index {int(i)} (inputs.background_ism_oligos); expected an oligo"
                " of the table (set background_ism_oligos = [] for a library without it)"
            )
        label = DNASE_EXAMPLE[1] if int(i) == DNASE_EXAMPLE[0] else f"oligo_{int(i)}"
        listed.append((int(i), label, "oligo"))
    out: list[IsmBackground] = []
    seen: set[int] = set()
    for i, label, source in listed:
        if i not in seen:
            seen.add(i)
            out.append(IsmBackground(i, label, source, seq_of[i]))
    return out


def _background_ism_design(spec, inputs: Inputs) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """The background ISM block in the authors' order (module docstring): rows and variants."""
    inp = spec.inputs
    if not inp["background_ism"]:
        return [], []
    types = list(inp["background_ism_insert_types"])
    if not types or len(set(types)) != len(types):
        raise InputError(
            f"inputs.background_ism_insert_types = {types!r}; expected distinct values among {', '.join(INSERT_TYPES)}"
        )
    lo, hi = inp["background_ism_start"], inp["background_ism_end"]
    backgrounds = ism_backgrounds(spec, inputs)
    for bg in backgrounds:
        if not 0 <= lo < hi <= len(bg.sequence):
            raise InputError(
                f"inputs.background_ism_start/background_ism_end = {lo}/{hi}; expected 0 <= start < end <="
                f" {len(bg.sequence)} (background {bg.label!r}, oligo {bg.oligo_index}, is {len(bg.sequence)} bp)"
            )
    rows: list[dict[str, Any]] = []
    variants: list[tuple[str, str, str]] = []

    def add(order: int, bg: IsmBackground, kind: str, p: int, ref: str, alt: str, itype: str, seq: str) -> None:
        rows.append({"oligo_index": bg.oligo_index, "insert_type": itype, "kind": kind, "position": p, "ref": ref,
                     "alt": alt, "tata_position": np.nan, "background": bg.label, "background_source": bg.source,
                     "background_order": order})
        tail = f"|{p}|{alt}" if kind == "background_ism" else ""
        variants.append((f"{bg.oligo_index}|{kind}{tail}|{itype}", seq, itype))

    for order, bg in enumerate(backgrounds):
        s = bg.sequence
        for p in range(lo, hi):
            for alt in ism_alternatives(s[p]):
                for itype in types:
                    add(order, bg, "background_ism", p, s[p], alt, itype, s[:p] + alt + s[p + 1 :])
    # the unmutated backgrounds after all variants, as the authors append them
    for order, bg in enumerate(backgrounds):
        for itype in types:
            add(order, bg, "background", -1, "", "", itype, bg.sequence)
    return rows, variants


def expand(spec, genome, geometry: Geometry) -> Design:
    """Design of the promoter MPRA job: oligo x insert type, then the baseline's variants."""
    inputs = load_inputs(spec)
    inp = spec.inputs
    types = list(inp["insert_types"])
    if not types or any(t not in INSERT_TYPES for t in types) or len(set(types)) != len(types):
        raise InputError(f"inputs.insert_types = {types!r}; expected distinct values among {', '.join(INSERT_TYPES)}")
    parts = plasmid_parts(Path(inp["plasmid"]))
    chrom, start, end = parse_landing_pad(inp["landing_pad"])
    genome.check_chrom(chrom, where="inputs.landing_pad")
    split = (start + end) // 2
    if not 0 <= start < end <= genome.lengths[chrom]:
        raise InputError(
            f"inputs.landing_pad = {inp['landing_pad']!r} is off {chrom} (length {genome.lengths[chrom]})"
        )

    oligos = inputs.oligos
    sets = {
        "in_native": set(inputs.native["Oligo_index"]),
        "in_pic": set(inputs.pic["Oligo_index"]),
        "in_core": set(inputs.core["Oligo_index"]),
        "in_tata": set(inputs.tata["Oligo_index"]),
        "in_tf": set(inputs.tf["Oligo_index"]),
    }
    if inp["oligo_scope"] == "used":
        used = set().union(*sets.values())
        oligos = oligos[oligos["Oligo_index"].isin(used)].reset_index(drop=True)
    var_rows, variants = _variant_design(spec, inputs)
    bg_rows, bg_variants = _background_ism_design(spec, inputs)
    var_rows, variants = var_rows + bg_rows, variants + bg_variants

    n_t = len(types)
    idx = oligos["Oligo_index"].to_numpy(np.int64)
    main = pd.DataFrame(
        {
            "oligo_index": np.repeat(idx, n_t),
            "insert_type": np.tile(np.asarray(types, dtype=object), len(idx)),
            "kind": "oligo",
            "position": -1,
            "ref": "",
            "alt": "",
            "tata_position": np.nan,
            "background": "",
            "background_source": "",
            "background_order": -1,
        }
    )
    var = pd.DataFrame(var_rows, columns=list(main.columns))
    var["background"] = var["background"].fillna("")
    var["background_source"] = var["background_source"].fillna("")
    var["background_order"] = var["background_order"].fillna(-1)
    table = pd.concat([main, var], ignore_index=True)
    table.insert(0, "construct_id", np.arange(len(table), dtype=np.int64))
    for name, members in sets.items():
        table[name] = table["oligo_index"].isin(members) & (table["kind"] == "oligo")
    table["position"] = table["position"].astype(np.int64)
    table["oligo_index"] = table["oligo_index"].astype(np.int64)
    table["background_order"] = table["background_order"].astype(np.int64)
    builder = PromoterMpraBuilder(
        chrom=chrom,
        split=split,
        parts=parts,
        oligo_index=tuple(int(i) for i in idx),
        oligo_seq=tuple(oligos["Oligo_sequence"]),
        insert_types=tuple(types),
        variants=tuple(variants),
    )
    keys = [f"{i}|{t}" for i in idx for t in types] + [k for k, _s, _t in variants]
    table.insert(1, "key", keys)
    return Design(table=table, build=builder)


# ---------------------------------------------------------------- reduce, report


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Statistics of the job (see :mod:`seqbench.experiments.promoter_mpra.stats`)."""
    from seqbench.experiments.promoter_mpra.stats import reduce_promoter_mpra

    inputs = load_inputs(spec)
    tracks = [c for c in predictions.columns if c not in ("construct_id", "member", "landmark_bin")]
    return reduce_promoter_mpra(
        predictions,
        design,
        native=inputs.native,
        pic=inputs.pic,
        core=inputs.core,
        tata=inputs.tata,
        tf=inputs.tf,
        readout=READOUT,
        tracks=tracks,
        variant_background=spec.inputs["variant_background"],
        background_ism_reason=background_ism_reason(spec, inputs),
    )


def background_ism_reason(spec, inputs: Inputs) -> str:
    """Why a job has no background ISM, in words for the summary; ``""`` when it has one."""
    if not spec.inputs["background_ism"]:
        return "background ISM off (inputs.background_ism = false)"
    if not ism_backgrounds(spec, inputs):
        return ("no background to ISM: no core configuration with Configuration_summary 0, no TF-screen row"
                " with Motif_info '-', and inputs.background_ism_oligos empty")
    return ""


