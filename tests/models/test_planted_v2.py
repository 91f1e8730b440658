"""planted-v2: graded motif scores and promoter saturation (docs/planted-model.md, "planted-v2").

The SavedModel is built once for the module and loaded through ``tensorflow_hub.load`` (Enformer's
path) and through the registry.  Known answers come from a brute-force loop over positions and from
the law's constants (:mod:`seqbench.models.planted.law`), never from the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from seqbench.models.planted import law
from seqbench.models.planted.build_v2 import (
    MODEL_NAME,
    TARGETS_FILE,
    XLA_ENV,
    ensure_planted_v2_model,
    is_complete_v2,
    planted_v2_metadata,
)
from seqbench.models.planted.reference import (
    MOTIFS,
    motif_weights,
    one_hot,
    output_from_weights_v2,
    position_weights,
    reference_output,
    reference_output_v2,
)
from seqbench.sequence.codes import N, encode, reverse_complement

tf = pytest.importorskip("tensorflow")
hub = pytest.importorskip("tensorflow_hub")

L = law.SEQUENCE_LENGTH
BIN = law.BIN_SIZE
K = law.MOTIF_LENGTH
HALF = K // 2
P_FWD, P_RC, E_FWD, E_RC = MOTIFS
CAGE_K562, DNASE_K562, CAGE_HEPG2 = 0, 1, 2


def plant(row: np.ndarray, centre: int, motif: str, mutate: dict[int, int] | None = None) -> None:
    """Write ``motif`` centred on ``centre``; ``mutate`` {offset in motif: code} then overwrites positions."""
    row[centre - HALF : centre - HALF + K] = encode(motif)
    for t, code in (mutate or {}).items():
        row[centre - HALF + t] = code


def one_substitution(motif: str, t: int, rng: np.random.Generator) -> int:
    """A code that differs from ``motif[t]`` (another base or N)."""
    own = int(encode(motif)[t])
    return int(rng.choice([c for c in range(5) if c != own]))


def brute_weights(codes_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin planted-v2 weights by a plain loop: every start, every orientation, count mismatches."""
    seq = [int(c) for c in codes_row]
    n_bins = len(seq) // BIN
    out = {"P": np.zeros(n_bins), "E": np.zeros(n_bins)}
    for motif, key in ((P_FWD, "P"), (P_RC, "P"), (E_FWD, "E"), (E_RC, "E")):
        letters = [int(c) for c in encode(motif)]
        for s in range(len(seq) - K + 1):
            m = sum(1 for t in range(K) if seq[s + t] != letters[t])  # N (4) is never a letter
            w = 1.0 if m == 0 else law.W1 if m == 1 else 0.0
            out[key][(s + HALF) // BIN] += w
    return out["P"], out["E"]


def saturated(x: float) -> float:
    return law.A * x / (1.0 + x / law.K_SAT)


def predict(model: Any, codes: np.ndarray, neutral: float = 0.25) -> np.ndarray:
    return model.model.predict_on_batch(one_hot(codes, neutral))["human"].numpy()


def output_bin(position: int) -> int:
    return (position - law.OUTPUT_OFFSET) // BIN


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_planted_v2_model(tmp_path_factory.mktemp("seqbench-cache"))


@pytest.fixture(scope="module")
def model(built: Path) -> Any:
    return hub.load(str(built))  # keep the loaded object alive: its variable belongs to it


@pytest.fixture(scope="module")
def graded_batch() -> np.ndarray:
    """Random sequences with exact, one-mismatch (a base or an N) and two-mismatch copies of every
    orientation, at bin edges and the input's ends, and N runs."""
    rng = np.random.default_rng(20240612)
    codes = rng.integers(0, 4, size=(3, L), dtype=np.uint8)
    lo = law.OUTPUT_OFFSET
    fixed = [
        (lo + 448 * BIN, P_FWD, {}),
        (lo + 449 * BIN - 1, P_RC, {0: N}),  # last nucleotide of a bin, one N
        (lo + 451 * BIN, P_FWD, {HALF: 0 if P_FWD[HALF] != "A" else 1}),  # first of a bin, centre substituted
        (lo + 440 * BIN + 3, E_FWD, {2: N, 7: N}),  # two Ns: weight 0
        (lo + 470 * BIN + 64, E_RC, {10: 0 if E_RC[10] != "A" else 2}),
        (lo + 5, P_RC, {}),  # first output bin
        (lo + 895 * BIN + 100, P_FWD, {3: N}),  # last output bin
        (2_000, E_FWD, {1: 3 if E_FWD[1] != "T" else 0}),  # far outside the output window
        (HALF, E_RC, {}),  # touching the start of the input
        (L - 1 - HALF, P_RC, {5: N}),  # touching the end
    ]
    for centre, motif, mutate in fixed:
        plant(codes[0], centre, motif, mutate)
    for motif in MOTIFS:  # row 1: many copies, graded at random, then N runs over some
        for centre in rng.integers(HALF, L - HALF, size=150):
            n_sub = int(rng.choice([0, 1, 1, 2]))
            ts = rng.choice(K, size=n_sub, replace=False)
            plant(codes[1], int(centre), motif, {int(t): one_substitution(motif, int(t), rng) for t in ts})
    for start in rng.integers(0, L - 5_000, size=20):
        codes[1, start : start + int(rng.integers(1, 5_000))] = N
    centre0 = lo + 300 * BIN + 17  # row 2: a promoter among one-mismatch enhancers
    plant(codes[2], centre0, P_FWD)
    for k in range(-40, 41, 4):
        c = centre0 + k * 97 + 50
        motif = E_FWD if k % 8 else E_RC
        t = k % K
        plant(codes[2], c, motif, {t: one_substitution(motif, t, rng)} if k % 3 else {})
    return codes


def test_motif_orientations_are_far_apart() -> None:
    """No 11-mer is within one mismatch of two orientations: each weighted window counts once."""
    for i, a in enumerate(MOTIFS):
        for b in MOTIFS[i + 1 :]:
            assert sum(x != y for x, y in zip(a, b, strict=True)) >= 3, (a, b)


def test_motif_weights_match_a_brute_force_loop() -> None:
    rng = np.random.default_rng(3)
    n = 8 * BIN
    codes = rng.integers(0, 4, size=(2, n), dtype=np.uint8)
    plant(codes[0], 100, P_FWD)
    plant(codes[0], 127, E_RC, {4: N})  # centre on a bin's last nucleotide
    plant(codes[0], 128, P_RC, {0: encode("T")[0] if P_RC[0] != "T" else 0})  # overlapping, next bin
    plant(codes[0], 400, E_FWD, {1: N, 9: N})  # two mismatches: nothing
    plant(codes[0], n - 1 - HALF, P_FWD, {10: N})
    codes[1, 300:340] = N
    plant(codes[1], 500, E_FWD, {5: 0 if E_FWD[5] != "A" else 1})
    h_p, h_e = motif_weights(codes)
    for b in range(2):
        bp, be = brute_weights(codes[b])
        np.testing.assert_allclose(h_p[b], bp, rtol=0, atol=1e-12)
        np.testing.assert_allclose(h_e[b], be, rtol=0, atol=1e-12)
    assert h_p[0].sum() >= 1 + 2 * law.W1 - 1e-12 and h_e[1].sum() >= law.W1 - 1e-12
    w_p, w_e = position_weights(codes)
    np.testing.assert_allclose(w_p.reshape(2, -1, BIN).sum(-1), h_p, atol=1e-12)
    np.testing.assert_allclose(w_e.reshape(2, -1, BIN).sum(-1), h_e, atol=1e-12)


def test_savedmodel_interface_and_metadata(built: Path, model: Any) -> None:
    out = model.model.predict_on_batch(one_hot(np.zeros((2, L), dtype=np.uint8)))
    assert set(out) == {"human"} and out["human"].dtype == tf.float32
    assert tuple(out["human"].shape) == (2, law.N_OUTPUT_BINS, len(law.TRACKS))
    meta = json.loads((built / "seqbench_model.json").read_text())
    assert meta["name"] == MODEL_NAME == "planted-v2" and meta["kind"] == "planted-v2" and meta["version"] == 2
    assert "not Enformer" in meta["note"]
    assert meta["law"]["W1"] == law.W1 and meta["law"]["K_SAT"] == law.K_SAT and meta["law"]["D0"] == law.D0
    assert meta["built_with"]["xla_jit_compile"] in ("true", "false")
    rows = [line.split("\t") for line in (built / TARGETS_FILE).read_text().splitlines()[1:]]
    assert [(int(r[0]), r[2], r[7]) for r in rows] == list(law.TRACKS)
    assert built.name == "planted-v2" and is_complete_v2(built)


def test_savedmodel_equals_reference(model: Any, graded_batch: np.ndarray) -> None:
    out = predict(model, graded_batch)
    ref = reference_output_v2(graded_batch)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=0)
    # the batch exercises the graded law: one-mismatch weights appear, and saturation bites
    h_p, h_e = motif_weights(graded_batch)
    frac = np.concatenate([h_p.ravel(), h_e.ravel()]) % 1.0
    assert np.isclose(frac, law.W1).any() and np.isclose(frac, 2 * law.W1).any()
    assert not np.allclose(ref, reference_output(graded_batch))


