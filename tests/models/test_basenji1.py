"""Basenji1's adapter (Kipoi's TF1 checkpoint) against its planted twin: agreement with the NumPy
reference, batches of exactly 2, the landmark bins of experiments-spec §0.3, a known knock-down answer,
and one-line refusals of bad files.

The twin is built once for the module (a few seconds on 2 CPU cores).  Expected numbers are derived
from the geometry and the constants of :mod:`seqbench.models.planted.law`, never hard-coded.
"""

from __future__ import annotations

import math
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqbench.models.base import BASENJI1_GEOMETRY, Geometry, TrackRequest, TrackTable
from seqbench.models.basenji1 import (
    Basenji1Model,
    find_checkpoint,
    read_basenji1_targets,
    read_const_feed_dict,
)
from seqbench.models.planted import law
from seqbench.models.planted.reference import MOTIFS, motif_hits, reference_output
from seqbench.models.planted.twin_basenji1 import (
    METADATA_FILE,
    MODEL_NAME,
    const_feed_dict,
    ensure_basenji1_twin,
    is_complete,
    twin_metadata,
)
from seqbench.models.tfhub import ModelLoadError
from seqbench.sequence.codes import N, encode, reverse_complement

pytest.importorskip("tensorflow")

G = BASENJI1_GEOMETRY
L = G.sequence_length
BIN = G.bin_size
HALF = law.MOTIF_LENGTH // 2
P_FWD, P_RC, E_FWD, E_RC = MOTIFS
CAGE_K562, DNASE_K562, CAGE_HEPG2 = 0, 1, 2  # law.TRACKS order
ALL_TRACKS = np.arange(len(law.TRACKS), dtype=np.int32)


def plant(row: np.ndarray, centre: int, motif: str) -> None:
    """Write ``motif`` into ``row`` so that its centre nucleotide lands on ``centre`` (0-based)."""
    row[centre - HALF : centre - HALF + law.MOTIF_LENGTH] = encode(motif)


def quiet_background(rng: np.random.Generator) -> np.ndarray:
    """A and C only: no motif (each holds G and T) can form in it."""
    return rng.choice(np.array([0, 1], dtype=np.uint8), size=L)


def all_bins(n: int) -> np.ndarray:
    return np.tile(np.arange(G.n_bins, dtype=np.int32), (n, 1))


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_basenji1_twin(tmp_path_factory.mktemp("seqbench-cache"))


@pytest.fixture(scope="module")
def model(twin_dir: Path) -> Basenji1Model:
    m = Basenji1Model(twin_dir, name=MODEL_NAME)
    yield m
    m.close()


@pytest.fixture(scope="module")
def planted_batch() -> np.ndarray:
    """Four random sequences with promoters and enhancers in both orientations, and runs of N."""
    rng = np.random.default_rng(20180601)
    codes = rng.integers(0, 4, size=(4, L), dtype=np.uint8)
    lo = G.offset
    for centre, motif in [
        (G.landmark_position, P_FWD),
        (G.landmark_position + BIN - 1, P_RC),
        (G.landmark_position - 7_000, E_FWD),
        (G.landmark_position + 12_345, E_RC),
        (lo + 5, P_RC),  # first output bin
        (lo + (G.n_bins - 1) * BIN + 100, P_FWD),  # last output bin
        (lo - BIN + 3, P_FWD),  # the input bin before the output, seen by prom(0)
        (1_000, E_FWD),  # outside the output, still counted by enh
        (L - 1 - HALF, E_RC),  # touching the end of the input
    ]:
        plant(codes[0], centre, motif)
    for row in (1, 2, 3):
        for motif in MOTIFS:
            for centre in rng.integers(HALF, L - HALF, size=40):
                plant(codes[row], int(centre), motif)
    for start in rng.integers(0, L - 3_000, size=10):
        codes[2, start : start + int(rng.integers(1, 3_000))] = N
    h_p, h_e = motif_hits(codes)
    assert (h_p.sum(axis=1) > 0).all() and (h_e.sum(axis=1) > 0).all()
    return codes


# --------------------------------------------------------------------------------- the twin as Basenji1


