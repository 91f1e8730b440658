"""The GPU path's settings on CPU: members cut on the device, XLA, precision, batch size "auto".

Known answers: the host cuts the members with :func:`member_codes` (NumPy slicing); cut on the
device, the model must see the very same codes, so the values are bit-identical; the device's own
cut is also checked against a brute-force reverse complement of each member.
"""

from __future__ import annotations

import numpy as np
import pytest

from seqbench.models.device import (
    member_plan,
    predict_members_in_fixed_batches,
    rows_per_batch,
)
from seqbench.models.planted import law
from seqbench.models.planted.reference import reference_output
from seqbench.models.registry import ModelSpec, load_model
from seqbench.predict import MaterializedShard, predict_shard
from seqbench.sequence.codes import encode
from seqbench.sequence.ensemble import Ensemble, member_codes

HALF = law.MOTIF_LENGTH // 2
ENS = Ensemble((-43, 0, 43), ("+", "-"))


def _shard(n: int, seed: int) -> MaterializedShard:
    """Random windows with motifs planted near the landmark (one strand), Ns, and mixed construct strands."""
    rng = np.random.default_rng(seed)
    L = law.SEQUENCE_LENGTH
    W = L + ENS.max_shift - ENS.min_shift
    windows = rng.integers(0, 4, (n, W)).astype(np.uint8)
    landmarks = np.full(n, W // 2 - 3 * law.BIN_SIZE, dtype=np.int64) + rng.integers(-500, 500, n)
    for i in range(n):
        lm = int(landmarks[i])
        windows[i, lm - HALF : lm + HALF + 1] = encode(law.PROMOTER_MOTIF)
        for d in rng.integers(300, 40_000, 1 + i % 3):
            c = lm + int(d) * (1 if i % 2 else -1)
            windows[i, c - HALF : c + HALF + 1] = encode(law.ENHANCER_MOTIF)
        windows[i, lm + 700 : lm + 900] = 4  # a run of N
    flips = np.array([i % 3 == 1 for i in range(n)])
    return MaterializedShard(0, np.arange(n, dtype=np.int64), windows, landmarks, 0, flips)


def _brute_member(ext: np.ndarray, s: int, reverse: bool, L: int) -> np.ndarray:
    piece = ext[s : s + L]
    if not reverse:
        return piece
    comp = {0: 3, 1: 2, 2: 1, 3: 0, 4: 4}
    return np.array([comp[int(c)] for c in piece[::-1]], dtype=np.uint8)


def test_member_plan_matches_the_host_cut_and_a_brute_force_reverse_complement():
    rng = np.random.default_rng(3)
    L = 50
    ens = Ensemble((-2, 0, 5), ("+", "-"))
    windows = rng.integers(0, 5, (4, L + 7)).astype(np.uint8)
    flips = np.array([False, True, False, True])
    rows, starts, reverse = member_plan(4, list(ens.members), ens.min_shift, flips)
    for k in range(rows.size):
        i, m = divmod(k, ens.n_members)
        host = member_codes(windows[i], ens, L, flip=bool(flips[i]))[m]
        assert np.array_equal(_brute_member(windows[rows[k]], int(starts[k]), bool(reverse[k]), L), host), k


@pytest.mark.parametrize("bs,m", [(8, 6), (4, 6), (6, 6), (5, 2), (1, 6), (16, 1)])
def test_fixed_batches_send_few_windows_and_cut_every_member(bs, m):
    """A fake device that cuts the members in NumPy: every member is served, in order, from at most
    ``rows_per_batch + 1`` windows per call (the traffic the device path saves)."""
    rng = np.random.default_rng(bs * 10 + m)
    n, W, L = 7, 30, 20
    windows = rng.integers(0, 5, (n, W)).astype(np.uint8)
    members = [("+" if j % 2 == 0 else "-", j // 2) for j in range(m)]
    rows, starts, reverse = member_plan(n, members, 0, None)
    seen = []

    def run(ext, row, start, rev, bins):
        assert ext.shape == (rows_per_batch(bs, m) + 1, W) and row.shape == (bs,)
        seen.append(ext.shape[0])
        cut = np.stack([_brute_member(ext[r], int(s), bool(v), L) for r, s, v in zip(row, start, rev, strict=True)])
        return cut[:, None, :3].astype(np.float32) + bins[:, :, None]

    bins = rng.integers(0, 3, (n * m, 2)).astype(np.int32)
    out = predict_members_in_fixed_batches(run, windows, rows, starts, reverse, bins, 3, bs, m)
    want = np.stack([_brute_member(windows[r], int(s), bool(v), L)[:3] for r, s, v in zip(rows, starts, reverse,
                                                                                          strict=True)])
    np.testing.assert_array_equal(out, want[:, None, :].astype(np.float32) + bins[:, :, None])
    assert len(seen) == -(-n * m // bs)


@pytest.fixture(scope="module")
def models(cache_dir):
    host = load_model(ModelSpec(kind="planted", batch_size=4))
    device = load_model(ModelSpec(kind="planted", batch_size=4, members_on_device=True))
    return host, device


def test_members_cut_on_the_device_are_bit_identical_to_the_host_path(models):
    host, device = models
    assert not host.members_on_device and device.members_on_device  # no GPU here: the default is off
    shard = _shard(5, seed=11)
    tracks = {"cage": 0, "dnase": 1, "hepg2": 2}
    for window in (None, 20_001):
        a = predict_shard(host, shard, ENS, tracks, window=window).to_pandas()
        b = predict_shard(device, shard, ENS, tracks, window=window).to_pandas()
        for col in tracks:
            assert np.array_equal(a[col].to_numpy(), b[col].to_numpy()), (window, col)
    # and the values are the planted law's: the + member of each construct against the NumPy reference
    L = law.SEQUENCE_LENGTH
    rows = predict_shard(device, shard, Ensemble((0,), ("+",)), {"cage": 0}).to_pandas()
    for i in range(len(shard.construct_ids)):
        codes = member_codes(shard.windows[i], Ensemble((0,), ("+",)).for_geometry(device.geometry), L,
                             flip=shard.flip(i))
        ref = reference_output(codes)[0, :, 0]
        lb = int(rows["landmark_bin"].iloc[i])
        np.testing.assert_allclose(rows["cage"].iloc[i], ref[lb - 1 : lb + 2].sum(), rtol=1e-5)


def test_xla_compiled_readout_agrees_with_the_plain_one(cache_dir, models):
    host, _ = models
    xla = load_model(ModelSpec(kind="planted", batch_size=4, xla=True, members_on_device=True))
    assert xla.xla
    shard = _shard(3, seed=5)
    a = predict_shard(host, shard, ENS, {"cage": 0, "dnase": 1}).to_pandas()
    b = predict_shard(xla, shard, ENS, {"cage": 0, "dnase": 1}).to_pandas()
    np.testing.assert_allclose(b["cage"], a["cage"], rtol=1e-6)
    np.testing.assert_allclose(b["dnase"], a["dnase"], rtol=1e-6)


@pytest.mark.parametrize("neutral", [0.25, 0.0])
def test_one_hot_step_equals_the_table_bit_for_bit(neutral):
    """The readouts' one-hot step (comparisons, XLA-compiled where XLA works on a CPU-only host) gives the
    rows of :func:`one_hot_table` exactly, for uint8 and int32 codes; the table is checked against its
    definition (A, C, G, T one-hot; N ``neutral`` on every channel) by a plain loop."""
    import tensorflow as tf

    from seqbench.models.base import one_hot_table
    from seqbench.models.device import cpu_xla_one_hot, gpu_visible, one_hot_function

    table = one_hot_table(neutral)
    for code in range(5):
        assert list(table[code]) == ([1.0 if k == code else 0.0 for k in range(4)] if code < 4 else [neutral] * 4)
    codes = np.random.default_rng(3).integers(0, 5, size=(3, 10_000)).astype(np.uint8)
    # XLA works on the CPUs this suite runs on, so the compiled step is the one tested (a GPU host: the gather)
    assert cpu_xla_one_hot() or gpu_visible()
    for inline in (False, True):
        step = one_hot_function(neutral, inline=inline)
        for dtype in (tf.uint8, tf.int32):
            got = step(tf.constant(codes, dtype=dtype)).numpy()
            assert got.dtype == np.float32 and np.array_equal(got, table[codes])


def test_device_settings_a_kind_cannot_honour_are_refused_in_one_line():
    from seqbench.models.registry import check_device_settings
    from seqbench.models.tfhub import ModelLoadError

    with pytest.raises(ModelLoadError, match=r"model.precision = 'bf16': kind 'planted' .* use 'tf32'"):
        check_device_settings(ModelSpec(kind="planted", precision="bf16"))
    with pytest.raises(ModelLoadError, match="kind 'planted-xpresso' has no device path"):
        check_device_settings(ModelSpec(kind="planted-xpresso", members_on_device=True))
    check_device_settings(ModelSpec(kind="planted-basenji2", xla=True, members_on_device=True, precision="tf32"))


def test_device_settings_do_not_change_the_job_hash_but_precision_does(tmp_path):
    from seqbench.spec import parse_spec

    def h(model: dict) -> str:
        return parse_spec({"experiment": "multiplicativity", "model": {"kind": "planted", **model}},
                          origin="spec.toml", base_dir=tmp_path).content_hash()

    base = h({})
    assert h({"xla": True, "members_on_device": True, "batch_size": "auto", "precision": "fp32"}) == base
    assert h({"precision": "tf32"}) != base
