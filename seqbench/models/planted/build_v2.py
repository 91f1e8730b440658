"""Build planted-v2: the planted model with graded motif scores and promoter saturation.

Same interface, geometry, motifs and tracks as planted-v1 (:mod:`seqbench.models.planted.build`)::

    model = tensorflow_hub.load(str(path))
    out = model.model.predict_on_batch(x)["human"]   # x: float32 [B, 393216, 4] -> [B, 896, 3]

but the law of ``planted-v2`` (:mod:`seqbench.models.planted.law`, ``docs/planted-model.md``): an
11-mer within one mismatch of a motif orientation weighs ``W1`` (an exact one 1), and the CAGE
tracks saturate, ``A X / (1 + X / K_SAT)``.  NumPy reference:
:func:`seqbench.models.planted.reference.reference_output_v2`.  Cached in
``<cache>/models/planted-v2/``, next to (never instead of) ``planted-v1``: jobs that name kind
``planted`` keep getting v1.

TensorFlow is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqbench.models.planted import law
from seqbench.models.planted.build import (
    TARGETS_FILE,
    XLA_ENV,  # noqa: F401  (re-exported: where planted-v2 users look for it)
    _write_targets,
    binned_law_constants,
    ensure_built,
    hit_codes_function,
    law_tracks_tf,
    make_planted_module,
    metadata_matches,
    motifs_and_tracks,
    planted_law_codes_tf,
    write_metadata,
    xla_available,
)
from seqbench.models.planted.reference import (
    CENTRE,
    MOTIFS,
    NEUTRAL_VALUE,
    PLANTED_GEOMETRY,
)
from seqbench.sequence.codes import encode

MODEL_NAME = "planted-v2"
MODEL_KIND = "planted-v2"
#: bump when the SavedModel's contents or metadata change; older cached builds are rebuilt
FORMAT_VERSION = 2  # 2: scores from letter codes, only the comparisons XLA-compiled (outputs unchanged)
#: A window's score is the sum over its 11 positions of the one-hot channel of the motif's letter there:
#: 11 exact; one mismatch 10 (another base, or an all-zero row) or 10.25 (an N, 0.25 per channel); two or
#: more at most 9.5 (two Ns).  The thresholds sit halfway between those values.
EXACT_THRESHOLD = 10.5
NEAR_THRESHOLD = 9.75

NOTE = (
    "Synthetic instrument, not Enformer: a planted law (graded promoter and enhancer motif scores, "
    "exact = 1 and one mismatch = W1; enhancer effect decaying as 1/(1 + d/D0); CAGE saturating as "
    "A X / (1 + X / K_SAT), so strong promoters damp enhancer effects) behind Enformer's interface and "
    "geometry, built by seqbench to check its pipeline against known answers. Never present its outputs "
    "as Enformer predictions."
)


def planted_v2_metadata() -> dict[str, Any]:
    """The content of planted-v2's ``seqbench_model.json`` (without build details)."""
    g = PLANTED_GEOMETRY
    return {
        "format_version": FORMAT_VERSION,
        "name": MODEL_NAME,
        "kind": MODEL_KIND,
        "version": 2,
        "note": NOTE,
        "interface": {
            "load": "tensorflow_hub.load(path).model.predict_on_batch(x)['human']",
            "input": f"float32 [B, {g.sequence_length}, 4] one-hot A,C,G,T; N = {NEUTRAL_VALUE}",
            "output": f"float32 [B, {g.n_bins}, {len(law.TRACKS)}]",
            "neutral_value": NEUTRAL_VALUE,
        },
        "geometry": {
            "sequence_length": g.sequence_length,
            "bin_size": g.bin_size,
            "offset": g.offset,
            "n_bins": g.n_bins,
            "n_input_bins": g.sequence_length // g.bin_size,
        },
        "law": {
            **binned_law_constants(),
            "W1": law.W1,
            "K_SAT": law.K_SAT,
            "window_score": "the number of the 11 rows whose letter code x . (1, 2, 4, 8) equals the motif"
                            " letter's (A 1, C 2, G 4, T 8; N and all-zero rows never do): 11 exact, 10 one"
                            " mismatch",
            "formulas": {
                "w": "w(m) = 1 if m == 0, W1 if m == 1, else 0; m = mismatching positions of the 11-mer (N mismatches)",
                "h_M": "sum of w over both orientations of motif M, 11-mers centred in input bin i",
                "prom": "h_P[J-1] + h_P[J] + h_P[J+1], J = j + 1088",
                "enh": "sum_i h_E[i] * g(|i - J| * 128), g(d) = 1 / (1 + d / D0)",
                "X_c": "(prom + P0) * (1 + B_c * enh)",
                "CAGE_c": "A * X_c / (1 + X_c / K_SAT)",
                "DNASE": "C0 + C1 * (h_P[J] + h_E[J])",
            },
        },
        **motifs_and_tracks(),
    }


