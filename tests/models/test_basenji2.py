"""The Basenji2 adapter against its planted twin (a Keras 2 ``.h5`` with Basenji2's interface and geometry).

The twin is built once for the module and loaded through :class:`Basenji2Model`, the adapter the real
cross2020 ``model_human.h5`` goes through.  Expected numbers are derived from the constants of
:mod:`seqbench.models.planted.law` and from the geometry, never hard-coded (the §0.3 landmark table
of experiments-spec is the one exception: the geometry must reproduce it).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from seqbench.models.base import BASENJI2_AUTHORS_GEOMETRY, BASENJI2_GEOMETRY, Geometry, TrackTable
from seqbench.models.planted import law
from seqbench.models.planted.reference import MOTIFS, motif_hits, reference_output
from seqbench.models.planted.twins import (
    BASENJI2_TWIN_FILE,
    BASENJI2_TWIN_NAME,
    BASENJI2_TWIN_TARGETS,
    METADATA_FILE,
    ensure_basenji2_twin,
    is_basenji2_twin_complete,
)
from seqbench.models.tfhub import ModelLoadError
from seqbench.sequence.codes import N, encode, reverse_complement

tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")
h5py = pytest.importorskip("h5py")

from seqbench.models.basenji2 import Basenji2Model, custom_objects  # noqa: E402

G = BASENJI2_GEOMETRY
L = G.sequence_length
BIN = law.BIN_SIZE
HALF = law.MOTIF_LENGTH // 2
P_FWD, P_RC, E_FWD, E_RC = MOTIFS
CAGE_K562, DNASE_K562, CAGE_HEPG2 = 0, 1, 2  # law.TRACKS order (checked in test_planted.py)


def plant(row: np.ndarray, centre: int, motif: str) -> None:
    row[centre - HALF : centre - HALF + law.MOTIF_LENGTH] = encode(motif)


def background(n: int, length: int = L, seed: int = 3) -> np.ndarray:
    """``n`` copies of a random A/C sequence: no motif (each has G or T) can form in it."""
    rng = np.random.default_rng(seed)
    return np.tile(rng.choice(np.array([0, 1], np.uint8), size=length), (n, 1))


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_basenji2_twin(tmp_path_factory.mktemp("seqbench-cache"))


@pytest.fixture(scope="module")
def tracks(twin: Path) -> TrackTable:
    return TrackTable.from_targets_file(str(twin / BASENJI2_TWIN_TARGETS))


@pytest.fixture(scope="module")
def model(twin: Path, tracks: TrackTable) -> Basenji2Model:
    return Basenji2Model(str(twin / BASENJI2_TWIN_FILE), name=BASENJI2_TWIN_NAME, tracks=tracks, batch_size=3)


# ------------------------------------------------------------------------------------ the twin's file


def _layer_classes(path: Path) -> set[str]:
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
    return {layer["class_name"] for layer in config["config"]["layers"]}


def test_twin_is_a_plain_keras2_h5_with_basenji2s_interface(twin: Path) -> None:
    classes = _layer_classes(twin / BASENJI2_TWIN_FILE)
    assert {"StochasticShift", "GELU", "Cropping1D"} <= classes
    assert not any("Lambda" in c for c in classes)
    assert all(c in custom_objects() or hasattr(tf_keras.layers, c) for c in classes)
    with pytest.raises(ValueError, match="GELU|StochasticShift"):  # it needs basenji's custom objects
        tf_keras.models.load_model(str(twin / BASENJI2_TWIN_FILE), compile=False)
    raw = tf_keras.models.load_model(str(twin / BASENJI2_TWIN_FILE), custom_objects=custom_objects(), compile=False)
    assert tuple(raw.input_shape) == (None, L, 4)
    assert tuple(raw.output_shape) == (None, G.n_bins, len(law.TRACKS))

    meta = json.loads((twin / METADATA_FILE).read_text())
    assert meta["name"] == BASENJI2_TWIN_NAME and meta["kind"] == "planted-basenji2"
    assert "not Basenji2" in meta["note"]
    assert Geometry(**meta["geometry"]) == G
    rows = [line.split("\t") for line in (twin / BASENJI2_TWIN_TARGETS).read_text().splitlines()[1:]]
    assert [(int(r[0]), r[2], r[7]) for r in rows] == list(law.TRACKS)
    assert is_basenji2_twin_complete(twin)
    assert ensure_basenji2_twin(twin.parent.parent) == twin  # not rebuilt


def test_geometry_is_read_from_the_file(model: Basenji2Model) -> None:
    g = model.geometry
    assert g.sequence_length == L and g.n_bins == G.n_bins and g.bin_size == BIN
    assert g.offset == (g.sequence_length - g.n_bins * g.bin_size) // 2  # symmetric crop
    assert g == BASENJI2_GEOMETRY != BASENJI2_AUTHORS_GEOMETRY
    assert model.neutral_value == 0.25 and model.batch_size == 3 and len(model.tracks) == len(law.TRACKS)


# ------------------------------------------------------------------------------- agreement with the law


@pytest.fixture(scope="module")
def planted_batch() -> np.ndarray:
    """Four random sequences (one batch of 3 and one padded) with motifs of both orientations and N runs."""
    rng = np.random.default_rng(20240612)
    codes = rng.integers(0, 4, size=(4, L), dtype=np.uint8)
    for row in codes:
        for motif in MOTIFS:
            for centre in rng.integers(HALF, L - HALF, size=60):
                plant(row, int(centre), motif)
    lo = G.offset
    for centre, motif in [(lo + 448 * BIN, P_FWD), (lo + 449 * BIN - 1, P_RC), (lo + 450 * BIN + 9, E_FWD),
                          (lo - BIN - 7, P_FWD), (HALF, E_RC), (L - 1 - HALF, P_RC)]:  # fmt: skip
        plant(codes[0], centre, motif)
    for start in rng.integers(0, L - 3_000, size=8):
        codes[1, start : start + int(rng.integers(1, 3_000))] = N
    return codes


def test_adapter_equals_the_reference(model: Basenji2Model, planted_batch: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    bins = rng.integers(0, G.n_bins, size=(4, 7)).astype(np.int32)
    bins[0, :3] = [447, 448, 449]
    bins[:, -1] = [0, G.n_bins - 1, 448, 448]
    tracks = np.array([CAGE_HEPG2, CAGE_K562, DNASE_K562], np.int32)
    got = model.predict(planted_batch, bins, tracks)
    assert got.shape == (4, 7, 3) and got.dtype == np.float32
    ref = reference_output(planted_batch, G)
    want = np.stack([ref[b][bins[b]][:, tracks] for b in range(4)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=0)
    # the batch exercises the law: promoters and enhancers do move the tracks
    h_p, h_e = motif_hits(planted_batch)
    assert h_p.sum() > 100 and h_e.sum() > 100
    assert want[..., 1].max() > law.A * (1 + law.P0) and want[..., 2].max() >= law.C0 + law.C1


# --------------------------------------------------------------------------------- landmarks and strands


def landmark(shift: int, strand: str, g: Geometry = G) -> int:
    """Input position of the landmark of a member with shift ``s`` (docs/geometry.md): ``L//2 - s`` on the
    + strand; the − strand member is the reverse complement of the whole input, so ``L - 1 - (L//2 - s)``."""
    p = g.landmark_position - shift
    return p if strand == "+" else g.sequence_length - 1 - p


def test_landmark_bins_match_experiments_spec_table() -> None:
    shifts = (43, 0, -43)  # seqbench's s = -offset of the spec's table (docs/geometry.md)
    fwd = [int(G.bin_of(landmark(s, "+"))) for s in shifts]
    rev = [int(G.bin_of(landmark(s, "-"))) for s in shifts]
    centre_bin = G.n_bins // 2
    assert fwd == [centre_bin - 1, centre_bin, centre_bin]  # spec §0.3: 447 / 448 / 448
    assert rev == [centre_bin, centre_bin - 1, centre_bin - 1]  # 448 / 447 / 447
    # the paper's code (§13 B1) read 64 bins further downstream in input coordinates
    authors = [int(BASENJI2_AUTHORS_GEOMETRY.bin_of(landmark(s, "+"))) for s in shifts]
    assert [a - f for a, f in zip(authors, fwd, strict=True)] == [G.offset // BIN] * 3


@pytest.mark.parametrize("strand", ["+", "-"])
def test_promoter_at_the_landmark_peaks_in_the_landmark_bin(model: Basenji2Model, strand: str) -> None:
    shifts = (43, 0, -43)
    codes = background(len(shifts))
    for row, s in zip(codes, shifts, strict=True):
        plant(row, G.landmark_position - s, P_FWD)
    if strand == "-":
        codes = reverse_complement(codes)
    every_bin = np.tile(np.arange(G.n_bins, dtype=np.int32), (len(shifts), 1))
    out = model.predict(codes, every_bin, np.array([CAGE_K562, DNASE_K562], np.int32)).astype(np.float64)
    for b, s in enumerate(shifts):
        j = int(G.bin_of(landmark(s, strand)))
        assert int(np.argmax(out[b, :, 1])) == j  # DNase: the hit's own bin
        peak = np.flatnonzero(out[b, :, 0] == out[b, :, 0].max())
        assert list(peak) == [j - 1, j, j + 1]  # CAGE: prom spans J-1..J+1, centred on the landmark
        np.testing.assert_allclose(out[b, j, 0], law.A * (1 + law.P0), rtol=1e-6)
        j_authors = int(BASENJI2_AUTHORS_GEOMETRY.bin_of(landmark(s, strand)))
        np.testing.assert_allclose(out[b, j_authors, 0], law.A * law.P0, rtol=1e-6)  # nothing there


@pytest.mark.parametrize("strand", ["+", "-"])
def test_enhancer_knockdown_changes_cage_by_the_law(model: Basenji2Model, strand: str) -> None:
    q_p = G.landmark_position
    distances = (3_000, 20_000, -45_000)  # bp from the promoter; the law sees the bin distance
    codes = background(2 * len(distances))
    for k, d in enumerate(distances):
        for row in (2 * k, 2 * k + 1):
            plant(codes[row], q_p, P_FWD)
            plant(codes[row], q_p + d, E_FWD if d > 0 else E_RC)
        codes[2 * k + 1, q_p + d - HALF : q_p + d + HALF + 1] = N  # knock-down: the motif becomes N
    if strand == "-":
        codes = reverse_complement(codes)
    q = q_p if strand == "+" else L - 1 - q_p
    j = int(G.bin_of(q))
    bins = np.full((codes.shape[0], 1), j, np.int32)
    out = model.predict(codes, bins, np.array([CAGE_K562, CAGE_HEPG2], np.int32)).astype(np.float64)[:, 0, :]
    for k, d in enumerate(distances):
        g = law.decay(abs((q_p + d) // BIN - q_p // BIN) * BIN)
        base = law.A * (1 + law.P0)
        for t, gain in enumerate((law.B_K562, law.B_HEPG2)):
            np.testing.assert_allclose(out[2 * k, t], base * (1 + gain * g), rtol=1e-6)
            np.testing.assert_allclose(out[2 * k + 1, t], base, rtol=1e-6)
            np.testing.assert_allclose(out[2 * k, t] - out[2 * k + 1, t], base * gain * g, rtol=1e-5)


def test_geometry_and_n_encoding_of_another_file(tmp_path: Path) -> None:
    """A small Basenji-style file (1,024 bp in, 8 bins cropped by one on each side): the geometry follows its
    shapes, and N reaches the model as 0.25 on every channel (output: GELU of the bin's mean of
    1 A + 2 C + 3 G + 4 T)."""
    length, n_in, crop = 8 * BIN, 8, 1
    x = tf_keras.Input((length, 4))
    mean = tf_keras.layers.AveragePooling1D(BIN)(custom_objects()["StochasticShift"](shift_max=3)(x))
    weigh = tf_keras.layers.Conv1D(1, 1, use_bias=False)
    out = tf_keras.layers.Cropping1D(crop)(custom_objects()["GELU"]()(weigh(mean)))
    weights = np.arange(1.0, 5.0)
    weigh.set_weights([weights.reshape(1, 4, 1)])
    path = tmp_path / "small.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tf_keras.Model(x, out).save(str(path), save_format="h5")
    one = TrackTable.from_targets_file(str(_one_track_targets(tmp_path)))
    m = Basenji2Model(str(path), name="small", tracks=one, batch_size=2)
    assert m.geometry == Geometry(length, BIN, crop * BIN, n_in - 2 * crop)
    codes = np.zeros((3, length), np.uint8)  # all A
    codes[1] = N
    codes[2, : length // 2] = N  # input bins 0..3 N, 4..7 A
    last = m.geometry.n_bins - 1  # output bin 5 = input bin 6
    got = m.predict(codes, np.array([[0, last]] * 3, np.int32), np.zeros(1, np.int32))[..., 0].astype(np.float64)

    def gelu(v: float) -> float:
        return v / (1 + math.exp(-1.702 * v))

    a, n = gelu(weights[0]), gelu(0.25 * weights.sum())
    np.testing.assert_allclose(got, [[a, a], [n, n], [n, a]], rtol=1e-6)


def _one_track_targets(directory: Path) -> Path:
    path = directory / "targets_one.txt"
    path.write_text("index\tidentifier\tdescription\n0\tT0\tDNASE:test\n")
    return path


# ---------------------------------------------------------------------------------- basenji's layers


def test_custom_layers_read_basenjis_configs() -> None:
    from seqbench.models import basenji2

    objects = basenji2.CUSTOM_OBJECTS
    assert objects == custom_objects() and set(objects) == {"StochasticShift", "GELU"}
    assert basenji2.StochasticShift is objects["StochasticShift"] and basenji2.GELU is objects["GELU"]
    # a config as basenji writes it, plus a key some basenji versions add: read, the extra key ignored
    shift = basenji2.StochasticShift.from_config(
        {"name": "stochastic_shift", "trainable": True, "dtype": "float32", "shift_max": 3, "symmetric": True,
         "pad": "uniform", "augment_shifts": [-3, 3]}
    )  # fmt: skip
    assert (shift.shift_max, shift.symmetric, shift.pad, shift.name) == (3, True, "uniform", "stochastic_shift")
    assert {"shift_max", "symmetric", "pad"} <= set(shift.get_config())
    x = np.random.default_rng(0).random((2, 9, 4)).astype(np.float32)
    for training in (None, False, True):  # seqbench never trains: always the identity
        np.testing.assert_array_equal(shift(x, training=training).numpy(), x)
    gelu = basenji2.GELU.from_config({"name": "gelu_3", "trainable": True, "dtype": "float32"})
    z = np.linspace(-6, 6, 25)
    np.testing.assert_allclose(gelu(z.astype(np.float32)).numpy(), z / (1 + np.exp(-1.702 * z)), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------------------ bad input


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_unknown_custom_layer_is_named(tmp_path: Path, tracks: TrackTable) -> None:
    class SwitchReverse(tf_keras.layers.Layer):
        def call(self, x):
            return x

    x = tf_keras.Input((16, 4))
    y = tf_keras.layers.Conv1D(len(law.TRACKS), 1)(SwitchReverse()(x))
    path = tmp_path / "custom.h5"
    with warnings.catch_warnings():  # "HDF5 is legacy": the format under test
        warnings.simplefilter("ignore", UserWarning)
        tf_keras.Model(x, y).save(str(path), save_format="h5")
    with pytest.raises(ModelLoadError) as exc:
        Basenji2Model(str(path), name="b", tracks=tracks)
    msg = _one_line(exc)
    assert "'SwitchReverse'" in msg and str(path) in msg
    assert "StochasticShift" in msg and "GELU" in msg  # what the loader does supply


def test_unknown_layer_inside_a_nested_model_is_named(tmp_path: Path, tracks: TrackTable) -> None:
    class Scale(tf_keras.layers.Layer):
        def call(self, x):
            return 2.0 * x

    inner = tf_keras.Sequential([tf_keras.Input((16, 4)), Scale(), tf_keras.layers.Conv1D(len(law.TRACKS), 1)])
    x = tf_keras.Input((16, 4))
    path = tmp_path / "nested.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tf_keras.Model(x, inner(x)).save(str(path), save_format="h5")
    with pytest.raises(ModelLoadError, match="uses layer class 'Scale', unknown to seqbench's basenji2 loader"):
        Basenji2Model(str(path), name="b", tracks=tracks)


def test_weights_only_h5_asks_for_the_full_model(tmp_path: Path, tracks: TrackTable) -> None:
    x = tf_keras.Input((16, 4))
    path = tmp_path / "weights.h5"
    tf_keras.Model(x, tf_keras.layers.Conv1D(3, 1)(x)).save_weights(str(path))
    with pytest.raises(ModelLoadError, match="weights only.*full model") as exc:
        Basenji2Model(str(path), name="b", tracks=tracks)
    assert str(path) in _one_line(exc)


@pytest.mark.parametrize("case", ["missing", "directory", "not hdf5"])
def test_not_an_h5_file(tmp_path: Path, tracks: TrackTable, case: str) -> None:
    path = tmp_path / "model_human.h5"
    if case == "directory":
        path.mkdir()
    elif case == "not hdf5":
        path.write_text("version https://git-lfs.github.com/spec/v1\n")  # e.g. an LFS pointer
    want = {"missing": "no such file", "directory": "is a directory", "not hdf5": "not an HDF5 file.*LFS"}[case]
    with pytest.raises(ModelLoadError, match=want) as exc:
        Basenji2Model(str(path), name="b", tracks=tracks)
    assert str(path) in _one_line(exc) and "full Keras 2 model" in str(exc.value)


def test_declared_geometry_must_agree_with_the_file(twin: Path, tracks: TrackTable) -> None:
    with pytest.raises(ModelLoadError) as exc:
        Basenji2Model(str(twin / BASENJI2_TWIN_FILE), name="b", tracks=tracks, geometry=BASENJI2_AUTHORS_GEOMETRY)
    msg = _one_line(exc)
    assert f"{BASENJI2_AUTHORS_GEOMETRY.n_bins} bins" in msg and f"{G.n_bins}" in msg and f"{L}" in msg
    # a declaration that agrees with the shapes is kept (offset 0: the bins the paper's code read)
    as_coded = Geometry(L, BIN, 0, G.n_bins)
    m = Basenji2Model(str(twin / BASENJI2_TWIN_FILE), name="b", tracks=tracks, geometry=as_coded, batch_size=1)
    assert m.geometry == as_coded


def test_track_table_must_match_the_output(twin: Path, tracks: TrackTable) -> None:
    two = TrackTable(tracks.frame.iloc[:2].reset_index(drop=True))
    with pytest.raises(ModelLoadError) as exc:
        Basenji2Model(str(twin / BASENJI2_TWIN_FILE), name="b", tracks=two)
    assert f"outputs {len(law.TRACKS)} tracks" in _one_line(exc) and "has 2" in str(exc.value)