def test_twin_files_and_metadata(twin_dir: Path) -> None:
    meta = twin_metadata()
    assert meta["name"] == MODEL_NAME and meta["kind"] == "planted-basenji1"
    assert "not Basenji1" in meta["note"]
    g = meta["geometry"]
    assert Geometry(g["sequence_length"], g["bin_size"], g["offset"], g["n_bins"]) == G
    assert find_checkpoint(twin_dir) == twin_dir / "model_files" / "model.tf"
    assert is_complete(twin_dir)
    table = read_basenji1_targets(twin_dir / "basenji1_targets.txt")
    assert [(i, table.frame.loc[i, "identifier"], table.name(i)) for i in range(len(table))] == list(law.TRACKS)
    assert table.resolve(TrackRequest(assay="CAGE", cell_type="K562")) == CAGE_K562
    assert table.resolve(TrackRequest(assay="DNASE", cell_type="K562")) == DNASE_K562
    assert table.resolve(TrackRequest(assay="CAGE", cell_type="HepG2")) == CAGE_HEPG2


def test_ensure_is_idempotent_and_checks_the_metadata(twin_dir: Path, tmp_path: Path) -> None:
    before = (twin_dir / METADATA_FILE).stat().st_mtime_ns
    assert ensure_basenji1_twin(twin_dir.parent.parent) == twin_dir
    assert (twin_dir / METADATA_FILE).stat().st_mtime_ns == before  # not rebuilt
    copy = tmp_path / "twin"
    shutil.copytree(twin_dir, copy)
    meta = (copy / METADATA_FILE).read_text().replace(f'"D0": {law.D0}', f'"D0": {law.D0 * 2}')
    (copy / METADATA_FILE).write_text(meta)
    assert not is_complete(copy)


def test_const_feed_dict_round_trip(twin_dir: Path, tmp_path: Path) -> None:
    """The twin's pickle (protocol 2, as Kipoi wrote it), the same as NumPy 1 names its globals, and a
    protocol-5 one are read back exactly."""
    want = const_feed_dict()
    twin_pkl = (twin_dir / "model_files" / "const_feed_dict.pkl").read_bytes()
    assert b"numpy._core.multiarray\n_reconstruct" in twin_pkl
    (tmp_path / "numpy1.pkl").write_bytes(twin_pkl.replace(b"numpy._core.", b"numpy.core."))
    (tmp_path / "p5.pkl").write_bytes(pickle.dumps({**want, "scalar": np.bool_(False)}, protocol=5))
    for name in ("numpy1.pkl", "p5.pkl"):
        got = read_const_feed_dict(tmp_path / name)
        assert set(want) <= set(got)
        for key, value in want.items():
            assert np.asarray(got[key]).dtype == np.asarray(value).dtype
            np.testing.assert_array_equal(got[key], value)


def test_twin_through_adapter_equals_reference(model: Basenji1Model, planted_batch: np.ndarray) -> None:
    assert model.batch_size == 2 and model.geometry == G and len(model.tracks) == len(law.TRACKS)
    assert model.skipped_feeds == []
    ref = reference_output(planted_batch, G)  # float64 [4, 960, 3]
    rng = np.random.default_rng(3)
    tracks = np.array([CAGE_HEPG2, CAGE_K562, DNASE_K562, CAGE_K562], np.int32)  # any order, repeats
    for n in (1, 3, 4):
        bins = rng.integers(0, G.n_bins, size=(n, 7)).astype(np.int32)
        bins[:, 0] = G.bin_of(G.landmark_position)
        got = model.predict(planted_batch[:n], bins, tracks)
        assert got.shape == (n, 7, tracks.size) and got.dtype == np.float32
        want = np.stack([ref[i][bins[i]][:, tracks] for i in range(n)])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=0)
    full = model.predict(planted_batch, all_bins(4), ALL_TRACKS)
    np.testing.assert_allclose(full, ref, rtol=1e-5, atol=0)
    assert ref[0, :, CAGE_K562].max() > law.A * (1 + law.P0)  # the batch exercises the law


