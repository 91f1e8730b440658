"""The prediction cache without Ray: keys, the store, predict_shard with a cache, corruption, verify.

Known answers: a fake model whose value is a closed form of the input codes (brute force below),
and the member inputs cut by ``member_codes`` (an independent path from the cache's keys)."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from seqbench.cache import (
    ModelCache,
    member_keys,
    model_key,
    part_files,
    resolve_root,
    verify,
    weights_digest,
)
from seqbench.models.base import Geometry
from seqbench.models.device import member_plan
from seqbench.predict import (
    CACHE_HITS_KEY,
    FORWARD_PASSES_KEY,
    MaterializedShard,
    predict_shard,
    predictions_frame,
)
from seqbench.sequence.constructs import keep_window
from seqbench.sequence.ensemble import Ensemble, member_codes, window_bins

GEOMETRY = Geometry(sequence_length=256, bin_size=32, offset=0, n_bins=8)
ENS = Ensemble(shifts=(-3, 0, 3), strands=("+", "-"), bin_window=(-1, 1))
M = ENS.n_members
TRACKS = {"cage": 5, "dnase": 1}


def _value(codes: np.ndarray, bins: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """value(input, bin, track) = 1000·track + 10·bin + (position-weighted sum of the codes) mod 97."""
    base = (codes.astype(np.int64) * (np.arange(codes.shape[1]) % 13 + 1)).sum(axis=1) % 97
    return (1000.0 * tracks[None, None, :] + 10.0 * bins[:, :, None] + base[:, None, None]).astype(np.float32)


class HostModel:
    """Members cut on the host; counts the inputs it is given."""

    geometry = GEOMETRY
    batch_size = 4
    name = "fake"

    def __init__(self) -> None:
        self.inputs = 0

    def predict(self, codes: np.ndarray, bins: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        self.inputs += codes.shape[0]
        return _value(codes, bins, np.asarray(tracks))


class DeviceModel(HostModel):
    """Members cut "on the device" (here in NumPy) from the extended windows."""

    members_on_device = True

    def predict_members(self, windows, rows, starts, reverse, bins, tracks, n_members):
        L = GEOMETRY.sequence_length
        codes = np.stack([windows[r, s : s + L] for r, s in zip(rows, starts, strict=True)])
        rc = np.minimum(codes[:, ::-1] ^ 3, codes[:, ::-1] | 4)
        codes = np.where(np.asarray(reverse)[:, None], rc, codes).astype(np.uint8)
        self.inputs += codes.shape[0]
        return _value(codes, bins, np.asarray(tracks))


def _shard(n: int, *, repeat: dict[int, int] | None = None, flips: bool = False, seed: int = 3) -> MaterializedShard:
    """``n`` random extended windows; ``repeat[i] = j``: construct i is a copy of construct j."""
    rng = np.random.default_rng(seed)
    width = GEOMETRY.sequence_length + ENS.max_shift - ENS.min_shift
    windows = rng.integers(0, 5, size=(n, width), dtype=np.uint8)
    for i, j in (repeat or {}).items():
        windows[i] = windows[j]
    fl = (np.arange(n) % 2 == 1) if flips else None
    if fl is not None:
        for i, j in (repeat or {}).items():
            fl[i] = fl[j]
    return MaterializedShard(0, np.arange(n, dtype=np.int64), windows, np.full(n, 131, dtype=np.int64), 0, fl)


def _brute_force(shard: MaterializedShard, tracks: dict[str, int], window: int | None = None) -> np.ndarray:
    """Rows [n·M, T]: every member cut by member_codes, summed over its on-output bins."""
    from seqbench.sequence.ensemble import member_landmarks

    out = []
    t = np.asarray(list(tracks.values()))
    for i in range(len(shard.construct_ids)):
        ext = shard.windows[i] if not window else keep_window(shard.windows[i], int(shard.landmarks[i]), window)
        codes = member_codes(ext, ENS, GEOMETRY.sequence_length, flip=shard.flip(i))
        lb = member_landmarks(int(shard.landmarks[i]), ENS, GEOMETRY, shard.flip(i))[1]
        bins, valid = window_bins(lb, ENS, GEOMETRY.n_bins)
        out.append((_value(codes, bins, t) * valid[:, :, None]).sum(axis=1))
    return np.concatenate(out).astype(np.float32)


def _values(table: pa.Table, tracks=TRACKS) -> np.ndarray:
    frame = predictions_frame(table)
    return frame[list(tracks)].to_numpy(np.float32)


def _counts(table: pa.Table) -> tuple[int, int]:
    meta = table.schema.metadata
    return int(meta[FORWARD_PASSES_KEY.encode()]), int(meta[CACHE_HITS_KEY.encode()])


def _cache(tmp_path, key: str = "ab" * 16) -> ModelCache:
    return ModelCache(tmp_path / "cache", key)


# ---------------------------------------------------------------- keys


def test_member_keys_equal_exactly_when_the_model_reads_the_same_input_and_bins():
    """Known answer: two members share a key iff member_codes cuts the same codes and they read the same bins."""
    shard = _shard(4, repeat={3: 0}, flips=True)
    shard.windows[2, 40:60] = 4  # a construct that differs from 1 in a stretch only
    rows, starts, reverse = member_plan(4, list(ENS.members), ENS.min_shift, shard.flips)
    from seqbench.predict import _member_bins

    _lb, bins, valid = _member_bins(shard, ENS, GEOMETRY)
    keys = member_keys(b"m" * 16, shard.windows, rows, starts, reverse, GEOMETRY.sequence_length, bins, valid)
    inputs = np.concatenate([member_codes(shard.windows[i], ENS, GEOMETRY.sequence_length, flip=shard.flip(i))
                             for i in range(4)])
    for a in range(len(keys)):
        for b in range(len(keys)):
            same = inputs[a].tobytes() == inputs[b].tobytes() and bins[a].tobytes() == bins[b].tobytes()
            assert (keys[a] == keys[b]) == same, (a, b)
    assert len(set(keys)) == 3 * M  # construct 3 is a copy of 0
    other = member_keys(b"n" * 16, shard.windows, rows, starts, reverse, GEOMETRY.sequence_length, bins, valid)
    assert not set(other) & set(keys)  # another model: no key shared


def test_model_key_names_weights_precision_and_geometry_not_the_display_name(tmp_path):
    w = tmp_path / "w"
    w.mkdir()
    (w / "a.bin").write_bytes(b"1234")
    d1 = weights_digest(str(w), tmp_path)
    assert weights_digest(str(w), tmp_path) == d1  # memoised, the same
    k = model_key("planted", "human", "fp32", GEOMETRY, d1)
    assert model_key("planted", "human", "tf32", GEOMETRY, d1) != k
    assert model_key("planted", "human", "fp32", Geometry(256, 32, 0, 7), d1) != k
    time.sleep(0.01)
    (w / "a.bin").write_bytes(b"1235")  # rewritten in place: new mtime, hashed again
    os.utime(w / "a.bin", ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert weights_digest(str(w), tmp_path) != d1
    assert weights_digest("https://tfhub.dev/x/1") == weights_digest("https://tfhub.dev/x/1")


def test_resolve_root_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("SEQBENCH_PREDICTION_CACHE", raising=False)
    assert resolve_root(None, tmp_path) == (tmp_path / "predictions").resolve()
    monkeypatch.setenv("SEQBENCH_PREDICTION_CACHE", "OFF")
    assert resolve_root(None, tmp_path) is None
    assert resolve_root(str(tmp_path / "x"), tmp_path) == (tmp_path / "x").resolve()  # the spec wins
    monkeypatch.setenv("SEQBENCH_PREDICTION_CACHE", str(tmp_path / "y"))
    assert resolve_root(None, tmp_path) == (tmp_path / "y").resolve()
    assert resolve_root("off", tmp_path) is None
    assert resolve_root(str(tmp_path / "x"), tmp_path, disabled=True) is None


# ---------------------------------------------------------------- predict_shard with a cache


@pytest.mark.parametrize("model_cls", [HostModel, DeviceModel])
@pytest.mark.parametrize("window", [None, 101])
def test_a_cache_changes_no_value_and_computes_each_member_once(tmp_path, model_cls, window):
    shard = _shard(7, repeat={5: 1, 6: 1}, flips=True)
    want = _brute_force(shard, TRACKS, window)
    plain = predict_shard(model_cls(), shard, ENS, TRACKS, window=window)
    assert _counts(plain) == (7 * M, 0)
    np.testing.assert_array_equal(_values(plain), want)

    cache = _cache(tmp_path)
    model = model_cls()
    first = predict_shard(model, shard, ENS, TRACKS, window=window, cache=cache)
    np.testing.assert_array_equal(_values(first), want)  # bit for bit
    assert _counts(first) == (5 * M, 2 * M)  # constructs 5 and 6 repeat construct 1
    assert model.inputs == 5 * M  # the model saw the computed members only
    assert first.column_names == plain.column_names

    again = _cache(tmp_path)  # a new process: the index is read from the parts
    model2 = model_cls()
    second = predict_shard(model2, shard, ENS, TRACKS, window=window, cache=again)
    assert _counts(second) == (0, 7 * M) and model2.inputs == 0
    np.testing.assert_array_equal(_values(second), want)


def test_a_partial_hit_computes_only_the_missing_members(tmp_path):
    shard = _shard(6)
    cache = _cache(tmp_path)
    sub = MaterializedShard(0, np.arange(3, dtype=np.int64), shard.windows[[0, 2, 4]], shard.landmarks[:3], 0, None)
    predict_shard(HostModel(), sub, ENS, TRACKS, cache=cache)
    model = HostModel()
    got = predict_shard(model, shard, ENS, TRACKS, cache=_cache(tmp_path))
    assert _counts(got) == (3 * M, 3 * M)
    np.testing.assert_array_equal(_values(got), _brute_force(shard, TRACKS))


def test_a_hit_needs_every_requested_track_and_entries_grow(tmp_path):
    shard = _shard(3)
    predict_shard(HostModel(), shard, ENS, {"cage": 5}, cache=_cache(tmp_path))
    both = predict_shard(HostModel(), shard, ENS, TRACKS, cache=_cache(tmp_path))
    assert _counts(both) == (3 * M, 0)  # dnase was not held: recomputed, both tracks
    np.testing.assert_array_equal(_values(both), _brute_force(shard, TRACKS))
    only = predict_shard(HostModel(), shard, ENS, {"dnase": 1}, cache=_cache(tmp_path))
    assert _counts(only) == (0, 3 * M)
    np.testing.assert_array_equal(_values(only, {"dnase": 1}), _brute_force(shard, {"dnase": 1}))


# ---------------------------------------------------------------- corruption


def _corrupt_one_value(part) -> bytes:
    """Flip a byte of one value of the part's first row, keep its check; rewrite the part. Returns the row's key."""
    t = pq.read_table(part)
    values = t.column("values").to_pylist()
    raw = bytearray(np.asarray(values[0], "<f4").tobytes())
    raw[1] ^= 0x40
    values[0] = np.frombuffer(bytes(raw), "<f4").tolist()
    t = t.set_column(2, "values", pa.array(values, pa.list_(pa.float32())))
    pq.write_table(t, part)
    return t.column("key")[0].as_py()


def test_a_corrupt_entry_is_detected_recomputed_and_never_served(tmp_path, capsys):
    shard = _shard(4)
    want = _brute_force(shard, TRACKS)
    predict_shard(HostModel(), shard, ENS, TRACKS, cache=_cache(tmp_path))
    parts = part_files(tmp_path / "cache" / ("ab" * 16) / "parts")
    assert len(parts) == 1
    _corrupt_one_value(parts[0])

    rep = verify(tmp_path / "cache")
    assert rep.corrupt and rep.corrupt_rows == 1 and rep.entries == 4 * M - 1 and rep.bad_parts == 0

    cache = _cache(tmp_path)
    model = HostModel()
    got = predict_shard(model, shard, ENS, TRACKS, cache=cache)
    assert cache.corrupt_rows == 1 and "fail their check" in capsys.readouterr().err
    assert _counts(got) == (1, 4 * M - 1)  # the corrupt member alone is computed again
    np.testing.assert_array_equal(_values(got), want)

    rep = verify(tmp_path / "cache", fix=True)
    assert rep.fixed_parts == 1
    rep = verify(tmp_path / "cache")
    assert not rep.corrupt and rep.entries == 4 * M  # the fixed part's rows + the recomputed entry


def test_an_unreadable_part_is_dropped_and_removed_by_fix(tmp_path):
    shard = _shard(2)
    predict_shard(HostModel(), shard, ENS, TRACKS, cache=_cache(tmp_path))
    part = part_files(tmp_path / "cache" / ("ab" * 16) / "parts")[0]
    part.write_bytes(part.read_bytes()[:40])  # truncated
    rep = verify(tmp_path / "cache")
    assert rep.bad_parts == 1 and rep.entries == 0
    cache = _cache(tmp_path)
    got = predict_shard(HostModel(), shard, ENS, TRACKS, cache=cache)
    assert cache.bad_parts == 1 and _counts(got) == (2 * M, 0)
    np.testing.assert_array_equal(_values(got), _brute_force(shard, TRACKS))
    rep = verify(tmp_path / "cache", fix=True)
    assert rep.removed_parts == 1
    assert not verify(tmp_path / "cache").corrupt


def test_a_cache_that_cannot_be_written_costs_reuse_not_the_job(tmp_path, capsys):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / ("ab" * 16)).write_text("a file where the model's folder would go")
    shard = _shard(2, repeat={1: 0})
    got = predict_shard(HostModel(), shard, ENS, TRACKS, cache=_cache(tmp_path))
    np.testing.assert_array_equal(_values(got), _brute_force(shard, TRACKS))
    assert _counts(got) == (M, M) and "cannot add" in capsys.readouterr().err


def test_cache_commands_verify_info_clear(tmp_path):
    from typer.testing import CliRunner

    from seqbench.cli import app

    shard = _shard(3)
    predict_shard(HostModel(), shard, ENS, TRACKS, cache=_cache(tmp_path))
    predict_shard(HostModel(), shard, ENS, {"cage": 5}, cache=_cache(tmp_path, "cd" * 16))
    root = str(tmp_path / "cache")
    run = CliRunner().invoke
    res = run(app, ["cache", "info", "--root", root, "--json"])
    assert res.exit_code == 0, res.output
    got = {m["model_key"]: m["entries"] for m in json.loads(res.output)["models"]}
    assert got == {"ab" * 16: 3 * M, "cd" * 16: 3 * M}
    assert run(app, ["cache", "verify", "--root", root]).exit_code == 0
    _corrupt_one_value(part_files(tmp_path / "cache" / ("cd" * 16) / "parts")[0])
    res = run(app, ["cache", "verify", "--root", root])
    assert res.exit_code == 1 and "1 corrupt rows" in res.output
    assert run(app, ["cache", "verify", "--root", root, "--fix"]).exit_code == 0
    assert run(app, ["cache", "verify", "--root", root]).exit_code == 0
    res = run(app, ["cache", "clear", "--root", root, "--model-key", "cd" * 16])
    assert res.exit_code == 0 and "removed 1" in res.output
    assert not (tmp_path / "cache" / ("cd" * 16)).exists() and (tmp_path / "cache" / ("ab" * 16)).exists()
