"""NumPy reference implementation of the planted law (:mod:`seqbench.models.planted.law`).

This is the ground truth the TensorFlow SavedModel (:mod:`seqbench.models.planted.build`) is
tested against, and what experiments compare their planted-model results with.  Everything is
computed in float64 from exact integer motif counts.

Coordinates are 0-based, half-open, relative to the model input of ``law.SEQUENCE_LENGTH`` bp.

Shapes
------
``codes``           uint8 ``[B, L]``, codes A,C,G,T,N = 0..4 (:mod:`seqbench.sequence.codes`)
``h_P``, ``h_E``    int64 ``[B, L // 128]``: motif hits per 128-bp input bin (both orientations,
                    each hit assigned to the bin of its centre nucleotide ``start + 5``)
output              float64 ``[B, 896, 3]``: tracks in the order of ``law.TRACKS``
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from seqbench.models.base import Geometry
from seqbench.models.planted import law
from seqbench.sequence.codes import N, decode, encode, reverse_complement

#: index of the motif's centre nucleotide within the motif (11 bp -> 5)
CENTRE = law.MOTIF_LENGTH // 2
#: value of each one-hot channel for ``N`` (as in Enformer's pipeline)
NEUTRAL_VALUE = 0.25

_BASE = 5  # the code alphabet size; a k-mer's hash is its base-5 number (5**11 < 2**31)


def _rc(motif: str) -> str:
    return decode(reverse_complement(encode(motif)))


#: The four motif strings, in the order of the SavedModel's conv filters:
#: promoter, promoter reverse complement, enhancer, enhancer reverse complement.
MOTIFS: tuple[str, str, str, str] = (
    law.PROMOTER_MOTIF,
    _rc(law.PROMOTER_MOTIF),
    law.ENHANCER_MOTIF,
    _rc(law.ENHANCER_MOTIF),
)

for _m in (law.PROMOTER_MOTIF, law.ENHANCER_MOTIF):
    # Odd length -> an exact centre, which makes reverse-complementing mirror the bins exactly.
    # Not its own reverse complement -> "motif or RC" and "motif + RC counted separately" agree.
    if len(_m) != law.MOTIF_LENGTH or law.MOTIF_LENGTH % 2 != 1 or "N" in _m:
        raise AssertionError(f"planted motif {_m!r}: must be {law.MOTIF_LENGTH} bp (odd) of A/C/G/T")
    if _m == _rc(_m):
        raise AssertionError(f"planted motif {_m!r} is its own reverse complement")


# planted-v2 weighs 11-mers within one mismatch of a motif orientation.  Any two of the four orientations
# differ at >= 3 positions, so no 11-mer is within one mismatch of two of them: a weighted window counts
# for one motif, in one orientation (and strand symmetry keeps "both orientations" a plain sum).
for _i, _a in enumerate(MOTIFS):
    for _b in MOTIFS[_i + 1 :]:
        if sum(x != y for x, y in zip(_a, _b, strict=True)) < 3:
            raise AssertionError(f"planted motifs {_a!r} and {_b!r} differ at fewer than 3 positions")


def _kmer_hash(codes: np.ndarray) -> int:
    h = 0
    for c in codes:
        h = h * _BASE + int(c)
    return h


_MOTIF_HASHES = tuple(_kmer_hash(encode(m)) for m in MOTIFS)

#: the planted Enformer's geometry (the law's constants); the twins of other kinds pass their own
PLANTED_GEOMETRY = Geometry(law.SEQUENCE_LENGTH, law.BIN_SIZE, law.OUTPUT_OFFSET, law.N_OUTPUT_BINS)


def check_binned(geometry: Geometry) -> Geometry:
    """``geometry`` if the binned law applies to it: 128-bp bins, an input and an offset that are whole
    numbers of bins, and one input bin on either side of the output (``prom`` reads ``J - 1 .. J + 1``)."""
    g = geometry
    bs = law.BIN_SIZE
    if g.bin_size != bs or g.sequence_length % bs or g.offset % bs:
        raise ValueError(f"planted law: {g} must have {bs}-bp bins and an input and offset in whole bins")
    if g.offset < bs or g.offset + (g.n_bins + 1) * bs > g.sequence_length:
        raise ValueError(f"planted law: {g} needs one input bin on either side of the output")
    return g


def one_hot(codes: np.ndarray, neutral: float = NEUTRAL_VALUE) -> np.ndarray:
    """One-hot encode codes ``[..., L]`` -> float32 ``[..., L, 4]`` (channels A,C,G,T; N = ``neutral``)."""
    table = np.vstack([np.eye(4, dtype=np.float32), np.full((1, 4), neutral, dtype=np.float32)])
    return table[np.asarray(codes, dtype=np.uint8)]


def motif_hits(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Promoter and enhancer motif hits per 128-bp input bin.

    ``codes``: uint8 ``[B, L]`` with ``L`` a multiple of 128 (the model input: 393,216).
    Returns ``(h_P, h_E)``, int64 ``[B, L // 128]``: ``h_M[b, i]`` is the number of exact
    occurrences of motif M or of its reverse complement in ``codes[b]`` whose centre nucleotide
    ``q = start + 5`` lies in ``[128 i, 128 (i + 1))``.  ``N`` never matches.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"motif_hits: codes must be [B, L], got shape {codes.shape}")
    b, length = codes.shape
    if length % law.BIN_SIZE or length < law.MOTIF_LENGTH:
        raise ValueError(f"motif_hits: length {length} is not a positive multiple of {law.BIN_SIZE}")
    if codes.size and int(codes.max()) > N:
        raise ValueError(f"motif_hits: code {int(codes.max())} is outside 0..4")
    k = law.MOTIF_LENGTH
    n_starts = length - k + 1
    c = codes.astype(np.int32)
    h = np.zeros((b, n_starts), dtype=np.int32)  # base-5 number of the k-mer starting at s
    for t in range(k):
        h *= _BASE
        h += c[:, t : t + n_starts]
    counts = []
    for fwd, rev in ((0, 1), (2, 3)):
        at_start = (h == _MOTIF_HASHES[fwd]).astype(np.int64) + (h == _MOTIF_HASHES[rev])
        at_centre = np.zeros((b, length), dtype=np.int64)
        at_centre[:, CENTRE : CENTRE + n_starts] = at_start
        counts.append(at_centre.reshape(b, length // law.BIN_SIZE, law.BIN_SIZE).sum(axis=-1))
    return counts[0], counts[1]


@lru_cache(maxsize=8)
def decay_matrix(dtype: str = "float64", geometry: Geometry = PLANTED_GEOMETRY) -> np.ndarray:
    """Read-only ``[n_input_bins, n_bins]`` matrix ``G[i, j] = g(|i - (j + o)| * 128)``, g = ``law.decay``,
    ``o = offset // 128`` (Enformer's geometry: ``[3072, 896]``, ``o = 1088``).

    ``i``: input bin, ``j``: output bin; the distance is counted in whole bins (bin-to-bin,
    i.e. between the bins holding the enhancer's and the landmark's centres), in bp.
    """
    g0 = check_binned(geometry)
    i = np.arange(g0.sequence_length // law.BIN_SIZE, dtype=np.float64)[:, None]
    big_j = np.arange(g0.n_bins, dtype=np.float64)[None, :] + g0.offset // law.BIN_SIZE
    g = 1.0 / (1.0 + np.abs(i - big_j) * law.BIN_SIZE / law.D0)
    g = g.astype(dtype)
    g.setflags(write=False)
    return g


def promoter_strength(h_p: np.ndarray, geometry: Geometry = PLANTED_GEOMETRY) -> np.ndarray:
    """``prom(j) = h_P[J-1] + h_P[J] + h_P[J+1]``, ``J = j + offset // 128``: ``[B, L // 128]`` -> float64
    ``[B, n_bins]`` (Enformer: ``J = j + 1088``, ``[B, 3072]`` -> ``[B, 896]``)."""
    h_p = np.asarray(h_p, dtype=np.float64)
    o = check_binned(geometry).offset // law.BIN_SIZE
    n = geometry.n_bins
    return h_p[:, o - 1 : o - 1 + n] + h_p[:, o : o + n] + h_p[:, o + 1 : o + 1 + n]


def enhancer_activity(h_e: np.ndarray, geometry: Geometry = PLANTED_GEOMETRY) -> np.ndarray:
    """``enh(j) = sum_i h_E[i] g(|i - J| 128)``, ``J = j + offset // 128``: ``[B, L // 128]`` -> float64
    ``[B, n_bins]``."""
    return np.asarray(h_e, dtype=np.float64) @ decay_matrix("float64", geometry)


def track_formulas() -> list[tuple[str, float]]:
    """The formula of each track of ``law.TRACKS``, in index order.

    ``("cage", B_c)`` for ``A (prom + P0) (1 + B_c enh)``, ``("dnase", 0.0)`` for
    ``C0 + C1 (h_P[J] + h_E[J])``.
    """
    gains = {"PLANTED_CAGE_K562": law.B_K562, "PLANTED_CAGE_HEPG2": law.B_HEPG2}
    out: list[tuple[str, float]] = []
    for pos, (index, identifier, _desc) in enumerate(sorted(law.TRACKS)):
        if index != pos:
            raise AssertionError(f"law.TRACKS: indices must be 0..{len(law.TRACKS) - 1}")
        if identifier in gains:
            out.append(("cage", gains[identifier]))
        elif identifier.startswith("PLANTED_DNASE"):
            out.append(("dnase", 0.0))
        else:
            raise AssertionError(f"law.TRACKS: no formula for track {identifier!r}")
    return out


def output_from_hits(h_p: np.ndarray, h_e: np.ndarray, geometry: Geometry = PLANTED_GEOMETRY) -> np.ndarray:
    """The planted output from per-bin hits ``[B, L // 128]`` -> float64 ``[B, n_bins, 3]`` (law.TRACKS order)."""
    h_p = np.asarray(h_p)
    h_e = np.asarray(h_e)
    n_in = check_binned(geometry).sequence_length // law.BIN_SIZE
    if h_p.ndim != 2 or h_p.shape[1] != n_in or h_e.shape != h_p.shape:
        raise ValueError(f"output_from_hits: h_P and h_E must be [B, {n_in}], got {h_p.shape}, {h_e.shape}")
    prom = promoter_strength(h_p, geometry)
    enh = enhancer_activity(h_e, geometry)
    o = geometry.offset // law.BIN_SIZE
    centre = slice(o, o + geometry.n_bins)
    dnase = law.C0 + law.C1 * (h_p[:, centre] + h_e[:, centre]).astype(np.float64)
    tracks = [
        law.A * (prom + law.P0) * (1.0 + gain * enh) if kind == "cage" else dnase
        for kind, gain in track_formulas()
    ]
    return np.stack(tracks, axis=-1)


def reference_output(codes: np.ndarray, geometry: Geometry = PLANTED_GEOMETRY) -> np.ndarray:
    """The planted model's output for codes uint8 ``[B, L]`` -> float64 ``[B, n_bins, 3]`` at ``geometry``
    (default: Enformer's, ``[B, 393216]`` -> ``[B, 896, 3]``; the Basenji twins pass theirs)."""
    codes = np.asarray(codes)
    L = check_binned(geometry).sequence_length
    if codes.ndim != 2 or codes.shape[1] != L:
        raise ValueError(f"reference_output: codes must be [B, {L}], got {codes.shape}")
    return output_from_hits(*motif_hits(codes), geometry)


# ------------------------------------------------------------------ planted-v2: graded hits, saturation

def mismatch_weight(m: np.ndarray | int) -> np.ndarray:
    """``w(m)`` of planted-v2, float64, for mismatch counts ``m`` (any shape): 1, ``law.W1`` or 0."""
    m = np.asarray(m)
    return np.where(m == 0, 1.0, np.where(m == 1, law.W1, 0.0))


def mismatches(codes: np.ndarray) -> np.ndarray:
    """Mismatching positions of every 11-mer with each motif orientation: uint8 ``[4, B, L - 10]``.

    ``codes``: uint8 ``[B, L]`` (A,C,G,T,N = 0..4).  ``out[m, b, s]`` counts the positions
    ``t = 0..10`` where ``codes[b, s + t]`` differs from ``MOTIFS[m][t]`` (``MOTIFS`` order:
    promoter, promoter RC, enhancer, enhancer RC); ``N`` (code 4) differs from every letter.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"mismatches: codes must be [B, L], got shape {codes.shape}")
    if codes.size and int(codes.max()) > N:
        raise ValueError(f"mismatches: code {int(codes.max())} is outside 0..4")
    b, length = codes.shape
    k = law.MOTIF_LENGTH
    n_starts = length - k + 1
    if n_starts <= 0:
        raise ValueError(f"mismatches: length {length} is shorter than the motif ({k} bp)")
    out = np.zeros((len(MOTIFS), b, n_starts), dtype=np.uint8)
    for m, motif in enumerate(MOTIFS):
        for t, letter in enumerate(encode(motif)):
            out[m] += codes[:, t : t + n_starts] != letter
    return out


def position_weights(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """planted-v2 motif weights by centre nucleotide: ``(w_P, w_E)``, float64 ``[B, L]``.

    ``w_M[b, q]`` is ``w(m)`` summed over both orientations of motif M for the 11-mer starting at
    ``s = q - 5`` (0 where no 11-mer is centred on ``q``: the first and last 5 positions).
    """
    mm = mismatches(codes)
    b, length = np.asarray(codes).shape
    n_starts = mm.shape[-1]
    out = []
    for fwd, rev in ((0, 1), (2, 3)):
        w = np.zeros((b, length), dtype=np.float64)
        w[:, CENTRE : CENTRE + n_starts] = mismatch_weight(mm[fwd]) + mismatch_weight(mm[rev])
        out.append(w)
    return out[0], out[1]


def motif_weights(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """planted-v2 ``(h_P, h_E)``: float64 ``[B, L // 128]``, the summed motif weights of
    :func:`position_weights` whose centre nucleotide lies in input bin ``i`` (``[128 i, 128 (i + 1))``).

    Each bin's sum is ``n_exact + W1 * n_one_mismatch`` with integer counts, so it does not depend on
    the order of summation."""
    codes = np.asarray(codes)
    b, length = codes.shape if codes.ndim == 2 else (0, 0)
    if codes.ndim != 2 or length % law.BIN_SIZE:
        raise ValueError(f"motif_weights: codes must be [B, L] with L a multiple of {law.BIN_SIZE}, got {codes.shape}")
    mm = mismatches(codes)
    n_starts = mm.shape[-1]
    out = []
    for fwd, rev in ((0, 1), (2, 3)):
        counts = []
        for m in (0, 1):  # exact, then one mismatch: integer counts per bin
            at = np.zeros((b, length), dtype=np.int64)
            at[:, CENTRE : CENTRE + n_starts] = (mm[fwd] == m).astype(np.int64) + (mm[rev] == m)
            counts.append(at.reshape(b, length // law.BIN_SIZE, law.BIN_SIZE).sum(axis=-1))
        out.append(counts[0] + law.W1 * counts[1].astype(np.float64))
    return out[0], out[1]


def saturate(x: np.ndarray) -> np.ndarray:
    """planted-v2's output saturation ``A x / (1 + x / K_SAT)`` (float64), ``x = (prom + P0)(1 + B_c enh)``."""
    x = np.asarray(x, dtype=np.float64)
    return law.A * x / (1.0 + x / law.K_SAT)


def output_from_weights_v2(h_p: np.ndarray, h_e: np.ndarray, geometry: Geometry = PLANTED_GEOMETRY) -> np.ndarray:
    """planted-v2's output from per-bin motif weights float ``[B, L // 128]`` -> float64 ``[B, n_bins, 3]``.

    ``prom``, ``enh`` as in v1 (on the weights); CAGE ``A X / (1 + X / K_SAT)`` with
    ``X = (prom + P0)(1 + B_c enh)``; DNase ``C0 + C1 (h_P[J] + h_E[J])``.
    """
    h_p = np.asarray(h_p, dtype=np.float64)
    h_e = np.asarray(h_e, dtype=np.float64)
    n_in = check_binned(geometry).sequence_length // law.BIN_SIZE
    if h_p.ndim != 2 or h_p.shape[1] != n_in or h_e.shape != h_p.shape:
        raise ValueError(f"output_from_weights_v2: h_P, h_E must be [B, {n_in}], got {h_p.shape}, {h_e.shape}")
    prom = promoter_strength(h_p, geometry)
    enh = enhancer_activity(h_e, geometry)
    o = geometry.offset // law.BIN_SIZE
    centre = slice(o, o + geometry.n_bins)
    dnase = law.C0 + law.C1 * (h_p[:, centre] + h_e[:, centre])
    tracks = [
        saturate((prom + law.P0) * (1.0 + gain * enh)) if kind == "cage" else dnase
        for kind, gain in track_formulas()
    ]
    return np.stack(tracks, axis=-1)


def reference_output_v2(codes: np.ndarray, geometry: Geometry = PLANTED_GEOMETRY) -> np.ndarray:
    """planted-v2's output for codes uint8 ``[B, L]`` -> float64 ``[B, n_bins, 3]`` (Enformer's geometry:
    ``[B, 393216]`` -> ``[B, 896, 3]``, tracks in ``law.TRACKS`` order)."""
    codes = np.asarray(codes)
    L = check_binned(geometry).sequence_length
    if codes.ndim != 2 or codes.shape[1] != L:
        raise ValueError(f"reference_output_v2: codes must be [B, {L}], got {codes.shape}")
    return output_from_weights_v2(*motif_weights(codes), geometry)


# ------------------------------------------------------------------ the scalar law (Xpresso's twin)


def scalar_weights(length: int, anchor: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-position weights float64 ``[length]`` of promoter and enhancer hits in the scalar law.

    Positions are binned in 128-bp bins *relative to the anchor* (bin ``k`` holds
    ``[anchor + 128 k, anchor + 128 (k + 1))``, so the anchor starts bin 0, as Enformer's landmark
    starts output bin 448).  A promoter hit counts 1 in bins ``-1, 0, 1``; an enhancer hit counts
    ``g(|k| 128)``: the binned law read at the landmark, with nothing outside the input.
    """
    q = np.arange(length, dtype=np.int64)
    k = np.floor_divide(q - anchor, law.BIN_SIZE)
    w_p = (np.abs(k) <= 1).astype(np.float64)
    w_e = 1.0 / (1.0 + np.abs(k).astype(np.float64) * law.BIN_SIZE / law.D0)
    return w_p, w_e


def scalar_output(codes: np.ndarray, anchor: int) -> np.ndarray:
    """Xpresso's planted twin: ``log10`` expression ``[B]`` float64 for codes uint8 ``[B, length]``.

    ``y = log10(P0) + XP_PROMOTER * prom + XP_ENHANCER * enh`` with ``prom`` and ``enh`` the weighted hit
    sums of :func:`scalar_weights`; in natural scale ``10**y = P0 * 10**(XP_PROMOTER prom) *
    10**(XP_ENHANCER enh)``: promoter and enhancer combine multiplicatively, as in the binned law.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"scalar_output: codes must be [B, L], got shape {codes.shape}")
    length = codes.shape[1]
    hits_p, hits_e = _hits_by_position(codes)
    w_p, w_e = scalar_weights(length, anchor)
    prom = hits_p @ w_p
    enh = hits_e @ w_e
    return np.log10(law.P0) + law.XP_PROMOTER * prom + law.XP_ENHANCER * enh


def _hits_by_position(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Promoter and enhancer hits (motif or RC) by centre position, float64 ``[B, L]`` (any ``L``)."""
    b, length = codes.shape
    k = law.MOTIF_LENGTH
    n_starts = length - k + 1
    c = codes.astype(np.int32)
    h = np.zeros((b, n_starts), dtype=np.int32)
    for t in range(k):
        h *= _BASE
        h += c[:, t : t + n_starts]
    out = []
    for fwd, rev in ((0, 1), (2, 3)):
        at = np.zeros((b, length), dtype=np.float64)
        at[:, CENTRE : CENTRE + n_starts] = (h == _MOTIF_HASHES[fwd]).astype(np.float64) + (h == _MOTIF_HASHES[rev])
        out.append(at)
    return out[0], out[1]
