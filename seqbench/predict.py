"""The two steps between constructs and prediction rows, as plain functions (no Ray).

1. :func:`materialize_shard` (CPU): constructs -> one extended uint8 window each
   (``[n, L + max_shift − min_shift]``) and the landmark's index in it.
2. :func:`predict_shard` (model replica): every strand x shift member is cut from the
   extended windows, the model reads only ``bin_window`` around each member's landmark bin
   for the requested tracks, and the bins are summed on the spot.  One row per member:
   ``construct_id`` (int64), ``member`` (uint8, index into the model's ``Ensemble.members``,
   see :meth:`Ensemble.for_geometry`), ``landmark_bin`` (int16), ``model`` (the model's name),
   ``window`` (int32: the receptive-field window in bp, 0 for the whole input) and the track
   values: one float32 column per track label, or, from :data:`LIST_LAYOUT_MIN_TRACKS` tracks on
   (tissue-expression reads every CAGE track, 635 on Enformer), one fixed-size-list column
   ``tracks`` (float32 x T, the labels in order in the field's metadata) so that a row stays one
   column wide.  :func:`predictions_frame` reads either layout back as one column per label.

The runtime runs step 1 in CPU tasks and step 2 in GPU actors; tests and benchmarks call
them directly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from seqbench.cache import ModelCache, member_keys
from seqbench.models.base import Geometry
from seqbench.models.device import COMPLEMENT, member_plan
from seqbench.sequence.constructs import Construct, ConstructError, SourceReader, keep_window, materialize
from seqbench.sequence.ensemble import (
    Ensemble,
    check_members,
    member_codes,
    member_landmarks,
    valid_positions,
    window_bins,
)


@dataclass
class MaterializedShard:
    """Extended windows of one shard (see module docstring)."""

    shard: int
    construct_ids: np.ndarray  # int64 [n]
    windows: np.ndarray  # uint8 [n, L + span]
    landmarks: np.ndarray  # int64 [n], index into each window
    #: genome bases read for these windows that were IUPAC ambiguity codes (encoded as N)
    ambiguous: int = 0
    #: bool [n]: the construct is on the - strand (its members' strands flip; None: all on +)
    flips: np.ndarray | None = None

    def flip(self, i: int) -> bool:
        return bool(self.flips[i]) if self.flips is not None else False


#: Parquet schema metadata of a part: the genome's ambiguity codes read for the shard's windows
AMBIGUOUS_KEY = "seqbench.ambiguous_bases"
#: Parquet schema metadata of a part: members the model predicted for it (padding not counted), and
#: members served from the prediction cache or repeated in the shard (the two add up to its rows)
FORWARD_PASSES_KEY = "seqbench.forward_passes"
CACHE_HITS_KEY = "seqbench.cache_hits"
#: from this many tracks on, a row holds its values in one fixed-size-list column ``tracks``
LIST_LAYOUT_MIN_TRACKS = 16
#: the column of the list layout, and the key of its field metadata that lists the labels in order
TRACKS_COLUMN = "tracks"
TRACK_LABELS_KEY = b"seqbench.track_labels"


class ShardError(RuntimeError):
    """A construct of a shard could not be built; names the shard and the construct."""


def materialize_shard(
    shard: int,
    construct_ids: Sequence[int],
    constructs: Sequence[Construct],
    read: SourceReader | None,
    geometry: Geometry,
    ensemble: Ensemble,
    *,
    count_ambiguous: Callable[[str, int, int], int] | None = None,
    window_length: int | None = None,
    also: Sequence[Geometry] = (),
) -> MaterializedShard:
    """Extended windows of a shard (see the module docstring).

    Every construct reads its pieces from ``read`` itself: :class:`seqbench.genome.Genome` serves
    them from its cache of decoded chromosomes, so a per-shard cache of reference blocks was
    measured not to pay (``benchmarks/bench_knockdown.py`` before its removal: 0.94x the rate).

    ``geometry`` sets the input length and the landmark's place (its anchor); ``window_length`` is
    the input length the design's windows were given for (see :func:`materialize`); every member of
    ``ensemble`` must read inside the output of ``geometry`` and of each geometry in ``also`` (the
    other models that predict the same windows), else :class:`ShardError`.

    ``count_ambiguous(chrom, start, end)`` (e.g. :meth:`seqbench.genome.Genome.ambiguous_count`)
    counts the ambiguity codes of every genome piece each construct reads: the shard's
    ``ambiguous`` is their sum over constructs, whatever the sharding."""
    L = geometry.sequence_length
    width = L + ensemble.max_shift - ensemble.min_shift
    ambiguous = [0]
    if count_ambiguous is not None and read is not None:
        inner = read

        def counted(chrom: str, start: int, end: int) -> np.ndarray:
            ambiguous[0] += count_ambiguous(chrom, start, end)
            return inner(chrom, start, end)

        read = counted
    checks = [(g, ensemble.for_geometry(g)) for g in (geometry, *also)]
    # landmark positions every member reads inside each output, per strand of the construct (cached ranges)
    spans = {flip: [(valid_positions(ens, g, flip), g, ens) for g, ens in checks] for flip in (False, True)}
    windows = np.empty((len(constructs), width), dtype=np.uint8)
    landmarks = np.empty(len(constructs), dtype=np.int64)
    flips = np.zeros(len(constructs), dtype=bool)
    for i, c in enumerate(constructs):
        try:
            windows[i], landmarks[i] = materialize(
                c, read, sequence_length=L, min_shift=ensemble.min_shift, max_shift=ensemble.max_shift,
                anchor=geometry.anchor, window_length=window_length,
            )
            flips[i] = c.strand == "-"
            # a landmark whose readout bins leave the output for some member (an experiment's own
            # window can put it anywhere): refused, never predicted as 0 and averaged in
            pos = int(landmarks[i]) + ensemble.min_shift
            for span, g, ens in spans[bool(flips[i])]:
                if span is None or not span[0] <= pos <= span[1]:
                    check_members(pos, ens, g, bool(flips[i]))  # raises, naming the members off the output
        except (ConstructError, ValueError) as exc:
            raise ShardError(f"shard {shard}, construct {construct_ids[i]} ({c.key}): {exc}") from exc
    return MaterializedShard(
        shard, np.asarray(construct_ids, dtype=np.int64), windows, landmarks, ambiguous[0],
        flips if flips.any() else None,
    )


def predict_shard(
    model,
    shard: MaterializedShard,
    ensemble: Ensemble,
    tracks: dict[str, int],
    *,
    chunk: int | None = None,
    window: int | None = None,
    cache: ModelCache | None = None,
) -> pa.Table:
    """Prediction rows of a shard (see module docstring); ``tracks`` maps label -> track index.

    ``ensemble`` is the job's; the model evaluates ``ensemble.for_geometry(model.geometry)``.
    ``window`` (bp): keep only that many bases centred on the landmark, N elsewhere (None: all).
    A model with ``members_on_device`` set gets the extended windows and cuts the members itself
    (:mod:`seqbench.models.device`); the values are the same bit for bit.

    ``cache`` (the model's entries in the prediction cache, :mod:`seqbench.cache`): members it holds
    with every requested track are served from it, a member repeated in the shard is predicted once,
    and what was predicted is added to it.  The part's schema metadata records the forward passes
    made (:data:`FORWARD_PASSES_KEY`) and the members served without one (:data:`CACHE_HITS_KEY`)."""
    geometry: Geometry = model.geometry
    ensemble = ensemble.for_geometry(geometry)
    L, M = geometry.sequence_length, ensemble.n_members
    n = len(shard.construct_ids)
    track_idx = np.asarray(list(tracks.values()), dtype=np.int32)
    lbins, flat_bins, flat_valid = _member_bins(shard, ensemble, geometry)
    values = np.empty((n * M, track_idx.size), dtype=np.float32)
    passes = n * M
    if cache is not None:
        ext = masked_windows(shard, window)
        rows, starts, reverse = member_plan(n, list(ensemble.members), ensemble.min_shift, shard.flips)
        keys = member_keys(cache.key_bytes, ext, rows, starts, reverse, L, flat_bins, flat_valid)
        hit, got = cache.lookup(keys, track_idx)
        values[hit] = got[hit]
        first: dict[bytes, int] = {}
        todo: list[int] = []
        copies: list[tuple[int, int]] = []
        for j in np.flatnonzero(~hit).tolist():
            if keys[j] in first:
                copies.append((j, first[keys[j]]))
            else:
                first[keys[j]] = j
                todo.append(j)
        passes = len(todo)
        if passes == n * M:  # nothing held, nothing repeated: the same device calls as without a cache
            _predict_all(model, shard, ensemble, track_idx, flat_bins, flat_valid, values, chunk, window)
        elif todo:
            idx = np.asarray(todo, dtype=np.int64)
            values[idx] = _predict_some(model, ext, idx, rows, starts, reverse, L, track_idx, flat_bins,
                                        flat_valid, chunk)
        for j, src in copies:
            values[j] = values[src]
        if todo:
            cache.add([keys[j] for j in todo], track_idx, values[np.asarray(todo, dtype=np.int64)])
    else:
        _predict_all(model, shard, ensemble, track_idx, flat_bins, flat_valid, values, chunk, window)
    return _rows_table(model, shard, M, lbins, values, tracks, window, passes, n * M - passes)


def _member_bins(
    shard: MaterializedShard, ensemble: Ensemble, geometry: Geometry
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Landmark bin of every (construct, member) ``[n, M]`` (int32), and the bins each member reads
    ``[n·M, K]`` (int32, construct-major) with their on-output mask (float32)."""
    n, M = len(shard.construct_ids), ensemble.n_members
    lbins = np.empty((n, M), dtype=np.int32)
    for i in range(n):
        lbins[i] = member_landmarks(int(shard.landmarks[i]), ensemble, geometry, shard.flip(i))[1]
    bins, valid = window_bins(lbins, ensemble, geometry.n_bins)  # [n, M, K]
    return lbins, bins.reshape(n * M, -1), valid.reshape(n * M, -1)


def masked_windows(shard: MaterializedShard, window: int | None) -> np.ndarray:
    """The shard's extended windows as the model reads them: with ``window`` (bp) only that many bases
    centred on each landmark, N elsewhere (a new array); else the windows themselves."""
    if not window:
        return shard.windows
    out = np.empty_like(shard.windows)
    for i in range(out.shape[0]):
        keep_window(shard.windows[i], int(shard.landmarks[i]), int(window), out=out[i])
    return out


def shard_member_keys(
    model_key: bytes, shard: MaterializedShard, ensemble: Ensemble, geometry: Geometry, window: int | None = None
) -> list[bytes]:
    """The prediction-cache key of every member of a shard (construct-major), as :func:`predict_shard`
    forms them for a model of ``geometry`` (``ensemble`` is the job's)."""
    ensemble = ensemble.for_geometry(geometry)
    _lbins, flat_bins, flat_valid = _member_bins(shard, ensemble, geometry)
    rows, starts, reverse = member_plan(len(shard.construct_ids), list(ensemble.members), ensemble.min_shift,
                                        shard.flips)
    return member_keys(model_key, masked_windows(shard, window), rows, starts, reverse, geometry.sequence_length,
                       flat_bins, flat_valid)


def _predict_some(
    model, ext: np.ndarray, idx: np.ndarray, rows: np.ndarray, starts: np.ndarray, reverse: np.ndarray, L: int,
    track_idx: np.ndarray, flat_bins: np.ndarray, flat_valid: np.ndarray, chunk: int | None,
) -> np.ndarray:
    """Bin-summed values ``[len(idx), T]`` of the members ``idx`` (flat, construct-major) only.

    The host path cuts just those members; the device path sends the extended windows they read.
    Batches hold other members than without a cache: on a CPU the values are the same bit for bit
    (each input's output does not depend on its batch), on a GPU within float32 rounding."""
    bs = chunk or max(1, int(getattr(model, "batch_size", 8)))
    group = bs * max(1, 64 // bs)  # members per model call: whole device batches
    out = np.empty((idx.size, track_idx.size), dtype=np.float32)
    on_device = bool(getattr(model, "members_on_device", False))
    codes = None if on_device else np.empty((min(group, idx.size), L), dtype=np.uint8)
    for g0 in range(0, idx.size, group):
        g = idx[g0 : g0 + group]
        if on_device:
            used, local = np.unique(rows[g], return_inverse=True)
            # members of other constructs share a batch: any batch may touch up to bs windows (n_members=1)
            res = model.predict_members(ext[used], local.astype(np.int32), starts[g], reverse[g], flat_bins[g],
                                        track_idx, 1)
        else:
            c = codes[: g.size]  # type: ignore[index]
            for j, m in enumerate(g.tolist()):
                s = int(starts[m])
                piece = ext[int(rows[m]), s : s + L]
                if reverse[m]:
                    np.take(COMPLEMENT, piece[::-1], out=c[j])
                else:
                    c[j] = piece
            res = model.predict(c, flat_bins[g], track_idx)
        out[g0 : g0 + g.size] = (res * flat_valid[g, :, None]).sum(axis=1)
    return out


def _predict_all(
    model, shard: MaterializedShard, ensemble: Ensemble, track_idx: np.ndarray, flat_bins: np.ndarray,
    flat_valid: np.ndarray, values: np.ndarray, chunk: int | None, window: int | None,
) -> None:
    """Every member of the shard into ``values`` ``[n·M, T]`` (the path without a cache)."""
    L, M = model.geometry.sequence_length, ensemble.n_members
    n = len(shard.construct_ids)
    bs = chunk or max(1, int(getattr(model, "batch_size", 8)))
    # constructs per model call group: a multiple of the batch size in members, so that no
    # device batch is padded except possibly the shard's last one
    per = bs // math.gcd(bs, M)
    on_device = bool(getattr(model, "members_on_device", False))
    if on_device:  # one extended window per construct to the device; the members are cut there
        rows, starts, reverse = member_plan(n, list(ensemble.members), ensemble.min_shift, shard.flips)
        ext_buf = np.empty((min(per, n), shard.windows.shape[1]), dtype=np.uint8) if window else None
    else:
        buf = np.empty((min(per, n) * M, L), dtype=np.uint8)  # member inputs, reused per group
        masked = np.empty(shard.windows.shape[1], dtype=np.uint8) if window else None
    for i0 in range(0, n, per):
        i1 = min(n, i0 + per)
        sl = slice(i0 * M, i1 * M)
        if on_device:
            ext = shard.windows[i0:i1]
            if ext_buf is not None:
                ext = ext_buf[: i1 - i0]
                for j, i in enumerate(range(i0, i1)):
                    keep_window(shard.windows[i], int(shard.landmarks[i]), int(window), out=ext[j])
            out = model.predict_members(ext, rows[sl] - i0, starts[sl], reverse[sl], flat_bins[sl], track_idx, M)
        else:
            codes = buf[: (i1 - i0) * M]
            for j, i in enumerate(range(i0, i1)):
                ext = shard.windows[i]
                if masked is not None:
                    ext = keep_window(ext, int(shard.landmarks[i]), int(window), out=masked)
                member_codes(ext, ensemble, L, out=codes[j * M : (j + 1) * M], flip=shard.flip(i))
            out = model.predict(codes, flat_bins[sl], track_idx)  # [k*M, K, T]
        values[sl] = (out * flat_valid[sl, :, None]).sum(axis=1)


def _rows_table(
    model, shard: MaterializedShard, M: int, lbins: np.ndarray, values: np.ndarray, tracks: dict[str, int],
    window: int | None, passes: int, hits: int,
) -> pa.Table:
    """The shard's rows (see module docstring) with the counts of forward passes and cache hits."""
    n = len(shard.construct_ids)
    cols: dict[str, pa.Array] = {
        "construct_id": pa.array(np.repeat(shard.construct_ids, M)),
        "member": pa.array(np.tile(np.arange(M, dtype=np.uint8), n)),
        "landmark_bin": pa.array(lbins.reshape(-1).astype(np.int16)),
        "model": pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(n * M, dtype=np.int8)), pa.array([str(getattr(model, "name", "model"))])
        ),
        "window": pa.array(np.full(n * M, int(window or 0), dtype=np.int32)),
    }
    fields = [pa.field(k, v.type) for k, v in cols.items()]
    if len(tracks) >= LIST_LAYOUT_MIN_TRACKS:
        t = len(tracks)
        cols[TRACKS_COLUMN] = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), t)
        fields.append(pa.field(TRACKS_COLUMN, pa.list_(pa.float32(), t),
                               metadata={TRACK_LABELS_KEY: json.dumps(list(tracks)).encode()}))
    else:
        for j, label in enumerate(tracks):
            cols[label] = pa.array(values[:, j])
            fields.append(pa.field(label, pa.float32()))
    schema = pa.schema(fields, metadata={AMBIGUOUS_KEY: str(int(shard.ambiguous)), FORWARD_PASSES_KEY: str(int(passes)),
                                         CACHE_HITS_KEY: str(int(hits))})
    return pa.Table.from_arrays(list(cols.values()), schema=schema)