def test_batches_are_always_two(model: Basenji1Model, planted_batch: np.ndarray, monkeypatch) -> None:
    shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    run = model._run

    def recording(codes2, bins2, tracks):
        shapes.append((codes2.shape, bins2.shape))
        return run(codes2, bins2, tracks)

    monkeypatch.setattr(model, "_run", recording)
    codes = np.concatenate([planted_batch, planted_batch[:1]])  # 5 inputs
    bins = np.full((5, 3), G.bin_of(G.landmark_position), np.int32)
    alone = [model.predict(codes[i : i + 1], bins[i : i + 1], ALL_TRACKS)[0] for i in range(5)]
    together = model.predict(codes, bins, ALL_TRACKS)
    np.testing.assert_array_equal(together, np.stack(alone))  # the padding never leaks into a result
    assert len(shapes) == 5 + 3
    assert {(c[0], b[0]) for c, b in shapes} == {(2, 2)}
    assert {c[1] for c, _ in shapes} == {L}


# ------------------------------------------------------------------------------------- known answers


def test_landmark_bins_of_experiments_spec(model: Basenji1Model) -> None:
    """§0.3 for Basenji1: a 1-nt landmark at L//2 - s (s = -43, 0, 43), forward and reverse strand.

    The bins follow from the spec's own construction (5' flank ``f5 = ceil((L-1)/2) + o``, 3' flank
    ``f3 = floor((L-1)/2) - o``, spec offset ``o = -s``, PADDING = the geometry's offset), agree with
    ``Geometry.bin_of`` of the landmark positions, and are where the twin puts a promoter's peak."""
    P = G.offset
    rng = np.random.default_rng(43)
    background = quiet_background(rng)
    rows, expected = [], []
    for s in (-43, 0, 43):
        p = L // 2 - s
        o = -s
        f5, f3 = math.ceil((L - 1) / 2) + o, math.floor((L - 1) / 2) - o
        assert (f5, f3) == (p, L - 1 - p)  # landmark position on each strand
        for strand, pos, spec_bin in (("+", p, (f5 - P) // BIN), ("-", L - 1 - p, (f3 - P) // BIN)):
            assert G.bin_of(pos) == spec_bin
            expected.append((s, strand, pos, spec_bin))
        row = background.copy()
        plant(row, p, P_FWD)
        rows += [row, reverse_complement(row)]
    codes = np.stack(rows)
    h_p, h_e = motif_hits(codes)
    assert h_e.sum() == 0 and (h_p.sum(axis=1) == 1).all()
    # the forward landmark at s = 0 is the first base of the middle bin, the reverse one the last of the bin before
    assert G.bin_of(L // 2) == G.n_bins // 2 and G.bin_of(L // 2 - 1) == G.n_bins // 2 - 1

    out = model.predict(codes, all_bins(len(rows)), ALL_TRACKS).astype(np.float64)
    for k, (s, strand, pos, b) in enumerate(expected):
        cage, dnase = out[k, :, CAGE_K562], out[k, :, DNASE_K562]
        peak = np.flatnonzero(np.isclose(cage, cage.max(), rtol=1e-6))
        # a promoter counts in bins J-1..J+1: a three-bin plateau centred on the landmark's bin
        assert peak.tolist() == [b - 1, b, b + 1], (s, strand, pos)
        np.testing.assert_allclose(cage.max(), law.A * (1 + law.P0), rtol=1e-6)
        np.testing.assert_allclose(np.delete(cage, peak), law.A * law.P0, rtol=1e-6)
        assert int(np.argmax(dnase)) == b
        np.testing.assert_allclose(dnase[b], law.C0 + law.C1, rtol=1e-6)


def test_enhancer_knockdown_changes_cage_as_the_law_says(model: Basenji1Model) -> None:
    rng = np.random.default_rng(2018)
    p = G.landmark_position
    q_kd, q_kept = p + 20_000 + 37, p - 30_000 - 5  # the enhancer knocked down, and one that stays
    row = quiet_background(rng)
    plant(row, p, P_FWD)
    plant(row, q_kd, E_RC)
    plant(row, q_kept, E_FWD)
    knocked = row.copy()
    knocked[q_kd - HALF : q_kd - HALF + law.MOTIF_LENGTH] = N
    codes = np.stack([row, knocked])
    h_p, h_e = motif_hits(codes)
    assert h_p.sum(axis=1).tolist() == [1, 1] and h_e.sum(axis=1).tolist() == [2, 1]

    b = G.bin_of(p)
    window = np.array([b - 1, b, b + 1], np.int32)
    out = model.predict(codes, np.tile(window, (2, 1)), ALL_TRACKS).astype(np.float64)

    J = p // BIN  # the landmark's input bin; the law counts distances between bins
    for track, gain in ((CAGE_K562, law.B_K562), (CAGE_HEPG2, law.B_HEPG2)):
        for k, j_in in enumerate(range(J - 1, J + 2)):
            g_kd = law.decay(abs(q_kd // BIN - j_in) * BIN)
            g_kept = law.decay(abs(q_kept // BIN - j_in) * BIN)
            with_both = law.A * (1 + law.P0) * (1 + gain * (g_kd + g_kept))
            without = law.A * (1 + law.P0) * (1 + gain * g_kept)
            np.testing.assert_allclose(out[0, k, track], with_both, rtol=1e-6)
            np.testing.assert_allclose(out[1, k, track], without, rtol=1e-6)
            np.testing.assert_allclose(
                out[0, k, track] - out[1, k, track], law.A * (1 + law.P0) * gain * g_kd, rtol=1e-5
            )
    # the distant enhancer is not in the landmark's bin: DNase there sees only the promoter
    np.testing.assert_allclose(out[:, 1, DNASE_K562], law.C0 + law.C1, rtol=1e-6)


# ---------------------------------------------------------------------------------------- bad input


def _copy_twin(twin_dir: Path, dest: Path, flat: bool = False) -> Path:
    """A copy of the twin in Kipoi's layout, or flat (every file in one folder)."""
    if not flat:
        return Path(shutil.copytree(twin_dir, dest))
    dest.mkdir()
    for p in (twin_dir / "model_files").iterdir():
        shutil.copy(p, dest / p.name)
    shutil.copy(twin_dir / "basenji1_targets.txt", dest / "basenji1_targets.txt")
    return dest


@pytest.mark.parametrize("missing", ["model.tf.meta", "model.tf.index", "model.tf.data-00000-of-00001"])
def test_missing_checkpoint_file_is_named(twin_dir: Path, tmp_path: Path, missing: str) -> None:
    copy = _copy_twin(twin_dir, tmp_path / "twin")
    (copy / "model_files" / missing).unlink()
    with pytest.raises(ModelLoadError, match=f"missing {re.escape(missing)};") as err:
        Basenji1Model(copy, name="broken")
    assert "\n" not in str(err.value) and "1466066" in str(err.value)


def test_directory_without_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"no model\.tf\.\* files in it or in its model_files/"):
        find_checkpoint(tmp_path)
    with pytest.raises(ModelLoadError, match="no such directory"):
        find_checkpoint(tmp_path / "nope")


def test_flat_layout_skips_unknown_feeds_and_never_feeds_inputs(
    twin_dir: Path, tmp_path: Path, planted_batch: np.ndarray
) -> None:
    copy = _copy_twin(twin_dir, tmp_path / "flat", flat=True)
    assert find_checkpoint(copy) == copy / "model.tf"
    feeds = read_const_feed_dict(copy / "const_feed_dict.pkl")
    feeds["not_in_this_graph"] = 1.0
    feeds["inputs"] = np.zeros((2, L, 4), np.float32)  # would blank the input if it were fed
    (copy / "const_feed_dict.pkl").write_bytes(pickle.dumps(feeds, protocol=2))
    m = Basenji1Model(copy, name="flat")
    try:
        assert m.skipped_feeds == ["not_in_this_graph"]
        got = m.predict(planted_batch[:1], all_bins(1), ALL_TRACKS)
        np.testing.assert_allclose(got, reference_output(planted_batch[:1], G), rtol=1e-5)
    finally:
        m.close()


def test_pickle_with_forbidden_global_is_refused_unrun(twin_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    # protocol 0 by hand: GLOBAL os.system, called with a shell command
    evil = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    copy = _copy_twin(twin_dir, tmp_path / "twin")
    (copy / "model_files" / "const_feed_dict.pkl").write_bytes(evil)
    with pytest.raises(ModelLoadError, match=r"refused to load, it names the global os\.system") as err:
        Basenji1Model(copy, name="evil")
    assert "\n" not in str(err.value)
    assert not marker.exists()

    class Sneaky:
        def __reduce__(self):
            return (eval, ("1 + 1",))

    bad = tmp_path / "sneaky.pkl"
    bad.write_bytes(pickle.dumps({"Placeholder_1": Sneaky()}, protocol=2))
    with pytest.raises(ModelLoadError, match=r"names the global (__builtin__|builtins)\.eval"):
        read_const_feed_dict(bad)
    bad.write_bytes(pickle.dumps([("Placeholder_1", 0)], protocol=2))
    with pytest.raises(ModelLoadError, match="holds a list, not a dict"):
        read_const_feed_dict(bad)
    bad.write_bytes(pickle.dumps({1: 0}, protocol=2))
    with pytest.raises(ModelLoadError, match="key 1 is not a placeholder name"):
        read_const_feed_dict(bad)
    bad.write_bytes(b"\x80\x02}q\x00")  # truncated
    with pytest.raises(ModelLoadError, match="not a readable pickle"):
        read_const_feed_dict(bad)


def test_bad_targets_files(tmp_path: Path) -> None:
    path = tmp_path / "basenji1_targets.txt"
    rows = [f"{ident}\tfile_{i}\t{desc}" for i, ident, desc in law.TRACKS]
    cases = {
        "wrong column count": ("\n".join([rows[0], "CNhs1\tonly two", rows[2]]) + "\n", r"row 2 has 2 column\(s\);"),
        "Basenji2-style": ("0\t" + rows[0] + "\n", r"row 1 has 4 column\(s\);"),
        "header": ("identifier\tfile\tdescription\n" + rows[0] + "\n", r"row 1 is a header"),
        "empty identifier": ("\n".join([rows[0], "\tf\tCAGE:x"]) + "\n", r"row 2, column 1 \(identifier\) is empty"),
        "empty": ("\n\n", "the file is empty"),
    }
    for text, message in cases.values():
        path.write_text(text)
        with pytest.raises(ModelLoadError, match=message) as err:
            read_basenji1_targets(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ModelLoadError, match="no such file"):
        read_basenji1_targets(tmp_path / "nope.txt")
    path.write_text("\r\n".join(rows) + "\r\n")  # Windows line ends are fine
    assert len(read_basenji1_targets(path)) == len(law.TRACKS)


def test_declared_geometry_contradicting_the_output(twin_dir: Path) -> None:
    declared = Geometry(sequence_length=L, bin_size=BIN, offset=8_192, n_bins=896)  # Basenji2's
    with pytest.raises(ModelLoadError) as err:
        Basenji1Model(twin_dir, name="twin", geometry=declared)
    msg = str(err.value)
    assert f"(2, {G.n_bins}, 3)" in msg and "(2, 896, 3)" in msg and "\n" not in msg


def test_declared_sequence_length_contradicting_the_graph(twin_dir: Path) -> None:
    declared = Geometry(sequence_length=2 * L, bin_size=BIN, offset=G.offset, n_bins=G.n_bins)
    with pytest.raises(
        ModelLoadError, match=rf"cannot import .*model\.tf\.meta with its 'inputs' fed \[2, {2 * L}, 4\]"
    ):
        Basenji1Model(twin_dir, name="twin", geometry=declared)


def test_track_table_of_the_wrong_size(twin_dir: Path) -> None:
    n = len(law.TRACKS) + 1
    table = TrackTable(pd.DataFrame({"index": range(n), "identifier": list("abcd"), "description": ["CAGE:x"] * n}))
    with pytest.raises(ModelLoadError, match=rf"\(2, {G.n_bins}, 3\) .* say \(2, {G.n_bins}, {n}\)"):
        Basenji1Model(twin_dir, name="twin", tracks=table)


def test_out_of_range_bins_and_tracks(model: Basenji1Model) -> None:
    codes = np.full((1, L), N, np.uint8)
    with pytest.raises(ValueError, match=rf"bins must lie in 0\.\.{G.n_bins - 1}"):
        model.predict(codes, np.array([[G.n_bins]], np.int32), ALL_TRACKS)
    with pytest.raises(ValueError, match="tracks must lie in 0..2"):
        model.predict(codes, np.array([[0]], np.int32), np.array([3], np.int32))
