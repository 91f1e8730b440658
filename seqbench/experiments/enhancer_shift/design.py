"""In silico enhancer shift (paper: "Enformer attributes considerably less importance to enhancers ...",
Fig. S23; experiments-spec §10, the authors' ``EnhancerShift.ipynb`` / ``prepare_enhancer_shift*.py``).

Every CRISPRi-validated enhancer at least ``min_distance`` (3 kb) from its TSS is cut out of its
native place and re-inserted at each test distance (``distances``, the paper's 20 from 3 to 96 kb)
on both sides of the TSS.  At every placement three kinds of insert are predicted: the intact
element (``enhancer``), an N block of its width (``neutral``) and ``shuffles`` seeded shuffles of
it (``shuffle``); the effect is ``log2(shuffle + 1) − log2(enhancer + 1)``, as for a knock-down.
The not-validated elements at least ``min_distance`` away are placed at
``all_enhancers_distances`` only (default 20 kb: the paper's full table), for the validated-vs-not
classification there.

Constructs of one enhancer-gene pair (``ziga_key`` of the shared CRISPRi table,
:func:`seqbench.inputs.crispri.load_pairs`), in this order:

* ``removed``: the native 2-kb ``[fix_start, fix_end)`` window deleted, nothing inserted (the
  authors' "None" baseline);
* ``native`` placement: the element in place (the reference), N-masked in place, and its shuffles
  in place: the knock-down at the native distance, so the "comparison with the native effect"
  needs no other job;
* ``shifted`` placements, distance-major, upstream (−) before downstream (+): the element deleted
  at its native place and inserted at the new place, with each insert.

Geometry (0-based, half-open; coordinates of the source chromosome unless said otherwise).  The
landmark is the TSS-bin centre ``tss = main_tss_start + 64`` and the model window is centred on it
after the edits (``window_start = None``: the landmark sits at input position ``L // 2``), as the
authors' final sequence has the TSS-bin centre at ``L / 2``.  A placement is two edits: a deletion
of the native window and an insertion of ``W = fix_end − fix_start`` bp so that, *in the edited
sequence*, the insert occupies ``[T + o, T + o + W)`` with ``T`` the landmark and

* ``distance_convention = "midpoint"`` (default, fixed): ``o = ±d − W // 2``, so the insert's
  midpoint is ``d`` from the TSS-bin centre on both sides;
* ``distance_convention = "authors"`` (§10.1, matched): ``o = +d`` downstream and ``o = −d``
  upstream, so the midpoint is ``d + W/2`` downstream but ``d − W/2`` upstream.

Shuffles: replicate ``r`` of pair ``k`` is the shuffle of the native window with seed
``derive_seed(job seed, k, r)`` (mononucleotide, or dinucleotide with ``shuffle_kind = "di"``);
the same ``r`` is the same sequence at every placement, native included, as the authors re-use
their 10 shuffles at every distance.

Construct ids enumerate pairs in table order; within a pair, ``1 + (1 + P) (2 + S)`` constructs
(``P`` placements, ``S`` shuffles): the builder computes a construct from its id, nothing is held
per construct.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seqbench.experiment import Design, MapFn, construct_means, sequential_map
from seqbench.inputs import crispri
from seqbench.inputs.tables import InputError
from seqbench.keys import Key, SpecError
from seqbench.models.base import Geometry
from seqbench.sequence.constructs import (
    Construct,
    Edit,
    FromGenome,
    Literal,
    ShuffledGenome,
    delete,
    insert,
    mask,
    replace,
)
from seqbench.sequence.shuffles import derive_seed

NAME = "enhancer-shift"
TITLE = "In silico enhancer shift: effect of validated enhancers against distance to the TSS"

#: the paper's 20 test distances (bp): [0, 1, ..., 8, 12, 17, ..., 87, 93] kb + 3 kb
PAPER_DISTANCES = [3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 11000, 15000, 20000, 25000, 30000, 40000,
                   50000, 60000, 70000, 80000, 90000, 96000]

INPUTS: dict[str, Key] = {
    **crispri.INPUT_KEYS,
    "distances": Key(
        list, PAPER_DISTANCES, "test distances (bp) of the validated enhancers, each on both sides", min=1, item=int
    ),
    "all_enhancers_distances": Key(
        list, [20000], "distances (bp) at which the not-validated enhancers are placed ([] : none)", min=1, item=int
    ),
    "compare_distance": Key(
        int, 20000, "distance (bp) of the bootstrap and the validated-vs-not classification", min=1
    ),
    "min_distance": Key(
        int, 3000, "only enhancers at least this far (bp, actual_tss_distance) from the TSS", min=0
    ),
    "far_distance": Key(
        int, 80000, "native distance (bp) above which an enhancer counts as far (counts, figure)", min=0
    ),
    "shuffles": Key(int, 10, "shuffles of the element per placement (the same at every placement)", min=1),
    "shuffle_kind": Key(str, "mono", "shuffle: mononucleotide (paper) or dinucleotide", ("mono", "di")),
    "distance_convention": Key(
        str,
        "midpoint",
        "insert midpoint at the distance on both sides ('midpoint'), or the authors' asymmetric placement",
        ("midpoint", "authors"),
    ),
    "n_bootstrap": Key(
        int, 10000, "bootstrap resamples of the shifted-vs-native correlation difference", min=1
    ),
    "max_enhancers": Key(int, 0, "use only the first N validated enhancers (0: all)", min=0),
    "max_other_enhancers": Key(int, 0, "use only the first N not-validated enhancers (0: all)", min=0),
}
PATH_INPUTS = set(crispri.PATH_INPUT_KEYS)
DEFAULT_TRACKS: dict[str, Any] = {"cage": {"assay": "CAGE", "cell_type": "K562"}}
READOUT = "cage"

#: placement kinds and insert kinds (design table categories, in this order)
PLACEMENTS = ("removed", "native", "shifted")
INSERTS = ("none", "enhancer", "neutral", "shuffle")


# ---------------------------------------------------------------- geometry (pure)


def insert_offset(distance: int, direction: int, width: int, convention: str) -> int:
    """Offset (bp) of the insert's first base from the TSS-bin centre, in the edited sequence.

    ``direction`` is −1 (upstream, 5′ on the + strand) or +1 (downstream).  ``"midpoint"``:
    ``direction · distance − width // 2`` (the insert's midpoint is ``distance`` away);
    ``"authors"``: ``+distance`` downstream, ``−distance`` upstream (spec §10.1).
    """
    if direction not in (-1, 1):
        raise ValueError(f"direction must be -1 or +1, got {direction!r}")
    if convention == "midpoint":
        return direction * distance - width // 2
    if convention == "authors":
        return direction * distance
    raise ValueError(f"distance_convention must be 'midpoint' or 'authors', got {convention!r}")


def insert_midpoint_distance(distance: int, direction: int, width: int, convention: str) -> float:
    """|insert midpoint − TSS-bin centre| (bp) of a placement: ``distance`` under ``"midpoint"``."""
    return abs(insert_offset(distance, direction, width, convention) + width / 2)


def insert_source_position(tss: int, start: int, end: int, offset: int) -> int:
    """Source position before which the element is inserted, once ``[start, end)`` is deleted,
    so that in the edited sequence the insert starts ``offset`` bp from the TSS-bin centre ``tss``.

    In the sequence with the native window cut out, the TSS sits at ``t = tss`` (window
    downstream) or ``tss − W``; an insert before the TSS (``offset < 0``) moves the TSS by ``+W``,
    so the cut-sequence position is ``q = t + offset (+ W if offset < 0)``; it maps back to the
    source as ``q`` before the cut and ``q + W`` after it (``q == start``: the native place).
    """
    width = end - start
    if start <= tss < end:
        raise ValueError(f"the TSS-bin centre {tss} lies inside the element [{start}, {end})")
    if offset < 0 < offset + width or offset == 0:
        raise ValueError(f"an insert at offset {offset} (width {width}) would cover the TSS-bin centre")
    t_cut = tss if tss < start else tss - width
    q = t_cut + offset + (width if offset < 0 else 0)
    return q if q <= start else q + width


def shift_edits(tss: int, start: int, end: int, offset: int, payload) -> tuple[Edit, ...]:
    """The two edits of a placement: delete ``[start, end)``, insert ``payload`` (sorted)."""
    pos = insert_source_position(tss, start, end, offset)
    return tuple(sorted([delete(start, end), insert(pos, payload)], key=lambda e: (e.start, e.end)))


# ---------------------------------------------------------------- design


@dataclass(frozen=True)
class ShiftPair:
    """One enhancer-gene pair of the design (coordinates 0-based, half-open, on ``chrom``)."""

    key: str  # ziga_key
    chrom: str
    tss: int  # TSS-bin centre main_tss_start + 64
    start: int  # fix_start: the 2-kb element window that is moved
    end: int  # fix_end
    signed_distance: int  # native element midpoint − tss
    validated: bool  # True: all `distances`; False: `all_enhancers_distances`


@dataclass(frozen=True)
class EnhancerShiftBuilder:
    """Builds construct ``i`` from its id (picklable: shipped to the materialization tasks)."""

    pairs: tuple[ShiftPair, ...]
    first_ids: tuple[int, ...]  # construct id of each pair's `removed` construct
    distances: tuple[int, ...]
    other_distances: tuple[int, ...]
    shuffles: int
    shuffle_kind: str
    convention: str
    seed: int

    def __call__(self, construct_id: int) -> Construct:
        k = bisect.bisect_right(self.first_ids, construct_id) - 1
        if k < 0 or construct_id >= self.first_ids[k] + n_pair_constructs(self.pairs[k], self):
            raise IndexError(f"construct id {construct_id} is outside the design")
        pair = self.pairs[k]
        local = construct_id - self.first_ids[k]
        base = {"chrom": pair.chrom, "landmark": pair.tss, "window_start": None}
        if local == 0:
            return Construct(key=f"{pair.key}|removed", edits=(delete(pair.start, pair.end),), **base)
        slot, ins = divmod(local - 1, 2 + self.shuffles)
        dists = self.distances if pair.validated else self.other_distances
        width = pair.end - pair.start
        if ins == 0:
            label, payload = "enhancer", FromGenome(pair.chrom, pair.start, pair.end)
        elif ins == 1:
            label, payload = "neutral", Literal("N" * width)
        else:
            r = ins - 2
            label = f"shuffle{r}"
            payload = ShuffledGenome(pair.chrom, pair.start, pair.end, derive_seed(self.seed, pair.key, r),
                                     self.shuffle_kind)
        if slot == 0:  # native place
            if ins == 0:
                edits: tuple[Edit, ...] = ()
            elif ins == 1:
                edits = (mask(pair.start, pair.end),)
            else:
                edits = (replace(pair.start, pair.end, payload),)
            return Construct(key=f"{pair.key}|native|{label}", edits=edits, **base)
        d_idx, side = divmod(slot - 1, 2)
        direction = -1 if side == 0 else 1
        distance = dists[d_idx]
        offset = insert_offset(distance, direction, width, self.convention)
        edits = shift_edits(pair.tss, pair.start, pair.end, offset, payload)
        return Construct(key=f"{pair.key}|{direction * distance:+d}|{label}", edits=edits, **base)


def n_pair_constructs(pair: ShiftPair, builder_or_lists) -> int:
    """Constructs of one pair: ``1 + (1 + P) (2 + S)``."""
    b = builder_or_lists
    n_dist = len(b.distances) if pair.validated else len(b.other_distances)
    return 1 + (1 + 2 * n_dist) * (2 + b.shuffles)


def _int_list(spec, key: str) -> tuple[int, ...]:
    values = spec.inputs[key]
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise SpecError(f"{spec.source}: inputs.{key} = {values!r}; expected a list of positive integers (bp)")
        out.append(int(v))
    if len(set(out)) != len(out):
        raise SpecError(f"{spec.source}: inputs.{key} = {values!r}; distances must not repeat")
    return tuple(out)


def select_pairs(spec, genome=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The validated pairs to shift and the not-validated ones placed at ``all_enhancers_distances``.

    Both are rows of :func:`seqbench.inputs.crispri.load_pairs` with ``distance >= min_distance``,
    in table order, truncated by ``max_enhancers`` / ``max_other_enhancers``; the second is empty
    when ``all_enhancers_distances`` is empty.
    """
    pairs = crispri.load_pairs(spec.inputs, genome)
    far = pairs["distance"].to_numpy() >= spec.inputs["min_distance"]
    validated = pairs["validated"].to_numpy(dtype=bool)
    shift = pairs[far & validated]
    other = pairs[far & ~validated]
    if spec.inputs["max_enhancers"]:
        shift = shift.iloc[: spec.inputs["max_enhancers"]]
    if spec.inputs["max_other_enhancers"]:
        other = other.iloc[: spec.inputs["max_other_enhancers"]]
    if not spec.inputs["all_enhancers_distances"]:
        other = other.iloc[:0]
    if shift.empty:
        raise InputError(
            f"{spec.source}: the CRISPRi tables have no validated enhancer at least"
            f" {spec.inputs['min_distance']} bp from its TSS; nothing to shift"
        )
    return shift.reset_index(drop=True), other.reset_index(drop=True)