def track_labels(schema: pa.Schema) -> list[str] | None:
    """The labels of a list-layout prediction table, in column order (None: one column per label)."""
    if TRACKS_COLUMN not in schema.names:
        return None
    meta = schema.field(TRACKS_COLUMN).metadata or {}
    if TRACK_LABELS_KEY not in meta:
        raise ValueError(f"prediction column {TRACKS_COLUMN!r} has no track labels in its metadata")
    return list(json.loads(meta[TRACK_LABELS_KEY]))


def predictions_frame(table: pa.Table) -> pd.DataFrame:
    """Prediction rows as pandas, one float32 column per track label whichever layout they were written in.

    The list layout is unpacked without a Python loop: the flat values are reshaped to
    ``[rows, T]`` and become one float32 block of the frame."""
    labels = track_labels(table.schema)
    if labels is None:
        return table.to_pandas()
    col = table.column(TRACKS_COLUMN).combine_chunks()
    if col.null_count:
        raise ValueError(f"prediction column {TRACKS_COLUMN!r} has {col.null_count} missing rows")
    flat = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    values = flat.reshape(len(table), len(labels))
    rest = table.drop_columns([TRACKS_COLUMN]).to_pandas()
    block = pd.DataFrame(values, columns=labels, index=rest.index)
    return pd.concat([rest, block], axis=1)
