"""Nucleotide codes: the one representation sequences travel in.

A sequence is a 1-D ``numpy.ndarray`` of dtype ``uint8`` with the codes
``A=0, C=1, G=2, T=3, N=4`` (5 symbols).  Windows of 393,216 bp are 393 KB as codes
and 6.3 MB as float32 one-hot, so one-hot encoding is left to the model, on its device.

Lower-case input is upper-cased (soft-masking is ignored).  Any other character is
refused with a :class:`SequenceError` naming the first bad position.
"""

from __future__ import annotations

import numpy as np

A, C, G, T, N = 0, 1, 2, 3, 4
ALPHABET = "ACGTN"

_ENCODE = np.full(256, 255, dtype=np.uint8)
for _i, _ch in enumerate(ALPHABET):
    _ENCODE[ord(_ch)] = _i
    _ENCODE[ord(_ch.lower())] = _i
_DECODE = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)

#: complement of each code (A<->T, C<->G, N<->N)
COMPLEMENT = np.array([T, G, C, A, N], dtype=np.uint8)


class SequenceError(ValueError):
    """A sequence contains something other than A, C, G, T or N."""


def encode(seq: str | bytes, *, what: str = "sequence") -> np.ndarray:
    """Encode a DNA string as uint8 codes (A,C,G,T,N = 0..4), case-insensitive.

    ``what`` names the sequence in the error message (for example a table row).
    """
    raw = seq.encode("ascii", errors="replace") if isinstance(seq, str) else bytes(seq)
    codes = _ENCODE[np.frombuffer(raw, dtype=np.uint8)]
    bad = np.flatnonzero(codes == 255)
    if bad.size:
        pos = int(bad[0])
        ch = raw[pos : pos + 1].decode("ascii", errors="replace")
        raise SequenceError(
            f"{what}: character {ch!r} at position {pos} (0-based) is not one of A, C, G, T, N"
            f" ({bad.size} such character(s))"
        )
    return codes


def decode(codes: np.ndarray) -> str:
    """Decode uint8 codes back to an upper-case string."""
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.size and int(codes.max()) > N:
        raise SequenceError(f"code {int(codes.max())} is outside 0..4")
    return _DECODE[codes].tobytes().decode("ascii")


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of codes along the last axis (works on a batch ``[B, L]`` too)."""
    return COMPLEMENT[np.asarray(codes)[..., ::-1]]
