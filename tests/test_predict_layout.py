"""Prediction rows with many tracks: one fixed-size-list column, read back as one column per label."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from seqbench.models.base import Geometry
from seqbench.predict import (
    LIST_LAYOUT_MIN_TRACKS,
    TRACKS_COLUMN,
    MaterializedShard,
    predict_shard,
    predictions_frame,
    track_labels,
)
from seqbench.sequence.ensemble import Ensemble

GEOMETRY = Geometry(sequence_length=1024, bin_size=128, offset=0, n_bins=8)
ENS = Ensemble(shifts=(0,), strands=("+", "-"), bin_window=(-1, 1))


class _Model:
    """value(member, bin, track) = 1000 * track + 10 * bin + (sum of codes of the input) % 7."""

    geometry = GEOMETRY
    batch_size = 4
    name = "fake"

    def predict(self, codes: np.ndarray, bins: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        base = codes.astype(np.int64).sum(axis=1) % 7  # [B]
        return (1000.0 * tracks[None, None, :] + 10.0 * bins[:, :, None] + base[:, None, None]).astype(np.float32)


def _shard(n: int) -> MaterializedShard:
    rng = np.random.default_rng(3)
    windows = rng.integers(0, 4, size=(n, GEOMETRY.sequence_length), dtype=np.uint8)
    return MaterializedShard(0, np.arange(n, dtype=np.int64), windows, np.full(n, 512, dtype=np.int64), 0, None)


def _expected(shard: MaterializedShard, tracks: dict[str, int]) -> dict[str, np.ndarray]:
    """Brute force: per member, the sum over the landmark bin +- 1 of the fake model's value."""
    out: dict[str, list[float]] = {k: [] for k in tracks}
    for i in range(len(shard.construct_ids)):
        for strand in ENS.strands:
            seq = shard.windows[i] if strand == "+" else (3 - shard.windows[i])[::-1]
            lb = 4 if strand == "+" else 3  # position 512 -> bin 4; on - it sits at 511 -> bin 3
            base = int(seq.astype(np.int64).sum()) % 7
            for label, t in tracks.items():
                out[label].append(sum(1000.0 * t + 10.0 * b + base for b in (lb - 1, lb, lb + 1)))
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def test_many_tracks_are_one_list_column_and_read_back_per_label(tmp_path):
    shard = _shard(5)
    tracks = {f"cage_{t}": t for t in range(3, 3 + LIST_LAYOUT_MIN_TRACKS + 4)}
    table = predict_shard(_Model(), shard, ENS, tracks)
    assert TRACKS_COLUMN in table.column_names and not set(tracks) & set(table.column_names)
    assert table.schema.field(TRACKS_COLUMN).type == pa.list_(pa.float32(), len(tracks))
    path = tmp_path / "part-0.parquet"
    pq.write_table(table, path)
    back = pq.read_table(path)
    assert track_labels(back.schema) == list(tracks)
    frame = predictions_frame(pa.concat_tables([back, back]))
    want = _expected(shard, tracks)
    n = len(want["cage_3"])
    for label in tracks:
        assert frame[label].dtype == np.float32
        np.testing.assert_array_equal(frame[label].to_numpy()[:n], want[label])
        np.testing.assert_array_equal(frame[label].to_numpy()[n:], want[label])
    assert list(frame.columns[:5]) == ["construct_id", "member", "landmark_bin", "model", "window"]


def test_few_tracks_keep_one_column_each():
    shard = _shard(3)
    tracks = {"cage": 5, "dnase": 1}
    table = predict_shard(_Model(), shard, ENS, tracks)
    assert track_labels(table.schema) is None and {"cage", "dnase"} <= set(table.column_names)
    frame = predictions_frame(table)
    want = _expected(shard, tracks)
    for label in tracks:
        np.testing.assert_array_equal(frame[label].to_numpy(), want[label])
