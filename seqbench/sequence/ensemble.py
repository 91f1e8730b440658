"""Ensembles: the strand x shift members of a construct, and their landmark bins.

Member order is strand-major: ``[(s, shift) for s in strands for shift in shifts]``; member
index ``m`` is a position in that list and is what prediction rows store.

For a member with shift ``s`` the input is the slice ``[s − min_shift, s − min_shift + L)``
of the construct's extended window (:func:`seqbench.sequence.constructs.materialize`); the
landmark sits at input position ``p = landmark − (s − min_shift)`` on the + strand and at
``L − 1 − p`` on the − strand (the whole input is reverse-complemented), in bin
``(p − offset) // bin_size`` (for a centred crop, bin ``b`` becomes ``n_bins − 1 − b``).

Strands are relative to the construct's own orientation (``Construct.strand``, ``+`` unless an
experiment says otherwise): for a construct on ``−`` (``flip``), member ``+`` is the reverse
complement of the forward window.  Models with an anchor read only the construct's orientation
(:func:`for_geometry`: Xpresso sees the TSS on the gene's strand); scalar models read one "bin".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from seqbench.models.base import Geometry


@dataclass(frozen=True)
class Ensemble:
    """Strands (``'+'``, ``'-'``) x shifts (bp) evaluated per construct, and the bins read.

    ``bin_window`` is the inclusive range of bins around the landmark bin that are summed
    (the paper's ``_landmark_sum``: ``(-1, 1)``, three bins).
    """

    shifts: tuple[int, ...] = (-43, 0, 43)
    strands: tuple[str, ...] = ("+", "-")
    bin_window: tuple[int, int] = (-1, 1)

    def __post_init__(self) -> None:
        if not self.shifts or not self.strands:
            raise ValueError("an ensemble needs at least one shift and one strand")
        if len(set(self.shifts)) != len(self.shifts) or len(set(self.strands)) != len(self.strands):
            raise ValueError("ensemble shifts and strands must not repeat")
        bad = [s for s in self.strands if s not in ("+", "-")]
        if bad:
            raise ValueError(f"ensemble strands must be '+' or '-', got {bad}")
        if self.bin_window[0] > self.bin_window[1]:
            raise ValueError(f"bin_window {self.bin_window}: first must be <= second")

    @property
    def members(self) -> list[tuple[str, int]]:
        return [(st, sh) for st in self.strands for sh in self.shifts]

    @property
    def min_shift(self) -> int:
        return min(self.shifts)

    @property
    def max_shift(self) -> int:
        return max(self.shifts)

    @property
    def n_members(self) -> int:
        return len(self.strands) * len(self.shifts)

    @property
    def n_window_bins(self) -> int:
        return self.bin_window[1] - self.bin_window[0] + 1

    def for_geometry(self, geometry: Geometry) -> Ensemble:
        """The ensemble a model of ``geometry`` evaluates: this one, except that a scalar model reads its
        one value (``bin_window`` ``(0, 0)``) and a model with an anchor reads only the construct's own
        orientation (strand ``+``), as the authors ran Xpresso (experiments-spec §11)."""
        strands = ("+",) if geometry.anchor is not None else self.strands
        window = (0, 0) if geometry.scalar else self.bin_window
        if strands == self.strands and window == self.bin_window:
            return self
        return Ensemble(self.shifts, strands, window)

    def shift_range(self, geometry: Geometry, position: int | None = None) -> tuple[int, int]:
        """The smallest and the largest shift whose readout bins (landmark bin + ``bin_window``) lie in
        the model's output ``0..n_bins-1`` on every strand of the ensemble.

        ``position``: the landmark's input position at shift 0 (default ``geometry.landmark_position``:
        ``L // 2``, the window centred on the landmark, or the model's anchor).
        A member with shift ``s`` has its landmark at input position
        ``position - s`` (+ strand) or ``L - 1 - (position - s)`` (- strand, the input reversed), in
        bin ``(p - offset) // bin_size``.  Empty (first > second) when no shift fits.
        """
        L, bs, off, n = geometry.sequence_length, geometry.bin_size, geometry.offset, geometry.n_bins
        p0 = geometry.landmark_position if position is None else int(position)
        # allowed landmark bins b: 0 <= b + bin_window[0] and b + bin_window[1] <= n - 1, i.e. input
        # positions x = p - offset with lo_b * bs <= x <= (hi_b + 1) * bs - 1
        lo_b, hi_b = -self.bin_window[0], n - 1 - self.bin_window[1]
        lo, hi = -(1 << 62), 1 << 62
        if "+" in self.strands:  # x = p0 - s - off
            lo, hi = max(lo, p0 - off - (hi_b + 1) * bs + 1), min(hi, p0 - off - lo_b * bs)
        if "-" in self.strands:  # x = L - 1 - p0 + s - off
            c = L - 1 - p0 - off
            lo, hi = max(lo, lo_b * bs - c), min(hi, (hi_b + 1) * bs - 1 - c)
        return lo, hi

    def check_geometry(self, geometry: Geometry) -> None:
        """Refuse an ensemble that reads bins off the model's output for a landmark at the window centre.

        Raises ``ValueError`` with one line naming ``ensemble.bin_window`` (wider than the output,
        or off it even at shift 0) or ``ensemble.shifts`` (a shift that moves the landmark's bins off
        the output) and the largest values allowed.  Such members would read masked (zero) bins and
        be averaged in: a silent wrong answer.  A landmark elsewhere in the window (an experiment's
        own ``window_start``) is checked per construct by :func:`members_off_output`.
        """
        n, (w0, w1) = geometry.n_bins, self.bin_window
        where = f"(the model's output: {n} bins of {geometry.bin_size} bp)"
        if self.n_window_bins > n:
            raise ValueError(
                f"ensemble.bin_window = [{w0}, {w1}] reads {self.n_window_bins} bins; expected at most {n} {where}"
            )
        p0 = geometry.landmark_position
        b0 = sorted({int(b) for b in member_landmarks(p0, Ensemble((0,), self.strands, self.bin_window), geometry)[1]})
        lo_w, hi_w = -b0[0], n - 1 - b0[-1]
        at = "the window centre" if geometry.anchor is None else f"the landmark at the model's anchor {p0}"
        if w0 < lo_w or w1 > hi_w:
            raise ValueError(
                f"ensemble.bin_window = [{w0}, {w1}] reads bins off the model's output around the landmark bin"
                f" {'/'.join(map(str, b0))} ({at}); expected {lo_w} <= first <= last <= {hi_w} {where}"
            )
        lo, hi = self.shift_range(geometry)
        bad = [s for s in self.shifts if not lo <= s <= hi]
        if bad:
            raise ValueError(
                f"ensemble.shifts = {list(self.shifts)}: shift {bad[0]} moves the landmark's bins"
                f" (bin_window [{w0}, {w1}]) off the model's output; expected {lo} <= shift <= {hi}"
                f" for a landmark at the window centre {where}"
            )


def member_landmarks(
    landmark: int, ensemble: Ensemble, geometry: Geometry, flip: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Landmark input positions ``[M]`` and landmark bins ``[M]`` of every member (``landmark``: index in
    the extended window; ``flip``: the construct is on the − strand, so every member's strand flips)."""
    L = geometry.sequence_length
    pos, bins = [], []
    for strand, shift in ensemble.members:
        p = landmark - (shift - ensemble.min_shift)
        if (strand == "-") != flip:
            p = L - 1 - p
        pos.append(p)
        bins.append((p - geometry.offset) // geometry.bin_size)
    return np.asarray(pos, dtype=np.int64), np.asarray(bins, dtype=np.int32)


def members_off_output(position: int, ensemble: Ensemble, geometry: Geometry, flip: bool = False) -> list[int]:
    """Indices (into ``ensemble.members``) of the members whose readout bins fall, wholly or partly,
    outside the model's output ``0..n_bins-1``, for a landmark at input position ``position`` at
    shift 0 (``landmark_in_window``; from :func:`seqbench.sequence.constructs.materialize`'s
    extended-window index ``lm``, ``position = lm + ensemble.min_shift``).

    The same bins :func:`seqbench.predict.predict_shard` reads (:func:`member_landmarks` and
    :func:`window_bins`); ``[]`` when every member reads inside the output.
    """
    bins = member_landmarks(int(position) - ensemble.min_shift, ensemble, geometry, flip)[1]
    _, valid = window_bins(bins, ensemble, geometry.n_bins)
    return [int(m) for m in np.flatnonzero(~valid.astype(bool).all(axis=-1))]


@functools.lru_cache(maxsize=64)
def valid_positions(ensemble: Ensemble, geometry: Geometry, flip: bool = False) -> tuple[int, int] | None:
    """The landmark input positions (at shift 0) for which every member reads inside the output, as an
    inclusive range ``(lo, hi)``, or ``None`` when there is none.

    For one member the valid positions form an interval (its bins move monotonically with the
    position, on either strand), so for all members they do too: found by bisection from the window
    centre with :func:`members_off_output`, so that it agrees with it exactly.  Cached: a shard checks
    each landmark with two comparisons instead of recomputing every member's bins.
    """
    L = geometry.sequence_length
    # the landmark's forward position at shift 0 (see constructs.materialize)
    centre = L - 1 - geometry.landmark_position if flip else geometry.landmark_position
    if members_off_output(centre, ensemble, geometry, flip):
        return None

    def ok(p: int) -> bool:
        return not members_off_output(p, ensemble, geometry, flip)

    lo, hi = 0, centre  # smallest valid position in [0, centre]: ok(hi) holds
    if ok(lo):
        hi = lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    first = hi
    lo, hi = centre, L - 1  # largest valid position in [centre, L - 1]: ok(lo) holds
    if ok(hi):
        lo = hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return first, lo


def check_members(position: int, ensemble: Ensemble, geometry: Geometry, flip: bool = False) -> None:
    """``ValueError`` (one line) when a member of a landmark at input position ``position`` (at shift 0)
    reads bins off the model's output: names the first such member, its bins and the shifts allowed
    for this landmark (``ensemble.shifts``).  See :func:`members_off_output`."""
    off = members_off_output(position, ensemble, geometry, flip)
    if not off:
        return
    n, (w0, w1) = geometry.n_bins, ensemble.bin_window
    strand, shift = ensemble.members[off[0]]
    b = int(member_landmarks(int(position) - ensemble.min_shift, ensemble, geometry, flip)[1][off[0]])
    lo, hi = ensemble.shift_range(geometry, position)
    allowed = f"expected {lo} <= shift <= {hi}" if lo <= hi else "no shift fits"
    raise ValueError(
        f"landmark at input position {int(position)} (shift 0): {len(off)} of {ensemble.n_members} ensemble members"
        f" read bins off the model's output 0..{n - 1}, first {strand}:{shift:+d} (bins {b + w0}..{b + w1});"
        f" ensemble.shifts: {allowed} for this landmark with bin_window [{w0}, {w1}]"
    )


def _reverse_complement(codes: np.ndarray) -> np.ndarray:
    """``COMPLEMENT[codes[::-1]]`` for a 1-D array of codes 0..4, as a new contiguous array.

    ``min(x ^ 3, x | 4)`` is the complement of every code 0..4 (A<->T, C<->G, N->N); three
    contiguous uint8 passes after one reversing copy are several times faster than the table
    lookup, which casts the 393-kb window to intp indices first.
    """
    r = codes[::-1].copy()
    t = r | np.uint8(4)
    r ^= np.uint8(3)
    np.minimum(r, t, out=r)
    return r


def member_codes(
    extended: np.ndarray,
    ensemble: Ensemble,
    sequence_length: int,
    out: np.ndarray | None = None,
    flip: bool = False,
) -> np.ndarray:
    """Inputs ``[M, L]`` uint8 of every member, cut from one extended window (codes 0..4).

    ``out`` (uint8 ``[M, L]``), when given, is filled and returned instead of a new array;
    ``flip``: the construct is on the − strand (member ``+`` is reverse-complemented).
    The extended window is reverse-complemented once; the − strand members are slices of it
    (the reverse complement of ``extended[s : s + L]`` is ``rc[n − s − L : n − s]``).
    """
    L, M = sequence_length, ensemble.n_members
    n = extended.shape[0]
    if n < L + ensemble.max_shift - ensemble.min_shift:
        raise ValueError(
            f"extended window of {n} bp is shorter than {L} + {ensemble.max_shift - ensemble.min_shift} bp of shifts"
        )
    if out is None:
        out = np.empty((M, L), dtype=np.uint8)
    elif out.shape != (M, L) or out.dtype != np.uint8:
        raise ValueError(f"member_codes: out must be uint8 {(M, L)}, got {out.dtype} {out.shape}")
    rc = None
    for m, (strand, shift) in enumerate(ensemble.members):
        s = shift - ensemble.min_shift
        if (strand == "-") != flip:
            if rc is None:
                rc = _reverse_complement(extended)
            out[m] = rc[n - s - L : n - s]
        else:
            out[m] = extended[s : s + L]
    return out


def window_bins(landmark_bins: np.ndarray, ensemble: Ensemble, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bins to read around each landmark bin: indices ``[..., K]`` clipped to ``0..n_bins-1``
    and a float mask ``[..., K]`` that is 0 where the window fell off the output."""
    offs = np.arange(ensemble.bin_window[0], ensemble.bin_window[1] + 1, dtype=np.int32)
    raw = np.asarray(landmark_bins, dtype=np.int32)[..., None] + offs
    valid = (raw >= 0) & (raw < n_bins)
    return np.clip(raw, 0, n_bins - 1).astype(np.int32), valid.astype(np.float32)
