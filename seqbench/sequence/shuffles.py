"""Seeded shuffles of code arrays, and the seed derivation every experiment uses.

* :func:`shuffle_mono` permutes the positions: composition (counts of A, C, G, T, N) is kept.
* :func:`shuffle_dinuc` draws a uniformly random sequence with the same first symbol and the
  same counts of every ordered pair of neighbours (Altschul & Erickson 1985, via a random
  Eulerian path; Kandel et al. 1996).  Composition is kept as well.

Seeds are never taken from a global RNG: :func:`derive_seed` hashes the job seed, the
construct's key and the replicate number, so a shuffle is the same whatever worker, batch
or resumption produced it.

Every random choice is derived from the *raw* 64-bit output of NumPy's PCG64 bit generator
seeded through ``SeedSequence`` — a stream NumPy keeps stable across versions — never from
``Generator`` methods (``permutation``, ``integers``, ``shuffle``), whose algorithms NumPy may
change.  A permutation is the stable argsort of one raw word per position; an index below ``k``
is ``(word * k) >> 64``.  ``tests/sequence/test_shuffles.py`` pins a digest of both shuffles.
"""

from __future__ import annotations

import hashlib

import numpy as np

_ALPHABET_SIZE = 5  # A, C, G, T, N


def derive_seed(job_seed: int, key: str, replicate: int = 0) -> int:
    """A 64-bit seed from (job seed, construct key, replicate), stable across runs and machines."""
    h = hashlib.blake2b(f"{int(job_seed)}\x1f{key}\x1f{int(replicate)}".encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


class RawStream:
    """Random numbers from PCG64's raw output (stable across NumPy versions), seeded by ``seed``."""

    def __init__(self, seed: int) -> None:
        self._bits = np.random.PCG64(np.random.SeedSequence(int(seed)))

    def words(self, n: int) -> np.ndarray:
        """``n`` raw 64-bit words (uint64)."""
        return np.asarray(self._bits.random_raw(n), dtype=np.uint64)

    def below(self, k: int) -> int:
        """A uniform integer in ``[0, k)`` (multiply-high of one raw word; bias < k / 2**64)."""
        return (int(self._bits.random_raw()) * int(k)) >> 64

    def permutation(self, n: int) -> np.ndarray:
        """A uniformly random permutation of ``range(n)``: the stable argsort of ``n`` raw words."""
        return np.argsort(self.words(n), kind="stable")


def shuffle_mono(codes: np.ndarray, seed: int) -> np.ndarray:
    """A seeded random permutation of ``codes`` (1-D uint8): mononucleotide shuffle."""
    seq = np.asarray(codes, dtype=np.uint8)
    return seq[RawStream(seed).permutation(seq.size)]


def shuffle_dinuc(codes: np.ndarray, seed: int) -> np.ndarray:
    """A seeded dinucleotide-preserving shuffle of ``codes`` (1-D uint8).

    Keeps the first and the last symbol and the count of every ordered neighbour pair.
    Random Eulerian path: pick, for each symbol except the last one, a random *last* exit
    edge so that those edges form a tree towards the last symbol; shuffle the remaining exits
    of each symbol; then walk from the first symbol.
    """
    seq = np.asarray(codes, dtype=np.uint8)
    n = seq.size
    if n <= 2:
        return seq.copy()
    rng = RawStream(seed)
    # exits[a] = list of successors of symbol a, in sequence order
    exits: list[list[int]] = [[] for _ in range(_ALPHABET_SIZE)]
    for a, b in zip(seq[:-1].tolist(), seq[1:].tolist(), strict=True):
        exits[a].append(b)
    last = int(seq[-1])
    present = [a for a in range(_ALPHABET_SIZE) if exits[a] or a == last]
    # Wilson-style random arborescence rooted at `last`: random walks on the exit multigraph,
    # choosing each vertex's last exit by a uniformly random edge (loop-erased walk).
    in_tree = {last}
    last_exit: dict[int, int] = {}
    for start in present:
        u = start
        nxt: dict[int, int] = {}
        while u not in in_tree:
            choice = exits[u][rng.below(len(exits[u]))]
            nxt[u] = choice
            u = choice
        u = start
        while u not in in_tree:
            last_exit[u] = nxt[u]
            in_tree.add(u)
            u = nxt[u]
    ordered: list[list[int]] = []
    for a in range(_ALPHABET_SIZE):
        succ = list(exits[a])
        if a in last_exit:
            succ.remove(last_exit[a])
        succ = [succ[i] for i in rng.permutation(len(succ)).tolist()]
        if a in last_exit:
            succ.append(last_exit[a])
        ordered.append(succ)
    out = np.empty(n, dtype=np.uint8)
    out[0] = seq[0]
    pos = [0] * _ALPHABET_SIZE
    u = int(seq[0])
    for i in range(1, n):
        v = ordered[u][pos[u]]
        pos[u] += 1
        out[i] = v
        u = v
    return out


def shuffle(codes: np.ndarray, seed: int, kind: str = "mono") -> np.ndarray:
    """Dispatch on ``kind``: ``"mono"`` or ``"di"``."""
    if kind == "mono":
        return shuffle_mono(codes, seed)
    if kind == "di":
        return shuffle_dinuc(codes, seed)
    raise ValueError(f"shuffle kind must be 'mono' or 'di', got {kind!r}")
