"""Planted twins of Basenji2 and Xpresso: the planted law behind those models' own file formats.

Each twin is a synthetic instrument, never the model it imitates.  It has the real model's interface,
file format and geometry, is built by seqbench, and is loaded through the *same* adapter classes as
the real weights (:class:`~seqbench.models.basenji2.Basenji2Model`,
:class:`~seqbench.models.xpresso.XpressoModel`), so a test against the twin checks that path against
known answers.

* **Basenji2 twin** (``planted-basenji2-v1``): a directory with ``model_human.h5`` (a full Keras 2
  model in HDF5 format, input ``[None, 131072, 4]``, output ``[None, 896, 3]``, loaded with the
  custom objects ``StochasticShift`` and ``GELU``, as calico's cross2020 file is), ``targets_human.txt``
  (Basenji's targets layout, the three tracks of :data:`law.TRACKS`) and ``seqbench_model.json``.
  It computes :func:`~seqbench.models.planted.reference.reference_output` at
  :data:`~seqbench.models.base.BASENJI2_GEOMETRY` (896 bins of 128 bp from 8,192 bp).
* **Xpresso twin** (``planted-xpresso-v1``): ``model.h5`` (two inputs, one-hot ``[None, 10500, 4]``
  with ``N`` = 0 and six half-life features ``[None, 6]``; output ``[None, 1]``, log10 expression),
  ``targets.txt`` (one track) and ``seqbench_model.json``.  It computes
  :func:`~seqbench.models.planted.reference.scalar_output` with the anchor (the TSS) at 7,000; the
  half-life input goes through a path of zero weights, so it has no effect (seqbench, like Kipoi and
  the paper, feeds zeros).

How the networks compute the law (standard Keras layers only, no ``Lambda``):

* ``StochasticShift`` at the input (identity at inference), then motif detection by
  ``Conv1D(4 filters, kernel 11, padding "same")`` with weights ``2 x`` the motif's one-hot, bias
  ``-21`` and ReLU: a full match scores ``22 - 21 = 1``, a mismatch at most ``20 - 21 < 0`` and an
  ``N`` (0.25 or 0 on every channel) at most ``20.5 - 21 < 0``, so the output is an exact 0/1 hit at the
  motif's centre nucleotide (both orientations are separate filters).
* Basenji2: ``AveragePooling1D(128)`` then ``x 128`` (a 1x1 convolution) gives exact per-bin counts
  ``h_P``, ``h_E``; a kernel-3 convolution of ones gives ``prom``; a float64 ``Dense`` applied along the
  length axis (between two ``Permute``) multiplies by :func:`decay_matrix` for ``enh``;
  ``Cropping1D(64)`` keeps the output bins; 1x1 convolutions, ``Multiply`` and ``Concatenate`` make
  the tracks.  Everything after the pooling is float64 (on GPUs, TF32 never touches it).
* Xpresso: ``Flatten`` and a float64 ``Dense(1)`` whose weights are the scalar law's per-position
  weights (:func:`scalar_weights`) times ``XP_PROMOTER`` / ``XP_ENHANCER``, bias ``log10(P0)``.
* ``GELU`` is in the Basenji2 twin's file, so loading it needs the custom object as the real file
  does, but the law never passes through it: a ``GELU`` branch is multiplied by exact zeros (a 1x1
  convolution with zero weights and bias) and added to the output.

TensorFlow is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from seqbench.models.base import BASENJI2_GEOMETRY, XPRESSO_GEOMETRY, Geometry
from seqbench.models.planted import law
from seqbench.models.planted.build import (
    _filters,
    _write_targets,
    binned_law_constants,
    ensure_built,
    metadata_matches,
    write_metadata,
)
from seqbench.models.planted.reference import MOTIFS, decay_matrix, scalar_weights, track_formulas

#: bump when a twin's file or metadata change; older cached builds are rebuilt
FORMAT_VERSION = 1
METADATA_FILE = "seqbench_model.json"

BASENJI2_TWIN_NAME = "planted-basenji2-v1"
BASENJI2_TWIN_KIND = "planted-basenji2"
BASENJI2_TWIN_FILE = "model_human.h5"
BASENJI2_TWIN_TARGETS = "targets_human.txt"
BASENJI2_NEUTRAL_VALUE = 0.25

XPRESSO_TWIN_NAME = "planted-xpresso-v1"
XPRESSO_TWIN_KIND = "planted-xpresso"
XPRESSO_TWIN_FILE = "model.h5"
XPRESSO_TWIN_TARGETS = "targets.txt"
XPRESSO_NEUTRAL_VALUE = 0.0
#: the Xpresso twin's one track (index, identifier, description); the file outputs log10 expression
XPRESSO_TWIN_TRACK = (0, "PLANTED_EXPRESSION", "EXPRESSION:planted log10 expression (Xpresso twin)")
XPRESSO_N_HALFLIFE = 6

#: motif detection: ``relu(MOTIF_WEIGHT * matching channels + MOTIF_BIAS)`` is 1 for a full match, else 0
MOTIF_WEIGHT = 2.0
MOTIF_BIAS = -(MOTIF_WEIGHT * law.MOTIF_LENGTH - 1.0)  # -21

BASENJI2_NOTE = (
    "Synthetic instrument, not Basenji2: the planted law (promoter and enhancer motif counts, "
    "multiplicative combination, enhancer effect decaying as 1/(1 + d/D0)) behind Basenji2's interface "
    "(a Keras 2 HDF5 model needing StochasticShift and GELU; 131,072 bp in, 896 bins of 128 bp from "
    "8,192 bp), built by seqbench to check its Basenji2 path against known answers. Never present its "
    "outputs as Basenji2 predictions."
)
XPRESSO_NOTE = (
    "Synthetic instrument, not Xpresso: a planted scalar law (log10 expression = log10(P0) + "
    "XP_PROMOTER * promoter hits near the TSS + XP_ENHANCER * distance-weighted enhancer hits) behind "
    "Xpresso's interface (a Keras 2 HDF5 model with a one-hot input of 10,500 bp, N = 0, the TSS at "
    "7,000, and six half-life features that have no effect), built by seqbench to check its Xpresso "
    "path against known answers. Never present its outputs as Xpresso predictions."
)


# ------------------------------------------------------------------------------------------ metadata


def _geometry_dict(g: Geometry) -> dict[str, Any]:
    return {
        "sequence_length": g.sequence_length,
        "bin_size": g.bin_size,
        "offset": g.offset,
        "n_bins": g.n_bins,
        "anchor": g.anchor,
    }


def _motifs() -> dict[str, str]:
    return {"promoter": MOTIFS[0], "promoter_rc": MOTIFS[1], "enhancer": MOTIFS[2], "enhancer_rc": MOTIFS[3]}


def _motif_detection() -> str:
    return (
        f"relu({MOTIF_WEIGHT:g} * matching one-hot channels {MOTIF_BIAS:+g}) over {law.MOTIF_LENGTH} bp,"
        " at the motif's centre nucleotide"
    )


def basenji2_twin_metadata() -> dict[str, Any]:
    """The content of the Basenji2 twin's ``seqbench_model.json`` (without build details)."""
    g = BASENJI2_GEOMETRY
    o = g.offset // law.BIN_SIZE
    return {
        "format_version": FORMAT_VERSION,
        "name": BASENJI2_TWIN_NAME,
        "kind": BASENJI2_TWIN_KIND,
        "note": BASENJI2_NOTE,
        "interface": {
            "file": BASENJI2_TWIN_FILE,
            "targets": BASENJI2_TWIN_TARGETS,
            "load": (
                f"tf_keras.models.load_model('{BASENJI2_TWIN_FILE}', custom_objects={{'StochasticShift': ...,"
                " 'GELU': ...}, compile=False)"
            ),
            "input": f"float32 [B, {g.sequence_length}, 4] one-hot A,C,G,T; N = {BASENJI2_NEUTRAL_VALUE}",
            "output": f"float32 [B, {g.n_bins}, {len(law.TRACKS)}]",
            "neutral_value": BASENJI2_NEUTRAL_VALUE,
        },
        "geometry": _geometry_dict(g),
        "law": {
            **binned_law_constants(),
            "motif_detection": _motif_detection(),
            "formulas": {
                "prom": f"h_P[J-1] + h_P[J] + h_P[J+1], J = j + {o}",
                "enh": f"sum_i h_E[i] * g(|i - J| * {law.BIN_SIZE}), g(d) = 1 / (1 + d / D0)",
                "CAGE_c": "A * (prom + P0) * (1 + B_c * enh)",
                "DNASE": "C0 + C1 * (h_P[J] + h_E[J])",
            },
        },
        "motifs": _motifs(),
        "tracks": [{"index": i, "identifier": ident, "description": desc} for i, ident, desc in law.TRACKS],
    }