def test_all_zero_rows_are_mismatches_like_n(model: Any, graded_batch: np.ndarray) -> None:
    """N as all-zero one-hot rows (score 10 for one N) weighs like N as 0.25 (score 10.25): one mismatch."""
    np.testing.assert_allclose(predict(model, graded_batch, neutral=0.0), reference_output_v2(graded_batch),
                               rtol=1e-6, atol=0)


def test_strand_symmetry(model: Any, graded_batch: np.ndarray) -> None:
    rc = reverse_complement(graded_batch)
    h_p, h_e = motif_weights(graded_batch)
    h_p_rc, h_e_rc = motif_weights(rc)
    np.testing.assert_array_equal(h_p_rc, h_p[:, ::-1])
    np.testing.assert_array_equal(h_e_rc, h_e[:, ::-1])
    np.testing.assert_allclose(predict(model, rc), predict(model, graded_batch)[:, ::-1, :], rtol=1e-6, atol=0)


def test_known_answers_graded_promoter_and_saturation(model: Any) -> None:
    """On a background of A and C only (no motif within one mismatch can form): an exact promoter, a
    one-mismatch promoter, and the same with an enhancer 20 kb away, against the law's constants."""
    rng = np.random.default_rng(7)
    background = rng.choice(np.array([0, 1], dtype=np.uint8), size=L)
    j0 = law.N_OUTPUT_BINS // 2
    q_p = law.OUTPUT_OFFSET + j0 * BIN + 37
    q_e = q_p + 20_000
    sub = {3: N}
    codes = np.tile(background, (4, 1))
    plant(codes[0], q_p, P_FWD)
    plant(codes[1], q_p, P_FWD, sub)
    plant(codes[2], q_p, P_FWD)
    plant(codes[2], q_e, E_RC)
    plant(codes[3], q_p, P_RC, sub)
    plant(codes[3], q_e, E_FWD)
    assert sum(brute_weights(codes[0, q_p - 2 * BIN : q_p + 2 * BIN])[0]) == 1.0  # the background adds nothing
    out = predict(model, codes).astype(np.float64)
    g = law.decay((q_e // BIN - q_p // BIN) * BIN)
    for gain, track in ((law.B_K562, CAGE_K562), (law.B_HEPG2, CAGE_HEPG2)):
        for row, prom, enh in ((0, 1.0, 0.0), (1, law.W1, 0.0), (2, 1.0, g), (3, law.W1, g)):
            want = saturated((prom + law.P0) * (1 + gain * enh))
            np.testing.assert_allclose(out[row, j0, track], want, rtol=1e-6)
    np.testing.assert_allclose(out[:, j0, DNASE_K562], law.C0 + law.C1 * np.array([1, law.W1, 1, law.W1]), rtol=1e-6)
    # saturation: the enhancer's fold change is below v1's (1 + B g) and shrinks with promoter strength
    fc_strong = out[2, j0, CAGE_K562] / out[0, j0, CAGE_K562]
    fc_weak = out[3, j0, CAGE_K562] / out[1, j0, CAGE_K562]
    assert 1.0 < fc_strong < fc_weak < 1.0 + law.B_K562 * g


def test_ism_of_a_motif_is_graded(model: Any) -> None:
    """In-silico mutagenesis of an exact promoter: every single substitution leaves a one-mismatch
    window (weight W1), so each lowers the landmark CAGE by the same graded amount, not to basal."""
    rng = np.random.default_rng(11)
    background = rng.choice(np.array([0, 1], dtype=np.uint8), size=L)
    j0 = law.N_OUTPUT_BINS // 2
    q = law.OUTPUT_OFFSET + j0 * BIN + 64
    ref = background.copy()
    plant(ref, q, P_FWD)
    rows = [ref]
    for t in range(K):
        for code in range(4):
            if code != encode(P_FWD)[t]:
                row = ref.copy()
                row[q - HALF + t] = code
                rows.append(row)
    out = predict(model, np.stack(rows)).astype(np.float64)[:, j0, CAGE_K562]
    h_p, _h_e = motif_weights(np.stack(rows))
    np.testing.assert_allclose(out, output_from_weights_v2(h_p, _h_e)[:, j0, CAGE_K562], rtol=1e-6)
    np.testing.assert_allclose(out[0], saturated(1 + law.P0), rtol=1e-6)
    np.testing.assert_allclose(out[1:], saturated(law.W1 + law.P0), rtol=1e-6)
    assert saturated(law.P0) < out[1:].min()  # graded: above the basal level a v1 model would give


def test_built_without_xla_gives_the_same_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: Any, graded_batch: np.ndarray
) -> None:
    monkeypatch.setenv(XLA_ENV, "0")
    path = ensure_planted_v2_model(tmp_path)
    assert json.loads((path / "seqbench_model.json").read_text())["built_with"]["xla_jit_compile"] == "false"
    plain = hub.load(str(path))
    np.testing.assert_allclose(predict(plain, graded_batch[:1]), predict(model, graded_batch[:1]), rtol=1e-6, atol=0)


def test_letter_codes_equal_the_channel_scores_bit_for_bit(graded_batch: np.ndarray) -> None:
    """The SavedModel's formulation (letter codes; only the comparisons XLA-compiled) gives exactly the
    outputs of ``FORMAT_VERSION`` 1's (window scores as sums of shifted one-hot channels), on the graded
    batch (exact, one- and two-mismatch copies, N runs, copies touching either end of the input) with N as
    0.25 and as all-zero rows, compiled or not; and a window that would reach past the start or the end of
    the input never counts, even when its 10 rows inside match."""
    from seqbench.models.planted.build import hit_codes_function
    from seqbench.models.planted.build_v2 import planted_law_v2_scores_tf, planted_law_v2_tf
    from seqbench.models.planted.reference import PLANTED_GEOMETRY, decay_matrix

    decay = tf.constant(np.array(decay_matrix("float64")))
    edges = graded_batch[:1].copy()
    edges[0, : K - 1] = encode(E_FWD)[1:]  # the motif without its first letter, at the very start
    edges[0, L - (K - 1) :] = encode(P_RC)[: K - 1]  # without its last letter, at the very end
    inner = hit_codes_function(near=True, jit_compile=True)
    compiled = tf.function(lambda a: planted_law_v2_tf(a, decay, PLANTED_GEOMETRY, inner))
    whole = tf.function(lambda a: planted_law_v2_tf(a, decay, PLANTED_GEOMETRY), jit_compile=True)
    for codes in (graded_batch, edges):
        for neutral in (0.25, 0.0):
            x = tf.constant(one_hot(codes, neutral))
            want = planted_law_v2_scores_tf(x, decay, PLANTED_GEOMETRY).numpy()
            assert np.array_equal(planted_law_v2_tf(x, decay, PLANTED_GEOMETRY).numpy(), want)
            assert np.array_equal(compiled(x).numpy(), want)
            assert np.array_equal(whole(x).numpy(), want)
    np.testing.assert_allclose(predict_codes_v2(edges, decay), reference_output_v2(edges), rtol=1e-6)


def predict_codes_v2(codes: np.ndarray, decay: Any) -> np.ndarray:
    from seqbench.models.planted.build_v2 import planted_law_v2_tf

    return planted_law_v2_tf(tf.constant(one_hot(codes)), decay).numpy()


def test_is_complete_checks_the_v2_law(tmp_path: Path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(b"")
    (tmp_path / "assets").mkdir()
    (tmp_path / TARGETS_FILE).write_text("x")
    meta = planted_v2_metadata()
    (tmp_path / "seqbench_model.json").write_text(json.dumps(meta))
    assert is_complete_v2(tmp_path)
    meta["law"]["K_SAT"] = law.K_SAT * 2
    (tmp_path / "seqbench_model.json").write_text(json.dumps(meta))
    assert not is_complete_v2(tmp_path)


def test_registry_loads_v2_and_keeps_v1(tmp_path: Path, graded_batch: np.ndarray) -> None:
    """Kind ``planted-v2`` through the registry and the TF-Hub adapter (Enformer's path); kind ``planted``
    still names planted-v1, built in its own folder."""
    from seqbench.models.registry import KINDS, ModelSpec, describe, load_model
    from seqbench.report.job import planted_note

    assert KINDS["planted-v2"].twin_of == "enformer" and KINDS["planted"].default_name == "planted-v1"
    name, geometry, tracks, handle = describe(ModelSpec(kind="planted-v2"), tmp_path)
    assert name == "planted-v2" and Path(handle) == tmp_path / "models" / "planted-v2"
    assert geometry.sequence_length == L and geometry.n_bins == law.N_OUTPUT_BINS
    assert "Enformer" in planted_note({"kind": "planted-v2"})
    v1 = describe(ModelSpec(kind="planted"), tmp_path)
    assert v1[0] == "planted-v1" and Path(v1[3]) == tmp_path / "models" / "planted-v1"

    model = load_model(ModelSpec(kind="planted-v2", batch_size=2), tmp_path)
    codes = graded_batch[:, : law.SEQUENCE_LENGTH]
    bins = np.tile(np.arange(440, 460, dtype=np.int32), (len(codes), 1))
    got = model.predict(codes, bins, np.array([CAGE_K562, DNASE_K562], dtype=np.int32))
    want = reference_output_v2(codes)[:, 440:460][:, :, [CAGE_K562, DNASE_K562]]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
