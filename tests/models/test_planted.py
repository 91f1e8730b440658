"""The planted model: SavedModel interface, agreement with the NumPy reference, known answers.

The SavedModel is built once for the module (a few seconds on 2 CPU cores) and loaded once,
through the same ``tensorflow_hub.load`` path as Enformer.  Expected numbers are derived here
from the constants of :mod:`seqbench.models.planted.law`, never hard-coded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from seqbench.models.planted import law
from seqbench.models.planted.build import (
    METADATA_FILE,
    MODEL_NAME,
    TARGETS_FILE,
    ensure_planted_model,
    is_complete,
    planted_metadata,
)
from seqbench.models.planted.reference import (
    MOTIFS,
    motif_hits,
    one_hot,
    output_from_hits,
    reference_output,
)
from seqbench.sequence.codes import N, decode, encode, reverse_complement

tf = pytest.importorskip("tensorflow")
hub = pytest.importorskip("tensorflow_hub")

L = law.SEQUENCE_LENGTH
BIN = law.BIN_SIZE
HALF = law.MOTIF_LENGTH // 2
P_FWD, P_RC, E_FWD, E_RC = MOTIFS
CAGE_K562, DNASE_K562, CAGE_HEPG2 = 0, 1, 2  # law.TRACKS order, checked below


# ----------------------------------------------------------------------------------------- helpers


def plant(row: np.ndarray, centre: int, motif: str) -> None:
    """Write ``motif`` into ``row`` so that its centre nucleotide lands on ``centre`` (0-based)."""
    row[centre - HALF : centre - HALF + law.MOTIF_LENGTH] = encode(motif)


def naive_hits(codes_row: np.ndarray, motif: str) -> np.ndarray:
    """Centres (0-based) of overlapping occurrences of ``motif`` or its RC, by regex on the string."""
    seq = decode(codes_row)
    rc = decode(reverse_complement(encode(motif)))
    starts = [m.start() for pat in (motif, rc) for m in re.finditer(f"(?={pat})", seq)]
    return np.sort(np.array(starts, dtype=np.int64) + HALF)


def predict(model: Any, codes: np.ndarray) -> np.ndarray:
    out = model.model.predict_on_batch(one_hot(codes))
    return out["human"].numpy()


def output_bin(position: int) -> int:
    return (position - law.OUTPUT_OFFSET) // BIN


# ---------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_planted_model(tmp_path_factory.mktemp("seqbench-cache"))


@pytest.fixture(scope="module")
def model(built: Path) -> Any:
    return hub.load(str(built))  # keep the loaded object alive: its variables belong to it


@pytest.fixture(scope="module")
def planted_batch() -> np.ndarray:
    """Three random sequences with motifs planted at known places, both orientations, and N runs."""
    rng = np.random.default_rng(20240611)
    codes = rng.integers(0, 4, size=(3, L), dtype=np.uint8)
    # row 0: a few motifs around the centre, on bin edges, and outside the output window
    lo = law.OUTPUT_OFFSET
    for centre, motif in [
        (lo + 448 * BIN, P_FWD),
        (lo + 449 * BIN - 1, P_RC),  # last nucleotide of a bin
        (lo + 451 * BIN, P_FWD),  # first nucleotide of a bin
        (lo + 440 * BIN + 3, E_FWD),
        (lo + 470 * BIN + 64, E_RC),
        (lo + 0 * BIN + 5, P_RC),  # first output bin
        (lo + 895 * BIN + 100, P_FWD),  # last output bin
        (lo - BIN - 7, P_FWD),  # input bin 1087, seen by prom(0)
        (2_000, E_FWD),  # far outside the output window, still counted by enh
        (L - 2_000, E_RC),
        (HALF, E_RC),  # touching the start of the input
        (L - 1 - HALF, P_RC),  # touching the end of the input
    ]:
        plant(codes[0], centre, motif)
    # row 1: many motifs at random centres, then N runs over some of them
    for motif in MOTIFS:
        for centre in rng.integers(HALF, L - HALF, size=150):
            plant(codes[1], int(centre), motif)
    for start in rng.integers(0, L - 5_000, size=20):
        codes[1, start : start + int(rng.integers(1, 5_000))] = N
    # row 2: a cluster of enhancers around a promoter, with single Ns breaking some copies
    centre0 = lo + 300 * BIN + 17
    plant(codes[2], centre0, P_FWD)
    for k in range(-40, 41, 4):
        c = centre0 + k * 97 + 50
        plant(codes[2], c, E_FWD if k % 8 else E_RC)
        if k % 12 == 0:
            codes[2, c + (k % law.MOTIF_LENGTH) - HALF] = N
    return codes


# ------------------------------------------------------------------------------------------- tests


def test_track_order_matches_law() -> None:
    ids = [ident for _i, ident, _d in sorted(law.TRACKS)]
    assert ids[CAGE_K562] == "PLANTED_CAGE_K562"
    assert ids[DNASE_K562] == "PLANTED_DNASE_K562"
    assert ids[CAGE_HEPG2] == "PLANTED_CAGE_HEPG2"


def test_reference_hits_match_naive_count(planted_batch: np.ndarray) -> None:
    h_p, h_e = motif_hits(planted_batch)
    assert h_p.shape == h_e.shape == (3, law.N_INPUT_BINS)
    for b in range(planted_batch.shape[0]):
        for h, motif in ((h_p, P_FWD), (h_e, E_FWD)):
            centres = naive_hits(planted_batch[b], motif)
            expected = np.bincount(centres // BIN, minlength=law.N_INPUT_BINS)
            np.testing.assert_array_equal(h[b], expected)
    assert h_p[0].sum() >= 7 and h_e[0].sum() >= 5  # the planted ones are all found


def test_savedmodel_interface(built: Path, model: Any) -> None:
    x = one_hot(np.zeros((2, L), dtype=np.uint8))
    out = model.model.predict_on_batch(x)
    assert set(out) == {"human"}
    human = out["human"]
    assert human.dtype == tf.float32
    assert tuple(human.shape) == (2, law.N_OUTPUT_BINS, len(law.TRACKS))
    assert tuple(predict(model, np.zeros((1, L), dtype=np.uint8)).shape) == (1, 896, 3)

    meta = json.loads((built / METADATA_FILE).read_text())
    assert meta["name"] == MODEL_NAME == "planted-v1" and meta["kind"] == "planted"
    assert "not Enformer" in meta["note"]
    assert meta["law"]["D0"] == law.D0 and meta["motifs"]["promoter"] == law.PROMOTER_MOTIF
    targets = (built / TARGETS_FILE).read_text().splitlines()
    assert targets[0].split("\t") == [
        "index", "genome", "identifier", "file", "clip", "scale", "sum_stat", "description"
    ]  # fmt: skip
    rows = [line.split("\t") for line in targets[1:]]
    assert [(int(r[0]), r[2], r[7]) for r in rows] == list(law.TRACKS)


def test_savedmodel_equals_reference(model: Any, planted_batch: np.ndarray) -> None:
    out = predict(model, planted_batch)
    ref = reference_output(planted_batch)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=0)
    # the batch exercises the law: promoters and enhancers actually move the CAGE tracks
    assert ref[:, :, CAGE_K562].max() > law.A * (1 + law.P0)
    assert ref[:, :, DNASE_K562].max() >= law.C0 + 2 * law.C1


def test_strand_symmetry(model: Any, planted_batch: np.ndarray) -> None:
    rc = reverse_complement(planted_batch)
    h_p, h_e = motif_hits(planted_batch)
    h_p_rc, h_e_rc = motif_hits(rc)
    np.testing.assert_array_equal(h_p_rc, h_p[:, ::-1])
    np.testing.assert_array_equal(h_e_rc, h_e[:, ::-1])
    out = predict(model, planted_batch)
    out_rc = predict(model, rc)
    np.testing.assert_allclose(out_rc, out[:, ::-1, :], rtol=1e-6, atol=0)


@pytest.fixture(scope="module")
def one_pair() -> tuple[np.ndarray, int, int]:
    """Four sequences, each with one promoter (centre q_P) and one enhancer (centre q_E) in the
    four orientation combinations, on a background of A and C only (no motif can form in it)."""
    rng = np.random.default_rng(7)
    background = rng.choice(np.array([0, 1], dtype=np.uint8), size=L)
    j0 = law.N_OUTPUT_BINS // 2  # landmark output bin
    q_p = law.OUTPUT_OFFSET + j0 * BIN + 37
    q_e = q_p + 20_000  # ~20 kb downstream; the law only sees the bin distance
    codes = np.tile(background, (4, 1))
    for b, (p, e) in enumerate([(P_FWD, E_FWD), (P_FWD, E_RC), (P_RC, E_FWD), (P_RC, E_RC)]):
        plant(codes[b], q_p, p)
        plant(codes[b], q_e, e)
        np.testing.assert_array_equal(naive_hits(codes[b], P_FWD), [q_p])
        np.testing.assert_array_equal(naive_hits(codes[b], E_FWD), [q_e])
    return codes, q_p, q_e


def test_known_answer_one_promoter_one_enhancer(model: Any, one_pair: tuple[np.ndarray, int, int]) -> None:
    codes, q_p, q_e = one_pair
    out = predict(model, codes).astype(np.float64)
    j0 = output_bin(q_p)
    bin_distance = q_e // BIN - q_p // BIN  # input bins between the two centres
    d = bin_distance * BIN  # bp, as the law counts it

    def cage(prom: int, dist_bp: float, gain: float) -> float:
        return law.A * (prom + law.P0) * (1.0 + gain * law.decay(dist_bp))

    for gain, track in ((law.B_K562, CAGE_K562), (law.B_HEPG2, CAGE_HEPG2)):
        # at the landmark: one promoter hit, enhancer d away
        expected = law.A * (1 + law.P0) * (1 + gain * law.decay(d))
        np.testing.assert_allclose(out[:, j0, track], expected, rtol=1e-6)
        # the promoter window spans J-1..J+1; one bin further the promoter is out of it
        np.testing.assert_allclose(out[:, j0 + 1, track], cage(1, d - BIN, gain), rtol=1e-6)
        np.testing.assert_allclose(out[:, j0 - 1, track], cage(1, d + BIN, gain), rtol=1e-6)
        np.testing.assert_allclose(out[:, j0 - 2, track], cage(0, d + 2 * BIN, gain), rtol=1e-6)
        # at the enhancer's own bin: no promoter, distance 0
        np.testing.assert_allclose(out[:, output_bin(q_e), track], cage(0, 0.0, gain), rtol=1e-6)
    # the K562 track has the larger enhancer gain, so the larger enhancer effect
    assert np.all(out[:, j0, CAGE_K562] > out[:, j0, CAGE_HEPG2])

    dnase = np.full(law.N_OUTPUT_BINS, law.C0)
    dnase[[j0, output_bin(q_e)]] = law.C0 + law.C1
    np.testing.assert_allclose(out[:, :, DNASE_K562], np.tile(dnase, (4, 1)), rtol=1e-6)


def test_n_never_matches(model: Any) -> None:
    """A motif with one N (one-hot 0.25 on every channel) gives no hit, whatever the position."""
    codes = np.full((3, L), N, dtype=np.uint8)  # row 0: all N
    centre = law.OUTPUT_OFFSET + 10 * BIN
    for row in (1, 2):
        c = centre
        for motif in MOTIFS:
            for k in range(law.MOTIF_LENGTH):
                plant(codes[row], c, motif)
                codes[row, c - HALF + k] = N
                c += 3 * BIN
    q_ok = centre + 800 * BIN
    plant(codes[2], q_ok, P_FWD)  # positive control: one intact promoter in row 2
    out = predict(model, codes).astype(np.float64)
    h_p, h_e = motif_hits(codes)
    assert h_p[:2].sum() == 0 and h_e.sum() == 0 and h_p[2].sum() == 1

    for track in (CAGE_K562, CAGE_HEPG2):  # no hit at all: basal promoter activity, no enhancer
        np.testing.assert_allclose(out[:2, :, track], law.A * law.P0, rtol=1e-6)
    np.testing.assert_allclose(out[:2, :, DNASE_K562], law.C0, rtol=1e-6)
    j_ok = output_bin(q_ok)
    np.testing.assert_allclose(out[2, j_ok, CAGE_K562], law.A * (1 + law.P0), rtol=1e-6)
    np.testing.assert_allclose(out[2, j_ok, DNASE_K562], law.C0 + law.C1, rtol=1e-6)
    np.testing.assert_allclose(out, output_from_hits(h_p, h_e), rtol=1e-5)


def test_ensure_is_idempotent(built: Path) -> None:
    meta_file = built / METADATA_FILE
    before = meta_file.stat().st_mtime_ns
    again = ensure_planted_model(built.parent.parent)
    assert again == built
    assert meta_file.stat().st_mtime_ns == before  # not rebuilt
    assert sorted(p.name for p in built.parent.iterdir()) == [MODEL_NAME]  # no temporary left


def test_incomplete_directory_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQBENCH_CACHE_DIR", str(tmp_path))
    final = tmp_path / "models" / MODEL_NAME
    final.mkdir(parents=True)
    (final / "junk.txt").write_text("half-built")
    assert not is_complete(final)
    path = ensure_planted_model()
    assert path == final
    assert is_complete(path) and not (path / "junk.txt").exists()
    assert sorted(p.name for p in final.parent.iterdir()) == [MODEL_NAME]


def test_is_complete_checks_the_law(tmp_path: Path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(b"")
    meta = planted_metadata()
    (tmp_path / METADATA_FILE).write_text(json.dumps(meta))
    assert is_complete(tmp_path)
    meta["law"]["D0"] = law.D0 * 2
    (tmp_path / METADATA_FILE).write_text(json.dumps(meta))
    assert not is_complete(tmp_path)
    (tmp_path / METADATA_FILE).write_text("{not json")
    assert not is_complete(tmp_path)


def test_formulations_equal_the_convolution_bit_for_bit(planted_batch: np.ndarray) -> None:
    """The SavedModel's law (letter codes, :func:`planted_law_codes_tf`) and the earlier products of shifted
    one-hot channels give exactly the outputs of the convolution the twins keep (``planted_law_tf``), on
    one-hot rows, N rows (0.25) and all-zero rows (another common N encoding), with and without XLA, whole
    or with only the comparisons compiled (as the SavedModel does)."""
    import tensorflow as tf

    from seqbench.models.planted.build import (
        _filters,
        hit_codes_function,
        planted_law_codes_tf,
        planted_law_product_tf,
        planted_law_tf,
    )
    from seqbench.models.planted.reference import PLANTED_GEOMETRY, decay_matrix

    x = one_hot(planted_batch).astype(np.float32)
    zero_rows = np.random.default_rng(4).integers(0, L, 2000)
    x[0, zero_rows] = 0.0  # all-zero rows inside the first sequence
    x[0, law.OUTPUT_OFFSET + 300 * BIN - HALF : law.OUTPUT_OFFSET + 300 * BIN + HALF + 1] = one_hot(
        encode(P_FWD)[None])[0]
    x[0, law.OUTPUT_OFFSET + 300 * BIN] = 0.0  # an exact promoter with its centre row zeroed: no hit
    decay = tf.constant(np.array(decay_matrix("float64")))
    conv = planted_law_tf(tf.constant(x), tf.constant(_filters()), decay, PLANTED_GEOMETRY).numpy()
    prod = planted_law_product_tf(tf.constant(x), decay, PLANTED_GEOMETRY).numpy()
    fused = tf.function(lambda a: planted_law_product_tf(a, decay, PLANTED_GEOMETRY), jit_compile=True)
    assert np.array_equal(conv, prod)
    assert np.array_equal(conv, fused(tf.constant(x)).numpy())
    codes_plain = planted_law_codes_tf(tf.constant(x), decay, PLANTED_GEOMETRY).numpy()
    inner = hit_codes_function(near=False, jit_compile=True)
    codes_inner = tf.function(lambda a: planted_law_codes_tf(a, decay, PLANTED_GEOMETRY, inner))
    codes_whole = tf.function(lambda a: planted_law_codes_tf(a, decay, PLANTED_GEOMETRY), jit_compile=True)
    assert np.array_equal(conv, codes_plain)
    assert np.array_equal(conv, codes_inner(tf.constant(x)).numpy())
    assert np.array_equal(conv, codes_whole(tf.constant(x)).numpy())
    assert np.array_equal(conv[1:], reference_output(planted_batch[1:]).astype(np.float32)) or np.allclose(
        conv[1:], reference_output(planted_batch[1:]), rtol=1e-6)


def test_decay_product_over_active_bins_equals_the_full_product() -> None:
    """:func:`decay_product_tf` sums over only the input bins holding an enhancer when there are at most
    ``max_active`` of them, else over all: either way the float64 product a plain NumPy matmul gives, to
    float64 rounding, for none, a few, exactly ``max_active`` and more active bins, in graph mode and XLA."""
    import tensorflow as tf

    from seqbench.models.planted.build import decay_product_tf
    from seqbench.models.planted.reference import decay_matrix

    decay = np.array(decay_matrix("float64"))
    rng = np.random.default_rng(8)
    n_in = decay.shape[0]
    fused = tf.function(lambda h: decay_product_tf(h, tf.constant(decay), max_active=16), jit_compile=True)
    for n_active in (0, 1, 5, 16, 17, 400):
        h = np.zeros((3, n_in))
        cols = rng.choice(n_in, size=n_active, replace=False)
        h[rng.integers(0, 3, n_active), cols] = rng.integers(1, 4, n_active) * 0.4  # W1-weighted, as planted-v2
        want = h @ decay
        got = decay_product_tf(tf.constant(h), tf.constant(decay), max_active=16).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
        np.testing.assert_allclose(fused(tf.constant(h)).numpy(), want, rtol=1e-13, atol=0)