def xpresso_twin_metadata() -> dict[str, Any]:
    """The content of the Xpresso twin's ``seqbench_model.json`` (without build details)."""
    g = XPRESSO_GEOMETRY
    index, identifier, description = XPRESSO_TWIN_TRACK
    return {
        "format_version": FORMAT_VERSION,
        "name": XPRESSO_TWIN_NAME,
        "kind": XPRESSO_TWIN_KIND,
        "note": XPRESSO_NOTE,
        "interface": {
            "file": XPRESSO_TWIN_FILE,
            "targets": XPRESSO_TWIN_TARGETS,
            "load": f"tf_keras.models.load_model('{XPRESSO_TWIN_FILE}', compile=False)",
            "input": (
                f"[float32 [B, {g.sequence_length}, 4] one-hot A,C,G,T, N = {XPRESSO_NEUTRAL_VALUE};"
                f" float32 [B, {XPRESSO_N_HALFLIFE}] half-life features (no effect; seqbench feeds zeros)]"
            ),
            "output": "float32 [B, 1]: log10 expression",
            "neutral_value": XPRESSO_NEUTRAL_VALUE,
        },
        "geometry": _geometry_dict(g),
        "law": {
            "P0": law.P0,
            "XP_PROMOTER": law.XP_PROMOTER,
            "XP_ENHANCER": law.XP_ENHANCER,
            "D0": law.D0,
            "motif_length": law.MOTIF_LENGTH,
            "motif_detection": _motif_detection(),
            "formulas": {
                "bin": f"k = floor((q - {g.anchor}) / {law.BIN_SIZE}) for a hit centred at input position q",
                "prom": "promoter hits with |k| <= 1",
                "enh": f"sum over enhancer hits of g(|k| * {law.BIN_SIZE}), g(d) = 1 / (1 + d / D0)",
                "y": "log10(P0) + XP_PROMOTER * prom + XP_ENHANCER * enh (log10 expression)",
            },
        },
        "motifs": _motifs(),
        "tracks": [{"index": index, "identifier": identifier, "description": description}],
    }