def _check_inputs(spec) -> tuple[tuple[int, ...], tuple[int, ...]]:
    src = spec.source
    distances = _int_list(spec, "distances")
    others = _int_list(spec, "all_enhancers_distances")
    if not distances:
        raise SpecError(f"{src}: inputs.distances is empty; expected at least one distance (bp)")
    for key in ("shuffles", "n_bootstrap"):
        if spec.inputs[key] < 1:
            raise SpecError(f"{src}: inputs.{key} = {spec.inputs[key]}; expected >= 1")
    cmp_ = spec.inputs["compare_distance"]
    if cmp_ not in distances:
        raise SpecError(f"{src}: inputs.compare_distance = {cmp_} is not one of inputs.distances {list(distances)}")
    if others and cmp_ not in others:
        raise SpecError(
            f"{src}: inputs.compare_distance = {cmp_} is not one of inputs.all_enhancers_distances {list(others)}"
        )
    return distances, others


def expand(spec, genome, geometry: Geometry) -> Design:
    """Design of the enhancer-shift job (see the module docstring)."""
    distances, others = _check_inputs(spec)
    shift, other = select_pairs(spec, genome)
    L = geometry.sequence_length
    convention = spec.inputs["distance_convention"]

    pairs: list[ShiftPair] = []
    for frame, validated in ((shift, True), (other, False)):
        for r in frame.itertuples(index=False):
            pairs.append(
                ShiftPair(str(r.ziga_key), str(r.chrom), int(r.tss), int(r.fix_start), int(r.fix_end),
                          int(r.signed_distance), validated)
            )
    # every placement must stay inside the model window, clear of the TSS bin
    examples = {p.end - p.start: p for p in reversed(pairs)}  # one pair per element width
    for width, p in sorted(examples.items()):
        for d in distances + others:
            for direction in (-1, 1):
                o = insert_offset(d, direction, width, convention)
                if not (o >= 64 or o + width <= -64):
                    raise SpecError(
                        f"{spec.source}: distance {d} bp puts the {width}-bp insert of {p.key} on the TSS bin"
                        f" (convention {convention!r}); expected larger distances"
                    )
                # every member's window [T - L/2 + s, T + L/2 + s) must hold the whole insert
                if o < -(L // 2) + max(spec.ensemble.max_shift, 0) or o + width > L // 2 + min(
                    spec.ensemble.min_shift, 0
                ):
                    raise SpecError(
                        f"{spec.source}: distance {d} bp puts the insert of {p.key} outside the model's"
                        f" {L}-bp window; expected at most about {L // 2 - width} bp"
                    )

    probe = EnhancerShiftBuilder((), (), distances, others, spec.inputs["shuffles"], "mono", convention, 0)
    counts = [n_pair_constructs(p, probe) for p in pairs]
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    builder = EnhancerShiftBuilder(
        pairs=tuple(pairs),
        first_ids=tuple(int(x) for x in first),
        distances=distances,
        other_distances=others,
        shuffles=spec.inputs["shuffles"],
        shuffle_kind=spec.inputs["shuffle_kind"],
        convention=convention,
        seed=spec.seed,
    )
    table = design_table(pairs, distances, others, spec.inputs["shuffles"])
    return Design(table=table, build=builder)


