"""The TF-Hub adapter: on-device one-hot, gather of requested bins and tracks, load errors."""

from __future__ import annotations

import numpy as np
import pytest

from seqbench.models.registry import ModelSpec, describe, load_model
from seqbench.models.tfhub import ModelLoadError, load_hub_object


@pytest.fixture(scope="module")
def planted(cache_dir):
    return load_model(ModelSpec(kind="planted", batch_size=3))


def test_predict_returns_only_requested_bins_and_tracks(planted):
    import tensorflow as tf

    from seqbench.models.planted.reference import one_hot

    rng = np.random.default_rng(0)
    L = planted.geometry.sequence_length
    codes = rng.integers(0, 5, size=(4, L)).astype(np.uint8)  # 4 inputs: one padded batch of 3 + 1
    motif = np.frombuffer(b"GCTATAAAAGC", np.uint8)
    lut = np.zeros(256, np.uint8)
    lut[list(b"ACGT")] = [0, 1, 2, 3]
    codes[:, 196_600:196_611] = lut[motif]  # a promoter hit so the outputs are not all baseline
    bins = np.array([[447, 448, 449], [0, 895, 448], [5, 5, 5], [448, 447, 446]], np.int32)
    tracks = np.array([2, 0], np.int32)
    got = planted.predict(codes, bins, tracks)
    assert got.shape == (4, 3, 2) and got.dtype == np.float32
    full = planted._fn(tf.constant(one_hot(codes)))["human"].numpy()  # [4, 896, 3], N = 0.25
    want = np.stack([full[i][bins[i]][:, tracks] for i in range(4)])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got[0, 1, 1] > got[2, 0, 1]  # the planted promoter shows at its bin


def test_unreachable_url_suggests_local_path(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModelLoadError, match="TFHUB_CACHE_DIR"):
        load_hub_object("http://127.0.0.1:9/deepmind/enformer/1")


def test_missing_local_handle_is_refused_before_loading(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file or directory"):
        describe(ModelSpec(kind="enformer", handle=str(tmp_path / "nope")))