def _write_metadata(path: Path, meta: dict[str, Any]) -> None:
    import tf_keras

    write_metadata(path, meta, tf_keras=tf_keras.__version__)


def is_basenji2_twin_complete(path: Path) -> bool:
    """Whether ``path`` holds a complete build of the current Basenji2 twin (law and format)."""
    return metadata_matches(path, basenji2_twin_metadata(), (BASENJI2_TWIN_FILE, BASENJI2_TWIN_TARGETS))


def is_xpresso_twin_complete(path: Path) -> bool:
    """Whether ``path`` holds a complete build of the current Xpresso twin (law and format)."""
    return metadata_matches(path, xpresso_twin_metadata(), (XPRESSO_TWIN_FILE, XPRESSO_TWIN_TARGETS))


# ------------------------------------------------------------------------------------------ networks


def _motif_layer(tf_keras: Any) -> Any:
    return tf_keras.layers.Conv1D(len(MOTIFS), law.MOTIF_LENGTH, padding="same", activation="relu", name="motif_hits")


def _set_motif_weights(layer: Any) -> None:
    layer.set_weights([MOTIF_WEIGHT * _filters(), np.full(len(MOTIFS), MOTIF_BIAS, np.float32)])


def _basenji2_network() -> Any:
    """The Keras 2 model of the Basenji2 twin (see the module docstring), weights set."""
    import tf_keras

    from seqbench.models.basenji2 import custom_objects

    layers = tf_keras.layers
    objects = custom_objects()
    g = BASENJI2_GEOMETRY
    n_in, o, n = g.sequence_length // law.BIN_SIZE, g.offset // law.BIN_SIZE, g.n_bins
    formulas = track_formulas()
    cage = [t for t, (kind, _gain) in enumerate(formulas) if kind == "cage"]
    dnase = [t for t, (kind, _gain) in enumerate(formulas) if kind == "dnase"]
    f64 = "float64"

    def conv(filters: int, kernel: int, name: str, *, bias: bool, padding: str = "valid") -> Any:
        return layers.Conv1D(filters, kernel, padding=padding, use_bias=bias, dtype=f64, name=name)

    x = layers.Input(shape=(g.sequence_length, 4), name="sequence")
    shifted = objects["StochasticShift"](shift_max=3, symmetric=True, pad="uniform", name="stochastic_shift")(x)
    motif = _motif_layer(tf_keras)
    hits = motif(shifted)  # [B, L, 4]: exact 0/1 at motif centres
    mean = layers.AveragePooling1D(law.BIN_SIZE, name="bin_mean")(hits)  # [B, n_in, 4] = count / 128
    count_p = conv(1, 1, "promoter_hits", bias=False)
    count_e = conv(1, 1, "enhancer_hits", bias=False)
    h_p, h_e = count_p(mean), count_e(mean)  # [B, n_in, 1] exact counts, float64
    prom_window = conv(1, 3, "promoter_window", bias=False, padding="same")
    crop = (o, n_in - o - n)
    prom = layers.Cropping1D(crop, name="crop_promoter", dtype=f64)(prom_window(h_p))  # [B, n, 1]
    dnase_affine = conv(1, 1, "dnase_affine", bias=True)
    dnase_t = layers.Cropping1D(crop, name="crop_dnase", dtype=f64)(
        dnase_affine(layers.Concatenate(name="hits", dtype=f64)([h_p, h_e]))
    )
    along = layers.Permute((2, 1), name="enhancer_hits_by_bin", dtype=f64)(h_e)  # [B, 1, n_in]
    decay = layers.Dense(n, use_bias=False, dtype=f64, name="enhancer_decay")
    enh = layers.Permute((2, 1), name="enhancer_activity", dtype=f64)(decay(along))  # [B, n, 1]
    prom_affine = conv(len(cage), 1, "promoter_affine", bias=True)  # A * prom + A * P0
    gain_affine = conv(len(cage), 1, "enhancer_gain", bias=True)  # 1 + B_c * enh
    cage_t = layers.Multiply(name="cage", dtype=f64)([prom_affine(prom), gain_affine(enh)])
    stacked = layers.Concatenate(name="cage_dnase", dtype=f64)([cage_t, dnase_t])  # [B, n, len(cage) + 1]
    order = conv(len(formulas), 1, "track_order", bias=False)  # a permutation into law.TRACKS order
    tracks = order(stacked)
    # GELU must be in the file (loading needs it, as the real file does); the law never passes through it
    gelu = objects["GELU"](name="gelu", dtype=f64)(dnase_t)
    zero = conv(len(formulas), 1, "gelu_times_zero", bias=True)
    out = layers.Add(name="law_plus_zero", dtype=f64)([tracks, zero(gelu)])
    out = layers.Activation("linear", dtype="float32", name="tracks")(out)
    model = tf_keras.Model(x, out, name="planted_basenji2")

    _set_motif_weights(motif)
    w_p = np.zeros((1, len(MOTIFS), 1))
    w_p[0, [0, 1], 0] = law.BIN_SIZE
    w_e = np.zeros((1, len(MOTIFS), 1))
    w_e[0, [2, 3], 0] = law.BIN_SIZE
    count_p.set_weights([w_p])
    count_e.set_weights([w_e])
    prom_window.set_weights([np.ones((3, 1, 1))])
    dnase_affine.set_weights([np.full((1, 2, 1), law.C1), np.array([law.C0])])
    decay.set_weights([np.array(decay_matrix("float64", g))])
    prom_affine.set_weights([np.full((1, 1, len(cage)), law.A), np.full(len(cage), law.A * law.P0)])
    gains = np.array([formulas[t][1] for t in cage])
    gain_affine.set_weights([gains.reshape(1, 1, -1), np.ones(len(cage))])
    perm = np.zeros((1, len(cage) + len(dnase), len(formulas)))
    for col, t in enumerate(cage + dnase):
        perm[0, col, t] = 1.0
    order.set_weights([perm])
    zero.set_weights([np.zeros((1, 1, len(formulas))), np.zeros(len(formulas))])
    return model