def planted_law_v2_tf(x: Any, decay: Any, geometry: Any = PLANTED_GEOMETRY, hit_codes: Any = None) -> Any:
    """planted-v2's law as TensorFlow ops: ``x`` float32 one-hot ``[B, L, 4]``, ``decay`` the float64
    :func:`decay_matrix` of ``geometry`` -> float32 ``[B, n_bins, 3]`` (``law.TRACKS`` order), equal to
    :func:`~seqbench.models.planted.reference.reference_output_v2` up to float32 rounding.

    Each window's score is the number of its 11 rows whose letter code is the motif's (N and all-zero rows
    mismatch; :func:`~seqbench.models.planted.build.centred_hit_codes_tf`), so no convolution and no TF32
    on GPUs; per-bin counts of exact and one-mismatch windows are exact integers, combined as
    ``n_exact + W1 n_near`` in float64.  ``hit_codes``: that function, XLA-compiled or not.
    """
    return planted_law_codes_tf(x, decay, geometry, hit_codes, k_sat=law.K_SAT, near_weight=law.W1)


def planted_law_v2_scores_tf(x: Any, decay: Any, geometry: Any = PLANTED_GEOMETRY) -> Any:
    """``FORMAT_VERSION`` 1's formulation of :func:`planted_law_v2_tf` (scores as sums of 11 shifted one-hot
    channels, thresholds :data:`EXACT_THRESHOLD` and :data:`NEAR_THRESHOLD`), kept as an independent second
    formulation for the tests."""
    import tensorflow as tf

    k = law.MOTIF_LENGTH
    length = geometry.sequence_length
    n_starts = length - k + 1
    n_in = length // law.BIN_SIZE
    channels = tf.unstack(x, num=4, axis=-1)  # 4 x [B, L], contiguous slices below
    hits = []  # exact_P, near_P, exact_E, near_E: float32 [B, n_starts], 0..2 (two orientations)
    for pair in ((0, 1), (2, 3)):
        exact, near = None, None
        for m in pair:
            letters = encode(MOTIFS[m])
            score = channels[int(letters[0])][:, 0:n_starts]
            for t in range(1, k):
                score = score + channels[int(letters[t])][:, t : t + n_starts]
            e = tf.cast(score > EXACT_THRESHOLD, tf.float32)
            a = tf.cast(score > NEAR_THRESHOLD, tf.float32)  # exact or one mismatch
            exact = e if exact is None else exact + e
            near = a - e if near is None else near + (a - e)
        hits += [exact, near]
    per_start = tf.stack(hits, axis=-1)  # [B, n_starts, 4]
    # start s -> centre s + 5; pad back to [B, L, 4] aligned on centre nucleotides
    per_centre = tf.pad(per_start, [[0, 0], [CENTRE, k - 1 - CENTRE], [0, 0]])
    per_bin = tf.cast(tf.reduce_sum(tf.reshape(per_centre, [-1, n_in, law.BIN_SIZE, 4]), axis=2), tf.float64)
    h_p = per_bin[..., 0] + law.W1 * per_bin[..., 1]  # [B, n_in]
    h_e = per_bin[..., 2] + law.W1 * per_bin[..., 3]
    return law_tracks_tf(h_p, h_e, tf.linalg.matmul(h_e, decay), geometry, law.K_SAT)


def build_planted_v2_savedmodel(path: Path) -> Path:
    """Build planted-v2 into ``path`` (a new or empty directory): the SavedModel, ``assets/targets.txt``
    (the same three tracks as v1) and, last, ``seqbench_model.json``.  Returns ``path``."""
    import tensorflow as tf

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    jit = xla_available(planted_law_v2_tf)
    hit_codes = hit_codes_function(near=True, jit_compile=jit)
    module = make_planted_module(lambda x, decay, g: planted_law_v2_tf(x, decay, g, hit_codes), name="planted_v2")
    tf.saved_model.save(module, str(path))
    _write_targets(path / TARGETS_FILE)
    # whether XLA is on is a property of this build, not of the law: recorded in built_with, which
    # is_complete_v2 ignores
    write_metadata(path, planted_v2_metadata(), xla_jit_compile=str(jit).lower())
    return path


def is_complete_v2(path: Path) -> bool:
    """Whether ``path`` holds a complete build of the current planted-v2 (law and format)."""
    return metadata_matches(path, planted_v2_metadata(), ("saved_model.pb", TARGETS_FILE))


def ensure_planted_v2_model(cache_dir: Path | None = None) -> Path:
    """Path of the built planted-v2, ``<cache_dir>/models/planted-v2/``, building it if needed
    (:func:`~seqbench.models.planted.build.ensure_built`; ``cache_dir`` defaults to ``$SEQBENCH_CACHE_DIR``)."""
    return ensure_built(MODEL_NAME, build_planted_v2_savedmodel, is_complete_v2, cache_dir)
