"""The Xpresso adapter against its planted twin (a Keras 2 ``.h5`` with Xpresso's two inputs and scalar output).

The twin is built once for the module and loaded through :class:`XpressoModel`, the adapter Kipoi's
``human_median`` file goes through.  Expected numbers are derived from the constants of
:mod:`seqbench.models.planted.law` and from the geometry (anchor 7,000), never hard-coded.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from seqbench.models.base import XPRESSO_GEOMETRY, Geometry, TrackTable
from seqbench.models.planted import law
from seqbench.models.planted.reference import MOTIFS, one_hot, scalar_output
from seqbench.models.planted.twins import (
    METADATA_FILE,
    XPRESSO_TWIN_FILE,
    XPRESSO_TWIN_NAME,
    XPRESSO_TWIN_TARGETS,
    ensure_xpresso_twin,
    is_xpresso_twin_complete,
)
from seqbench.models.tfhub import ModelLoadError
from seqbench.sequence.codes import N, encode

tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")

from seqbench.models.xpresso import XpressoModel, xpresso_tracks  # noqa: E402

G = XPRESSO_GEOMETRY
L = G.sequence_length
TSS = G.landmark_position  # 7,000
BIN = law.BIN_SIZE
HALF = law.MOTIF_LENGTH // 2
P_FWD, P_RC, E_FWD, E_RC = MOTIFS


def plant(row: np.ndarray, centre: int, motif: str) -> None:
    row[centre - HALF : centre - HALF + law.MOTIF_LENGTH] = encode(motif)


def g_at(q: int) -> float:
    """The scalar law's enhancer weight for a hit centred at input position ``q``: bins counted from the TSS."""
    return law.decay(abs((q - TSS) // BIN) * BIN)


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_xpresso_twin(tmp_path_factory.mktemp("seqbench-cache"))


@pytest.fixture(scope="module")
def tracks(twin: Path) -> TrackTable:
    return TrackTable.from_targets_file(str(twin / XPRESSO_TWIN_TARGETS))


@pytest.fixture(scope="module")
def model(twin: Path, tracks: TrackTable) -> XpressoModel:
    return XpressoModel(str(twin / XPRESSO_TWIN_FILE), name=XPRESSO_TWIN_NAME, tracks=tracks, batch_size=3)


def predict(model: XpressoModel, codes: np.ndarray) -> np.ndarray:
    """``10**y`` per input, float64 ``[B]``."""
    n = codes.shape[0]
    return model.predict(codes, np.zeros((n, 1), np.int32), np.zeros(1, np.int32))[:, 0, 0].astype(np.float64)


def test_twin_has_xpressos_interface(twin: Path, model: XpressoModel) -> None:
    raw = tf_keras.models.load_model(str(twin / XPRESSO_TWIN_FILE), compile=False)  # no custom objects
    assert [tuple(s) for s in raw.input_shape] == [(None, L, 4), (None, 6)]
    assert tuple(raw.output_shape) == (None, 1)
    # the half-life features have no effect (seqbench feeds zeros, as Kipoi and the paper did)
    x = one_hot(np.random.default_rng(1).integers(0, 4, size=(2, L)).astype(np.uint8), 0.0)
    y0 = raw([x, np.zeros((2, 6), np.float32)]).numpy()
    y1 = raw([x, np.full((2, 6), 3.0, np.float32)]).numpy()
    np.testing.assert_array_equal(y0, y1)

    meta = json.loads((twin / METADATA_FILE).read_text())
    assert meta["name"] == XPRESSO_TWIN_NAME and meta["kind"] == "planted-xpresso"
    assert "not Xpresso" in meta["note"]
    assert Geometry(**meta["geometry"]) == G and G.scalar and G.anchor == TSS
    assert is_xpresso_twin_complete(twin) and ensure_xpresso_twin(twin.parent.parent) == twin
    assert model.geometry == G and model.neutral_value == 0.0 and len(model.tracks) == 1


def test_adapter_equals_the_reference(model: XpressoModel) -> None:
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 4, size=(4, L), dtype=np.uint8)  # one batch of 3, one padded
    for row in codes:
        for motif in MOTIFS:
            for centre in rng.integers(HALF, L - HALF, size=12):
                plant(row, int(centre), motif)
    plant(codes[0], TSS, P_RC)
    plant(codes[0], TSS - BIN - 1, P_FWD)  # bin -2 from the TSS: outside the promoter window
    plant(codes[1], TSS + 2 * BIN - 1, P_FWD)  # last base of bin +1: inside
    codes[2, 3_000:5_000] = N  # N = 0 on every channel: no hit
    bins = np.zeros((4, 2), np.int32)
    got = model.predict(codes, bins, np.array([0], np.int32))
    assert got.shape == (4, 2, 1) and got.dtype == np.float32
    want = 10.0 ** scalar_output(codes, TSS)
    np.testing.assert_allclose(got[:, 0, 0], want, rtol=1e-5)
    np.testing.assert_array_equal(got[:, 0, 0], got[:, 1, 0])
    assert want.max() > law.P0 * 10**law.XP_PROMOTER  # the promoters near the TSS count


def test_enhancer_outside_the_input_has_no_effect_inside_it_does(model: XpressoModel) -> None:
    """A gene at ``T`` of a longer locus: the input is ``[T - 7000, T + 3500)``, the TSS at 7,000."""
    rng = np.random.default_rng(2)
    locus_len, tss = 40_000, 20_000
    locus = rng.choice(np.array([0, 1], np.uint8), size=locus_len)  # A/C only: no motif forms
    plant(locus, tss, P_FWD)
    start = tss - TSS

    def window(enhancer_at: int | None) -> np.ndarray:
        seq = locus.copy()
        if enhancer_at is not None:
            plant(seq, enhancer_at, E_FWD)
        return seq[start : start + L]

    outside_up, outside_down = tss - TSS - 500, tss + (L - TSS) + 500  # cannot be in the input at all
    straddling = start + HALF - 3  # its first bases fall off the input: no complete motif in it
    inside = (tss - 3_000, tss + 2_000, tss + 64)
    codes = np.stack([window(None), window(outside_up), window(outside_down), window(straddling)]
                     + [window(q) for q in inside])  # fmt: skip
    y = np.log10(predict(model, codes))
    y_base = math.log10(law.P0) + law.XP_PROMOTER * 1.0
    np.testing.assert_allclose(y[:4], y_base, rtol=1e-6)
    for k, q in enumerate(inside):
        np.testing.assert_allclose(y[4 + k] - y[0], law.XP_ENHANCER * g_at(q - start), rtol=1e-4)
    np.testing.assert_allclose(y, scalar_output(codes, TSS), rtol=1e-6)


def test_only_bin_zero_and_track_zero(model: XpressoModel) -> None:
    codes = np.full((2, L), N, np.uint8)
    with pytest.raises(ValueError, match="bin -1 requested.*only bin is 0"):
        model.predict(codes, np.array([[-1, 0, 1]] * 2, np.int32), np.zeros(1, np.int32))
    with pytest.raises(ValueError, match="track 1 requested"):
        model.predict(codes, np.zeros((2, 1), np.int32), np.array([0, 1], np.int32))
    all_n = predict(model, codes)  # no motif at all: P0
    np.testing.assert_allclose(all_n, law.P0, rtol=1e-6)


def test_encoding_and_input_order_of_another_file(tmp_path: Path) -> None:
    """An Xpresso-shaped file with the half-life input first: y = mean one-hot channel sum + sum of the half-life
    features.  N reaches the model as 0 on every channel, the half-life features as zeros, and 10**y comes out."""
    halflife = tf_keras.Input((6,), name="halflife")
    seq = tf_keras.Input((L, 4), name="promoter")
    dense = tf_keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    from_seq = dense(tf_keras.layers.GlobalAveragePooling1D()(seq))
    from_hl = tf_keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")(halflife)
    y = tf_keras.layers.Add()([from_seq, from_hl])
    path = tmp_path / "swapped.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tf_keras.Model([halflife, seq], y).save(str(path), save_format="h5")
    m = XpressoModel(str(path), name="x", tracks=xpresso_tracks(), batch_size=2)
    codes = np.zeros((3, L), np.uint8)
    codes[1] = N
    codes[2, : L // 4] = N
    got = predict(m, codes)
    np.testing.assert_allclose(got, 10.0 ** np.array([1.0, 0.0, 0.75]), rtol=1e-6)


def test_file_with_one_input_is_refused(tmp_path: Path) -> None:
    x = tf_keras.Input((L, 4))
    y = tf_keras.layers.Dense(1)(tf_keras.layers.GlobalAveragePooling1D()(x))
    path = tmp_path / "one_input.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tf_keras.Model(x, y).save(str(path), save_format="h5")
    with pytest.raises(ModelLoadError) as exc:
        XpressoModel(str(path), name="x", tracks=xpresso_tracks())
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    assert f"1 input(s) [None, {L}, 4]" in msg and "expected two inputs" in msg