def _xpresso_network() -> Any:
    """The Keras 2 model of the Xpresso twin (see the module docstring), weights set."""
    import tf_keras

    layers = tf_keras.layers
    g = XPRESSO_GEOMETRY
    f64 = "float64"
    seq = layers.Input(shape=(g.sequence_length, 4), name="promoter")
    halflife = layers.Input(shape=(XPRESSO_N_HALFLIFE,), name="halflife")
    motif = _motif_layer(tf_keras)
    flat = layers.Flatten(name="hits_by_position")(motif(seq))  # [B, L * 4], index q * 4 + motif
    weigh = layers.Dense(1, dtype=f64, name="scalar_law")
    ignore = layers.Dense(1, use_bias=False, dtype=f64, name="halflife_times_zero")
    y = layers.Add(name="log10_expression", dtype=f64)([weigh(flat), ignore(halflife)])
    y = layers.Activation("linear", dtype="float32", name="expression")(y)
    model = tf_keras.Model([seq, halflife], y, name="planted_xpresso")

    _set_motif_weights(motif)
    w_p, w_e = scalar_weights(g.sequence_length, g.landmark_position)
    w = np.zeros((g.sequence_length, len(MOTIFS)))
    w[:, 0] = w[:, 1] = law.XP_PROMOTER * w_p
    w[:, 2] = w[:, 3] = law.XP_ENHANCER * w_e
    weigh.set_weights([w.reshape(-1, 1), np.array([math.log10(law.P0)])])
    ignore.set_weights([np.zeros((XPRESSO_N_HALFLIFE, 1))])
    return model


