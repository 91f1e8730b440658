"""What the prediction cache saves a job, before it runs (``seqbench-ray plan``; no Ray, no model loaded).

Every construct is built and materialized as the job would (reading the genome), and every
member's key formed as :func:`seqbench.predict.predict_shard` forms it; the job will compute each
distinct member the cache does not hold once (one replica; with several, a member repeated on two
replicas may be computed by each), so ``saved = members − (distinct − held)``.  The cost is the
materialization and the hashing, about what the CPU side of the job spends: milliseconds per
Enformer construct.  Above ``max_constructs`` constructs an evenly spaced sample is checked and
the counts scaled up (said so: ``sampled``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqbench.cache import ModelCache
from seqbench.predict import materialize_shard, shard_member_keys
from seqbench.sequence.ensemble import Ensemble

#: constructs ``plan`` checks before it samples
DEFAULT_MAX_CONSTRUCTS = 20_000


@dataclass(frozen=True)
class CacheModel:
    """One model of a group as the check needs it."""

    geometry: Any  # seqbench.models.base.Geometry
    windows: tuple[int, ...]  # bp, 0 = the whole input (one per variant of the model)
    tracks: np.ndarray  # int32 track indices the job reads
    cache: ModelCache


@dataclass(frozen=True)
class Savings:
    """Forward passes of one model: the job's members, its distinct members, those the cache holds."""

    members: int
    distinct: int
    held: int
    constructs: int
    checked: int  # constructs checked (< constructs: a sample, counts scaled up)
    #: distinct members held only without some requested track (computed again: a hit needs every track)
    other_tracks: int = 0

    @property
    def computed(self) -> int:
        """Forward passes the job will make (one replica)."""
        return self.distinct - self.held

    @property
    def saved(self) -> int:
        return self.members - self.computed

    @property
    def sampled(self) -> bool:
        return self.checked < self.constructs

    def lines(self) -> list[str]:
        approx = "≈ " if self.sampled else ""
        out = [
            f"prediction cache:  {approx}{self.saved:,} of {self.members:,} forward passes saved"
            f" ({approx}{self.held:,} members held, {approx}{self.members - self.distinct:,} repeated in the job);"
            f" {approx}{self.computed:,} to compute",
        ]
        if self.other_tracks:
            out.append(f"                   ({approx}{self.other_tracks:,} more held without every requested track;"
                       " a job reading the same tracks, or fewer, would reuse them)")
        if self.sampled:
            out.append(f"                   (from {self.checked:,} of {self.constructs:,} constructs, evenly spaced;"
                       " repeats across the unchecked ones are not counted)")
        return out


def sample_ids(n: int, max_constructs: int) -> np.ndarray:
    """All construct ids, or ``max_constructs`` evenly spaced ones."""
    if n <= max_constructs:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, max_constructs).round().astype(np.int64))


def cache_savings(
    n_constructs: int,
    build: Callable[[int], Any],
    read: Any,
    ensemble: Ensemble,
    models: Sequence[CacheModel],
    *,
    window_length: int | None = None,
    max_constructs: int = DEFAULT_MAX_CONSTRUCTS,
    shard_size: int = 32,
) -> list[Savings]:
    """:class:`Savings` of each model of one group (models reading the same windows; the first's geometry
    materializes them, as the job does).  ``build(i)`` is construct ``i``; ``read`` the genome reader."""
    ids = sample_ids(n_constructs, max_constructs)
    first = models[0].geometry
    also = tuple(m.geometry for m in models[1:])
    seen: list[set[bytes]] = [set() for _ in models]
    counted = [0] * len(models)
    for k0 in range(0, ids.size, shard_size):
        chunk = ids[k0 : k0 + shard_size].tolist()
        shard = materialize_shard(0, chunk, [build(i) for i in chunk], read, first, ensemble,
                                  window_length=window_length, also=also)
        for j, m in enumerate(models):
            for w in m.windows:
                keys = shard_member_keys(m.cache.key_bytes, shard, ensemble, m.geometry, w or None)
                counted[j] += len(keys)
                seen[j].update(keys)
    scale = n_constructs / max(1, ids.size)
    out = []
    for j, m in enumerate(models):
        distinct = list(seen[j])
        hit = m.cache.lookup(distinct, m.tracks)[0] if distinct else np.zeros(0, bool)
        held = int(hit.sum())
        other = sum(1 for k, h in zip(distinct, hit, strict=True) if not h and m.cache.holds(k))
        members = n_constructs * ensemble.for_geometry(m.geometry).n_members * len(m.windows)
        if ids.size < n_constructs:
            out.append(Savings(members, round(len(distinct) * scale), round(held * scale), n_constructs, ids.size,
                               round(other * scale)))
        else:
            assert counted[j] == members
            out.append(Savings(members, len(distinct), held, n_constructs, ids.size, other))
    return out