def _template(n_dist_list: tuple[int, ...], shuffles: int) -> dict[str, np.ndarray]:
    """Per-pair label arrays (the native signed distance is filled in per pair)."""
    n_ins = 2 + shuffles
    placement = [0]
    insert_ = [0]
    replicate = [-1]
    signed = [0]
    ins_codes = [1, 2] + [3] * shuffles
    reps = [-1, -1] + list(range(shuffles))
    for slot in range(1 + 2 * len(n_dist_list)):
        if slot == 0:
            pl, sd = 1, 0
        else:
            d_idx, side = divmod(slot - 1, 2)
            pl, sd = 2, (-1 if side == 0 else 1) * n_dist_list[d_idx]
        placement += [pl] * n_ins
        insert_ += ins_codes
        replicate += reps
        signed += [sd] * n_ins
    return {
        "placement": np.asarray(placement, dtype=np.int8),
        "insert": np.asarray(insert_, dtype=np.int8),
        "replicate": np.asarray(replicate, dtype=np.int16),
        "signed_distance": np.asarray(signed, dtype=np.int64),
    }


def design_table(pairs: list[ShiftPair], distances, others, shuffles: int) -> pd.DataFrame:
    """One row per construct: ``construct_id, ziga_key, placement, insert, replicate, signed_distance,
    distance``.  ``signed_distance`` (bp): the placement's (direction × distance) for ``shifted``,
    the native ``signed_distance`` for ``native``, 0 for ``removed``; ``distance = |signed_distance|``;
    ``replicate``: the shuffle replicate, −1 for other inserts."""
    templates = {True: _template(distances, shuffles), False: _template(others, shuffles)}
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("placement", "insert", "replicate", "signed_distance")}
    key_codes = []
    for i, p in enumerate(pairs):
        t = templates[p.validated]
        for k in cols:
            arr = t[k]
            if k == "signed_distance":
                arr = arr.copy()
                arr[t["placement"] == 1] = p.signed_distance
            cols[k].append(arr)
        key_codes.append(np.full(t["placement"].size, i, dtype=np.int32))
    n = int(sum(a.size for a in key_codes))
    signed = np.concatenate(cols["signed_distance"]) if pairs else np.zeros(0, dtype=np.int64)
    return pd.DataFrame(
        {
            "construct_id": np.arange(n, dtype=np.int64),
            "ziga_key": pd.Categorical.from_codes(
                np.concatenate(key_codes) if pairs else np.zeros(0, dtype=np.int32), [p.key for p in pairs]
            ),
            "placement": pd.Categorical.from_codes(
                np.concatenate(cols["placement"]) if pairs else np.zeros(0, dtype=np.int8), list(PLACEMENTS)
            ),
            "insert": pd.Categorical.from_codes(
                np.concatenate(cols["insert"]) if pairs else np.zeros(0, dtype=np.int8), list(INSERTS)
            ),
            "replicate": np.concatenate(cols["replicate"]) if pairs else np.zeros(0, dtype=np.int16),
            "signed_distance": signed,
            "distance": np.abs(signed),
        }
    )