# ------------------------------------------------------------------------------------------- builds


def _save_h5(model: Any, file: Path) -> None:
    with warnings.catch_warnings():  # "HDF5 is legacy": it is the real models' format, on purpose
        warnings.simplefilter("ignore", UserWarning)
        model.save(str(file), save_format="h5")


def build_basenji2_twin(path: Path) -> Path:
    """Build the Basenji2 twin into ``path`` (a new or empty directory) and return ``path``.

    Writes ``model_human.h5``, ``targets_human.txt`` and, last, ``seqbench_model.json``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model = _basenji2_network()
    _save_h5(model, path / BASENJI2_TWIN_FILE)
    _write_targets(path / BASENJI2_TWIN_TARGETS)
    _write_metadata(path, basenji2_twin_metadata())
    return path


def _write_xpresso_targets(path: Path) -> None:
    index, identifier, description = XPRESSO_TWIN_TRACK
    lines = [
        "index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription",
        f"{index}\t0\t{identifier}\tplanted://{identifier}\t0\t1\tsum\t{description}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_xpresso_twin(path: Path) -> Path:
    """Build the Xpresso twin into ``path`` (a new or empty directory) and return ``path``.

    Writes ``model.h5``, ``targets.txt`` and, last, ``seqbench_model.json``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model = _xpresso_network()
    _save_h5(model, path / XPRESSO_TWIN_FILE)
    _write_xpresso_targets(path / XPRESSO_TWIN_TARGETS)
    _write_metadata(path, xpresso_twin_metadata())
    return path


def ensure_basenji2_twin(cache_dir: Path | None = None) -> Path:
    """Path of the built Basenji2 twin, ``<cache_dir>/models/planted-basenji2-v1/``, building it if needed
    (see :func:`~seqbench.models.planted.build.ensure_built`)."""
    return ensure_built(BASENJI2_TWIN_NAME, build_basenji2_twin, is_basenji2_twin_complete, cache_dir)


def ensure_xpresso_twin(cache_dir: Path | None = None) -> Path:
    """Path of the built Xpresso twin, ``<cache_dir>/models/planted-xpresso-v1/``, building it if needed
    (see :func:`~seqbench.models.planted.build.ensure_built`)."""
    return ensure_built(XPRESSO_TWIN_NAME, build_xpresso_twin, is_xpresso_twin_complete, cache_dir)
