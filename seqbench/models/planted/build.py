"""Build the planted model: a TensorFlow SavedModel with Enformer's TF-Hub interface.

The SavedModel is called exactly like Enformer from TF-Hub::

    model = tensorflow_hub.load(str(path))
    out = model.model.predict_on_batch(x)["human"]   # x: float32 [B, 393216, 4] -> [B, 896, 3]

and implements the law of :mod:`seqbench.models.planted.law` (NumPy reference:
:mod:`seqbench.models.planted.reference`).  It is a synthetic instrument for checking the
pipeline, never Enformer.  Besides the SavedModel files the directory holds
``assets/targets.txt`` (Enformer's targets-file layout) and ``seqbench_model.json`` (name,
geometry, law constants, motifs); the JSON file is written last and marks a complete build.

TensorFlow is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seqbench.models.planted import law
from seqbench.models.planted.reference import (
    CENTRE,
    MOTIFS,
    NEUTRAL_VALUE,
    decay_matrix,
    track_formulas,
)
from seqbench.sequence.codes import encode

MODEL_NAME = "planted-v1"
MODEL_KIND = "planted"
#: bump when the SavedModel's contents or metadata change; older cached builds are rebuilt
#: 2: exact hits as products of shifted one-hot channels, XLA-compiled (outputs unchanged); 3: hits from letter
#: codes, only the comparisons XLA-compiled, the decay sum over the bins holding enhancers (outputs unchanged)
FORMAT_VERSION = 3
METADATA_FILE = "seqbench_model.json"
TARGETS_FILE = "assets/targets.txt"
#: a window scores one per matching one-hot channel (max 11); one N (0.25) gives at most 10.25
HIT_THRESHOLD = 10.5
#: set to ``0`` to build the planted models without XLA (``jit_compile``), e.g. for workers where XLA cannot
#: compile what a head node built
XLA_ENV = "SEQBENCH_PLANTED_XLA"
#: temporary build directories older than this (seconds) are taken for crashed builds and removed
_STALE_TMP_AGE_S = 24 * 3600.0

NOTE = (
    "Synthetic instrument, not Enformer: a planted law (promoter and enhancer motif counts, "
    "multiplicative combination, enhancer effect decaying as 1/(1 + d/D0)) behind Enformer's "
    "interface and geometry, built by seqbench to check its pipeline against known answers. "
    "Never present its outputs as Enformer predictions."
)


def binned_law_constants() -> dict[str, Any]:
    """The binned law's constants as every planted model's ``seqbench_model.json`` records them."""
    return {"A": law.A, "P0": law.P0, "B_K562": law.B_K562, "B_HEPG2": law.B_HEPG2, "D0": law.D0,
            "C0": law.C0, "C1": law.C1, "motif_length": law.MOTIF_LENGTH}


def write_metadata(path: Path, meta: dict[str, Any], **versions: str) -> None:
    """``seqbench_model.json`` with ``built_with`` (TensorFlow's and ``versions``), written last and
    atomically: a directory with it holds a complete build."""
    import tensorflow as tf

    meta = {**meta, "built_with": {"tensorflow": tf.__version__, **versions, "built_at_unix": round(time.time(), 3)}}
    tmp = path / (METADATA_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path / METADATA_FILE)


def metadata_matches(path: Path, expected: dict[str, Any], files: tuple[str, ...] = ()) -> bool:
    """Whether ``path`` holds ``files`` and a ``seqbench_model.json`` equal to ``expected`` (apart from
    ``built_with``): a complete build of the current version."""
    path = Path(path)
    try:
        meta = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(meta, dict) or not all((path / f).is_file() for f in files):
        return False
    meta.pop("built_with", None)
    return meta == expected


def motifs_and_tracks() -> dict[str, Any]:
    """The motifs and the track table as the planted Enformer-geometry models' ``seqbench_model.json`` lists them."""
    return {
        "motifs": {"promoter": MOTIFS[0], "promoter_rc": MOTIFS[1], "enhancer": MOTIFS[2], "enhancer_rc": MOTIFS[3]},
        "tracks": [{"index": i, "identifier": ident, "description": desc} for i, ident, desc in law.TRACKS],
    }


def planted_metadata() -> dict[str, Any]:
    """The content of ``seqbench_model.json`` for the current law (without build details)."""
    return {
        "format_version": FORMAT_VERSION,
        "name": MODEL_NAME,
        "kind": MODEL_KIND,
        "note": NOTE,
        "interface": {
            "load": "tensorflow_hub.load(path).model.predict_on_batch(x)['human']",
            "input": f"float32 [B, {law.SEQUENCE_LENGTH}, 4] one-hot A,C,G,T; N = {NEUTRAL_VALUE}",
            "output": f"float32 [B, {law.N_OUTPUT_BINS}, {len(law.TRACKS)}]",
            "neutral_value": NEUTRAL_VALUE,
        },
        "geometry": {
            "sequence_length": law.SEQUENCE_LENGTH,
            "bin_size": law.BIN_SIZE,
            "offset": law.OUTPUT_OFFSET,
            "n_bins": law.N_OUTPUT_BINS,
            "n_input_bins": law.N_INPUT_BINS,
        },
        "law": {
            **binned_law_constants(),
            "hit_rule": "each of the 11 rows' letter code x . (1, 2, 4, 8) equals the motif letter's (A 1, C 2,"
                        " G 4, T 8; an N, 0.25 per channel, codes 3.75 and an all-zero row 0: never a letter)",
            "formulas": {
                "prom": "h_P[J-1] + h_P[J] + h_P[J+1], J = j + 1088",
                "enh": "sum_i h_E[i] * g(|i - J| * 128), g(d) = 1 / (1 + d / D0)",
                "CAGE_c": "A * (prom + P0) * (1 + B_c * enh)",
                "DNASE": "C0 + C1 * (h_P[J] + h_E[J])",
            },
        },
        **motifs_and_tracks(),
    }


def _filters() -> np.ndarray:
    """Conv filters float32 ``[11, 4, 4]`` (width, base A/C/G/T, motif in ``MOTIFS`` order)."""
    w = np.zeros((law.MOTIF_LENGTH, 4, len(MOTIFS)), dtype=np.float32)
    for m, motif in enumerate(MOTIFS):
        w[np.arange(law.MOTIF_LENGTH), encode(motif), m] = 1.0
    return w


def planted_law_tf(x: Any, motif_filters: Any, decay: Any, geometry: Any) -> Any:
    """The binned planted law as TensorFlow ops (TF2 functions and TF1 graphs alike).

    ``x``: float32 one-hot ``[B, L, 4]``; ``motif_filters``: :func:`_filters` (``[11, 4, 4]``);
    ``decay``: float64 :func:`decay_matrix` of ``geometry``.  Returns float32 ``[B, n_bins, 3]``
    (tracks in ``law.TRACKS`` order), equal to :func:`reference_output` at ``geometry``.
    """
    import tensorflow as tf

    # [B, L-10, 4]: number of one-hot channels agreeing with each motif, by start position
    score = tf.nn.conv1d(x, motif_filters, stride=1, padding="VALID")
    return binned_counts_law_tf(tf.cast(score > HIT_THRESHOLD, tf.float32), decay, geometry)


def binned_counts_law_tf(per_start: Any, decay: Any, geometry: Any) -> Any:
    """Hits by start position float32 ``[B, L - 10, 4]`` (``MOTIFS`` order) -> the law's tracks float32
    ``[B, n_bins, 3]``: each hit moved to its centre nucleotide, counted per input bin (exact integers),
    then the formulas in float64 (``decay``: the float64 :func:`decay_matrix` of ``geometry``)."""
    import tensorflow as tf

    n_in = geometry.sequence_length // law.BIN_SIZE
    # start s -> centre s + 5; pad back to [B, L, 4] aligned on centre nucleotides
    hit = tf.pad(per_start, [[0, 0], [CENTRE, law.MOTIF_LENGTH - 1 - CENTRE], [0, 0]])
    per_bin = tf.reduce_sum(tf.reshape(hit, [-1, n_in, law.BIN_SIZE, len(MOTIFS)]), axis=2)  # exact integers
    per_bin = tf.cast(per_bin, tf.float64)
    h_p = per_bin[..., 0] + per_bin[..., 1]  # [B, n_in]
    h_e = per_bin[..., 2] + per_bin[..., 3]
    # float64 matmul: exact enough, and never rewritten to TF32 on GPUs
    return law_tracks_tf(h_p, h_e, tf.linalg.matmul(h_e, decay), geometry)


def law_tracks_tf(h_p: Any, h_e: Any, enh: Any, geometry: Any, k_sat: float | None = None) -> Any:
    """The binned law's formulas: per-input-bin motif strengths ``h_p``, ``h_e`` float64 ``[B, n_in]`` and the
    decayed enhancer sums ``enh`` float64 ``[B, n_bins]`` -> float32 ``[B, n_bins, 3]`` (``law.TRACKS`` order).
    ``k_sat``: planted-v2's CAGE saturation ``A X / (1 + X / k_sat)``; ``None``: planted-v1's ``A X``."""
    import tensorflow as tf

    o, n = geometry.offset // law.BIN_SIZE, geometry.n_bins
    prom = h_p[:, o - 1 : o - 1 + n] + h_p[:, o : o + n] + h_p[:, o + 1 : o + 1 + n]
    dnase = law.C0 + law.C1 * (h_p[:, o : o + n] + h_e[:, o : o + n])
    tracks = []
    for kind, gain in track_formulas():
        if kind != "cage":
            tracks.append(dnase)
        elif k_sat is None:
            tracks.append(law.A * (prom + law.P0) * (1.0 + gain * enh))
        else:
            xx = (prom + law.P0) * (1.0 + gain * enh)
            tracks.append(law.A * xx / (1.0 + xx / k_sat))
    return tf.cast(tf.stack(tracks, axis=-1), tf.float32)


def planted_law_product_tf(x: Any, decay: Any, geometry: Any) -> Any:
    """The binned planted law with the motif hits as products of shifted one-hot channels (no convolution):
    a window starting at ``s`` holds motif ``m`` exactly when ``prod_k x[s + k, m_k] = 1`` (an N, 0.25 per
    channel, or an all-zero row makes the product <= 0.25).  For one-hot input the hits, the counts and so
    the outputs are the same, bit for bit, as :func:`planted_law_tf`'s.  ``FORMAT_VERSION`` 2's
    formulation, kept as a second independent formulation for the tests (:func:`planted_law_codes_tf` is
    the SavedModel's)."""
    import tensorflow as tf

    n_starts = geometry.sequence_length - law.MOTIF_LENGTH + 1
    channels = tf.unstack(x, num=4, axis=-1)  # 4 x [B, L]
    hits = []
    for motif in MOTIFS:
        letters = encode(motif)
        prod = channels[int(letters[0])][:, 0:n_starts]
        for k in range(1, law.MOTIF_LENGTH):
            prod = prod * channels[int(letters[k])][:, k : k + n_starts]
        hits.append(tf.cast(prod > 0.5, tf.float32))
    return binned_counts_law_tf(tf.stack(hits, axis=-1), decay, geometry)


#: a one-hot row's letter code is ``x . LETTER_CODES``: exactly 1, 2, 4 or 8 for A, C, G, T, 3.75 for an N
#: (0.25 per channel) and 0 for an all-zero row, so neither N encoding equals a letter
LETTER_CODES = (1.0, 2.0, 4.0, 8.0)
#: per-centre hit codes pack two counts in one float32, ``low + NEAR_PACK * high`` (a bin's counts are at most
#: 128 < NEAR_PACK, and the packed sums stay exact integers below 2**24)
NEAR_PACK = 1024.0
#: the decay product runs over at most this many input bins when no more hold an enhancer (the usual case)
MAX_ACTIVE_BINS = 64


def centred_hit_codes_tf(x: Any, near: bool = False) -> Any:
    """Motif hits of one-hot ``x`` float32 ``[B, L, 4]`` at their centre nucleotides, packed as exact integers
    in a tuple of float32 ``[B, L]`` channels (separate outputs: XLA writes an interleaved ``[B, L, 2]``
    noticeably slower):

    * ``near=False`` (planted-v1), one channel: ``exact_P + NEAR_PACK * exact_E``;
    * ``near=True`` (planted-v2), two channels: ``exact_M + NEAR_PACK * near_M`` for M = promoter, enhancer;

    where ``exact_M`` counts the windows centred at that nucleotide that equal motif M in either orientation
    and ``near_M`` those one letter away.  A window is the 11 rows ``[q - 5, q + 6)``; windows that reach past
    either end of the input do not exist.

    The rows are first reduced to their letter codes (:data:`LETTER_CODES`); a window's score is the number
    of its rows whose code is the motif's letter, so N rows and all-zero rows are mismatches, as in the
    product and score formulations, for the inputs the interface takes (one-hot rows, N = 0.25, or all
    zero).  Under XLA the compaction, the 44 comparisons and the packing fuse into one pass over the input;
    the per-bin sums stay outside, where TensorFlow's own reduction is several times faster on CPU, and the
    codes (not the hits) are padded, because a padded XLA output costs three times the whole pass."""
    import tensorflow as tf

    k = law.MOTIF_LENGTH
    length = int(x.shape[1])
    code = x[..., 0] * LETTER_CODES[0] + x[..., 1] * LETTER_CODES[1] + x[..., 2] * LETTER_CODES[2] + (
        x[..., 3] * LETTER_CODES[3])  # [B, L], exact
    # row q + t - 5 of the input is row q + t here; the padding's code 0 is no letter
    code = tf.pad(code, [[0, 0], [CENTRE, k - 1 - CENTRE]])

    def agree(m: int) -> list[Any]:
        letters = encode(MOTIFS[m])
        return [tf.equal(code[:, t : t + length], LETTER_CODES[int(letters[t])]) for t in range(k)]

    def exact(m: int) -> Any:
        hits = agree(m)
        out = hits[0]
        for h in hits[1:]:
            out = tf.logical_and(out, h)
        return tf.cast(out, tf.float32)

    def exact_near(m: int) -> tuple[Any, Any]:
        score = tf.add_n([tf.cast(h, tf.int32) for h in agree(m)])
        return tf.cast(tf.equal(score, k), tf.float32), tf.cast(tf.equal(score, k - 1), tf.float32)

    if not near:  # a centre holds at most one exact motif: the four motifs differ pairwise
        return ((exact(0) + exact(1)) + NEAR_PACK * (exact(2) + exact(3)),)
    pos = tf.range(length)
    inside = tf.cast((pos >= CENTRE) & (pos < length - (k - 1 - CENTRE)), tf.float32)  # windows that exist
    channels = []
    for pair in ((0, 1), (2, 3)):
        (e0, n0), (e1, n1) = exact_near(pair[0]), exact_near(pair[1])
        channels.append(((e0 + e1) + NEAR_PACK * (n0 + n1)) * inside)
    return tuple(channels)


def decay_product_tf(h_e: Any, decay: Any, max_active: int = MAX_ACTIVE_BINS) -> Any:
    """``h_e @ decay`` in float64 (``h_e`` ``[B, n_in]``, ``decay`` ``[n_in, n_bins]``), over only the input bins
    where some row of ``h_e`` is non-zero when there are at most ``max_active`` of them (the zero columns add
    exact zeros), else over all.  Static shapes either way, so XLA compiles it; float64, so GPUs never rewrite
    it to TF32."""
    import tensorflow as tf

    n_in = int(decay.shape[0])
    k = min(int(max_active), n_in)
    active = tf.cast(tf.reduce_any(tf.not_equal(h_e, 0.0), axis=0), tf.float32)  # [n_in]

    def few() -> Any:
        _, idx = tf.math.top_k(active, k=k)  # every active bin, then inactive ones (zero columns)
        return tf.linalg.matmul(tf.gather(h_e, idx, axis=1), tf.gather(decay, idx))

    return tf.cond(tf.reduce_sum(active) <= float(k), few, lambda: tf.linalg.matmul(h_e, decay))


def hit_codes_function(near: bool, jit_compile: bool) -> Any:
    """:func:`centred_hit_codes_tf` as a ``tf.function`` (XLA-compiled with ``jit_compile``), for use inside a
    model's call: XLA fuses the comparisons, TensorFlow does the reductions that follow."""
    import tensorflow as tf

    return tf.function(lambda x: centred_hit_codes_tf(x, near), jit_compile=jit_compile)


def planted_law_codes_tf(x: Any, decay: Any, geometry: Any, hit_codes: Any = None, k_sat: float | None = None,
                         near_weight: float | None = None) -> Any:
    """The binned planted law from letter codes (the SavedModel's formulation since ``FORMAT_VERSION`` 3):
    one-hot ``x`` float32 ``[B, L, 4]`` -> float32 ``[B, n_bins, 3]``.  ``hit_codes``: a function like
    :func:`centred_hit_codes_tf` (default: that function with ``near`` when ``near_weight`` is set);
    ``near_weight``: planted-v2's ``W1`` (a window one letter away weighs it); ``k_sat``: planted-v2's
    saturation.  For one-hot input the hit counts equal the convolution's and the products' exactly, and
    the outputs agree with them to float64 rounding (the decay sum runs over fewer zero terms)."""
    import tensorflow as tf

    near = near_weight is not None
    codes = hit_codes(x) if hit_codes is not None else centred_hit_codes_tf(x, near)  # C x [B, L]
    n_in = geometry.sequence_length // law.BIN_SIZE
    per_bin = tf.stack([tf.reduce_sum(tf.reshape(c, [-1, n_in, law.BIN_SIZE]), axis=2) for c in codes],
                       axis=-1)  # [B, n_in, C], exact
    high = tf.floor(per_bin / NEAR_PACK)
    low = tf.cast(per_bin - NEAR_PACK * high, tf.float64)
    high = tf.cast(high, tf.float64)
    if near:
        h = low + near_weight * high  # exact + W1 near, per motif
        h_p, h_e = h[..., 0], h[..., 1]
    else:
        h_p, h_e = low[..., 0], high[..., 0]
    return law_tracks_tf(h_p, h_e, decay_product_tf(h_e, decay), geometry, k_sat)


def xla_available(law_fn: Callable[[Any, Any, Any], Any]) -> bool:
    """Whether XLA compiles and runs ``law_fn(x, decay, geometry)`` on every device kind TensorFlow sees
    (CPU, and the first GPU if there is one), probed at a 2,048-bp geometry (about a second, once per
    build); False if ``$SEQBENCH_PLANTED_XLA`` is ``0``."""
    import tensorflow as tf

    from seqbench.models.base import Geometry

    if os.environ.get(XLA_ENV, "").strip() == "0":
        return False
    small = Geometry(2_048, law.BIN_SIZE, 2 * law.BIN_SIZE, 12)
    x = np.zeros((1, small.sequence_length, 4), dtype=np.float32)
    x[0, np.arange(small.sequence_length), np.arange(small.sequence_length) % 4] = 1.0
    decay = np.array(decay_matrix("float64", small))
    devices = ["/CPU:0"] + (["/GPU:0"] if tf.config.list_physical_devices("GPU") else [])
    try:
        for device in devices:
            with tf.device(device):
                fn = tf.function(lambda a, d: law_fn(a, d, small), jit_compile=True)
                out = fn(tf.constant(x), tf.constant(decay)).numpy()
            if not np.isfinite(out).all():
                return False
    except Exception:  # no XLA for this device or build (tf.errors.*, NotImplementedError, ...): build without it
        return False
    return True


def make_planted_module(law_fn: Callable[[Any, Any, Any], Any], jit_compile: bool = False,
                        name: str = "planted") -> Any:
    """The ``tf.Module`` a planted model saves: ``root.model.predict_on_batch(x) -> {'human': [B, 896, 3]}``
    computed by ``law_fn(x, decay, PLANTED_GEOMETRY)`` (the decay matrix a non-trainable float64 variable,
    like Enformer's weights, so callers must keep the loaded object alive); with ``jit_compile`` the call is
    one XLA computation.  ``name`` prefixes the modules' names (``planted_model``, ``planted_enformer``)."""
    import tensorflow as tf

    from seqbench.models.planted.reference import PLANTED_GEOMETRY

    signature = [tf.TensorSpec([None, PLANTED_GEOMETRY.sequence_length, 4], tf.float32, name="x")]
    suffix = name.removeprefix("planted")

    class PlantedHead(tf.Module):
        def __init__(self) -> None:
            super().__init__(name=f"planted_model{suffix}")
            self.decay_matrix = tf.Variable(np.array(decay_matrix("float64")), trainable=False, name="decay_matrix")

        @tf.function(input_signature=signature, jit_compile=jit_compile)
        def predict_on_batch(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"human": law_fn(x, self.decay_matrix, PLANTED_GEOMETRY)}

    class PlantedEnformer(tf.Module):
        def __init__(self) -> None:
            super().__init__(name=f"planted_enformer{suffix}")
            self.model = PlantedHead()

    return PlantedEnformer()


def _write_targets(path: Path) -> None:
    lines = ["index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription"]
    for index, identifier, description in law.TRACKS:
        lines.append(f"{index}\t0\t{identifier}\tplanted://{identifier}\t0\t1\tsum\t{description}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_planted_savedmodel(path: Path) -> Path:
    """Build the planted SavedModel into ``path`` (a new or empty directory) and return ``path``.

    Writes the SavedModel, ``assets/targets.txt`` and, last, ``seqbench_model.json``.
    """
    import tensorflow as tf

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    jit = xla_available(planted_law_codes_tf)
    hit_codes = hit_codes_function(near=False, jit_compile=jit)
    tf.saved_model.save(
        make_planted_module(lambda x, decay, g: planted_law_codes_tf(x, decay, g, hit_codes)), str(path))
    _write_targets(path / TARGETS_FILE)
    # whether XLA is on is a property of this build, not of the law: recorded in built_with, which
    # is_complete ignores
    write_metadata(path, planted_metadata(), xla_jit_compile=str(jit).lower())
    return path


def is_complete(path: Path) -> bool:
    """Whether ``path`` holds a complete build of the current planted model (law and format)."""
    return metadata_matches(path, planted_metadata(), ("saved_model.pb",))


def default_cache_dir() -> Path:
    """``$SEQBENCH_CACHE_DIR`` if set, else ``~/.cache/seqbench``."""
    env = os.environ.get("SEQBENCH_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "seqbench"


def _remove_old_tmp(parent: Path, name: str) -> None:
    now = time.time()
    for p in parent.glob(f".{name}.*"):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > _STALE_TMP_AGE_S:
                shutil.rmtree(p, ignore_errors=True)


def ensure_built(
    name: str,
    build: Callable[[Path], Any],
    is_complete_fn: Callable[[Path], bool],
    cache_dir: Path | None = None,
) -> Path:
    """Path of a model seqbench builds itself, ``<cache_dir>/models/<name>/``, building it if needed.

    ``build(path)`` writes the model into a new directory ``path``; ``is_complete_fn(path)`` says
    whether a directory holds a complete build of the current version (a directory that does not is
    replaced).  The build goes to a temporary sibling directory that is renamed into place, so a
    half-built model never looks complete; when several processes build at once, the first rename
    wins and the others discard their copies.  ``cache_dir`` defaults to :func:`default_cache_dir`.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = cache_dir / "models" / name
    if is_complete_fn(final):
        return final
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_old_tmp(parent, name)
    tmp = parent / f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        build(tmp)
        for _attempt in range(5):
            try:
                os.rename(tmp, final)  # atomic; fails if `final` is a non-empty directory
                return final
            except OSError:
                if is_complete_fn(final):  # another builder won
                    return final
                # `final` is stale or incomplete: move it aside, then try again
                aside = parent / f".{name}.stale-{uuid.uuid4().hex[:8]}"
                with contextlib.suppress(FileNotFoundError):
                    os.rename(final, aside)
                if aside.is_dir():
                    shutil.rmtree(aside, ignore_errors=True)
                else:
                    aside.unlink(missing_ok=True)
        raise OSError(f"could not move the model {name} into place at {final}")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_planted_model(cache_dir: Path | None = None) -> Path:
    """Path of the built planted model, ``<cache_dir>/models/planted-v1/``, building it if needed
    (see :func:`ensure_built`)."""
    return ensure_built(MODEL_NAME, build_planted_savedmodel, is_complete, cache_dir)