# ---------------------------------------------------------------- reduce and report


def construct_values(predictions: pd.DataFrame, design: pd.DataFrame, readout: str = READOUT) -> pd.DataFrame:
    """The design table with ``value``: the readout averaged over members (linear scale)."""
    return construct_means(predictions, design, [readout]).rename(columns={readout: "value"})


def pair_table(shift: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Per pair: ``ziga_key, dataset, gene, validated, distance, signed_distance, observed_percent,
    shifted`` (True: in the shifted set of validated enhancers)."""
    cols = ["ziga_key", "dataset", "gene", "validated", "distance", "signed_distance", "observed_percent"]
    a = shift[cols].assign(shifted=True)
    b = other[cols].assign(shifted=False)
    out = pd.concat([a, b], ignore_index=True)
    out["ziga_key"] = out["ziga_key"].astype(str)
    return out


def reduce(predictions: pd.DataFrame, design: pd.DataFrame, spec, map_fn: MapFn = sequential_map):
    """Effects per placement and the §10.3 statistics (see :mod:`seqbench.experiments.enhancer_shift.stats`)."""
    from seqbench.experiments.enhancer_shift.stats import reduce_enhancer_shift

    shift, other = select_pairs(spec)
    values = construct_values(predictions, design)
    return reduce_enhancer_shift(
        values,
        pair_table(shift, other),
        compare_distance=spec.inputs["compare_distance"],
        far_distance=spec.inputs["far_distance"],
        n_bootstrap=spec.inputs["n_bootstrap"],
        bootstrap_seed=derive_seed(spec.seed, "enhancer-shift|bootstrap", 0),
    )


