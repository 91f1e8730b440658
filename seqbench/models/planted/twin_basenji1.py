"""Basenji1's planted twin: the planted law behind Kipoi's Basenji1 files (a TF1 checkpoint).

A synthetic instrument, never Basenji1: it has Basenji1's interface (Kipoi layout, TF1 meta graph with
input node ``inputs`` float32 ``[2, 131072, 4]`` and output node ``preds`` ``[2, 960, 3]``, a
``const_feed_dict.pkl``, a header-less ``basenji1_targets.txt``) and geometry
(:data:`~seqbench.models.base.BASENJI1_GEOMETRY`), and computes the planted law of
:mod:`seqbench.models.planted.law` at that geometry, so that :class:`~seqbench.models.basenji1.Basenji1Model`
can be checked against :func:`~seqbench.models.planted.reference.reference_output` with known answers.

Layout written into ``path/`` (Kipoi's ``Basenji`` directory)::

    basenji1_targets.txt             the 3 planted tracks: identifier, file, description (no header)
    model_files/model.tf.meta        TF1 meta graph (tf.compat.v1, its own tf.Graph)
    model_files/model.tf.index       checkpoint: motif filters and the float64 decay matrix
    model_files/model.tf.data-00000-of-00001
    model_files/const_feed_dict.pkl  {"Placeholder": targets_na, "Placeholder_1".."_13": dropout 0,
                                      "Placeholder_14": is_training False, "Placeholder_15": preds_adhoc}
    seqbench_model.json              written last: marks a complete build

The placeholders named as in the real graph must be fed as the const feed dict says: ``preds`` is the
law times ``1 - Placeholder_1`` (a dropout rate, 0) and, when ``Placeholder_14`` (is_training) is
True, its negative; ``Placeholder``, ``_2``..``_13`` and ``_15`` are declared and unused, like
``targets_na`` and ``preds_adhoc`` for Basenji1's ``preds``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from seqbench.models.base import BASENJI1_GEOMETRY
from seqbench.models.planted import law
from seqbench.models.planted.build import (
    _filters,
    binned_law_constants,
    ensure_built,
    metadata_matches,
    planted_law_tf,
    write_metadata,
)
from seqbench.models.planted.reference import MOTIFS, NEUTRAL_VALUE, decay_matrix

MODEL_NAME = "planted-basenji1-v1"
MODEL_KIND = "planted-basenji1"
#: bump when the files or the metadata change; older cached builds are rebuilt
FORMAT_VERSION = 1
METADATA_FILE = "seqbench_model.json"
MODEL_FILES = "model_files"
BATCH = 2
#: placeholders of the real graph that Kipoi's const feed dict feeds (names as in Basenji1's meta graph)
TARGETS_NA, IS_TRAINING, PREDS_ADHOC = "Placeholder", "Placeholder_14", "Placeholder_15"
DROPOUT = tuple(f"Placeholder_{i}" for i in range(1, 14))
#: target bins of Basenji1's training targets (targets_na is [2, 1024])
TARGET_BINS = 1024

NOTE = (
    "Synthetic instrument, not Basenji1: a planted law (promoter and enhancer motif counts, "
    "multiplicative combination, enhancer effect decaying as 1/(1 + d/D0)) behind Basenji1's Kipoi "
    "interface (TF1 checkpoint, batch of exactly 2) and geometry, built by seqbench to check its "
    "pipeline against known answers. Never present its outputs as Basenji1 predictions."
)


def twin_metadata() -> dict[str, Any]:
    """The content of ``seqbench_model.json`` for the current law (without build details)."""
    g = BASENJI1_GEOMETRY
    return {
        "format_version": FORMAT_VERSION,
        "name": MODEL_NAME,
        "kind": MODEL_KIND,
        "note": NOTE,
        "interface": {
            "load": "seqbench.models.basenji1.Basenji1Model(path, name=...)",
            "input": f"float32 [{BATCH}, {g.sequence_length}, 4] one-hot A,C,G,T on node 'inputs'; N = {NEUTRAL_VALUE}",
            "output": f"float32 [{BATCH}, {g.n_bins}, {len(law.TRACKS)}] on node 'preds'",
            "batch_size": BATCH,
            "neutral_value": NEUTRAL_VALUE,
        },
        "geometry": {
            "sequence_length": g.sequence_length,
            "bin_size": g.bin_size,
            "offset": g.offset,
            "n_bins": g.n_bins,
            "n_input_bins": g.sequence_length // g.bin_size,
        },
        "law": binned_law_constants(),
        "motifs": {"promoter": MOTIFS[0], "promoter_rc": MOTIFS[1], "enhancer": MOTIFS[2], "enhancer_rc": MOTIFS[3]},
        "tracks": [{"index": i, "identifier": ident, "description": desc} for i, ident, desc in law.TRACKS],
    }


def const_feed_dict() -> dict[str, Any]:
    """The twin's constant feeds, in the layout of Kipoi's Basenji1 ``const_feed_dict.pkl``."""
    feeds: dict[str, Any] = {name: 0 for name in DROPOUT}
    feeds[TARGETS_NA] = np.zeros((BATCH, TARGET_BINS), dtype=bool)
    feeds[IS_TRAINING] = False
    feeds[PREDS_ADHOC] = np.zeros((BATCH, BASENJI1_GEOMETRY.n_bins, len(law.TRACKS)))  # float64, as Kipoi's
    return feeds


def _write_targets(path: Path) -> None:
    lines = [f"{ident}\tplanted://{ident}\t{desc}" for _i, ident, desc in sorted(law.TRACKS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_basenji1_twin(path: Path) -> Path:
    """Write the twin's files into ``path`` (a new or empty directory) and return ``path``."""
    import tensorflow as tf

    g = BASENJI1_GEOMETRY
    path = Path(path)
    files = path / MODEL_FILES
    files.mkdir(parents=True, exist_ok=True)
    decay = np.array(decay_matrix("float64", g))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.placeholder(tf.bool, [BATCH, TARGET_BINS], name=TARGETS_NA)
        dropout = [tf.compat.v1.placeholder(tf.float32, [], name=n) for n in DROPOUT]
        is_training = tf.compat.v1.placeholder(tf.bool, [], name=IS_TRAINING)
        tf.compat.v1.placeholder(tf.float32, [BATCH, g.n_bins, len(law.TRACKS)], name=PREDS_ADHOC)
        inputs = tf.compat.v1.placeholder(tf.float32, [BATCH, g.sequence_length, 4], name="inputs")
        # TF1 variables (VariableV2), like a 2018 checkpoint; initialised from placeholders so the
        # meta graph does not carry the 8-MB decay matrix as a constant
        init_f = tf.compat.v1.placeholder(tf.float32, _filters().shape, name="init/motif_filters")
        init_d = tf.compat.v1.placeholder(tf.float64, decay.shape, name="init/decay_matrix")
        filters = tf.compat.v1.Variable(init_f, trainable=False, name="motif_filters", use_resource=False)
        decay_var = tf.compat.v1.Variable(init_d, trainable=False, name="decay_matrix", use_resource=False)
        y = planted_law_tf(inputs, filters, decay_var, g) * (1.0 - dropout[0])
        y = tf.compat.v1.cond(is_training, lambda: -y, lambda: y)
        tf.identity(y, name="preds")
        saver = tf.compat.v1.train.Saver([filters, decay_var])
        with tf.compat.v1.Session(graph=graph) as session:
            session.run([filters.initializer, decay_var.initializer], feed_dict={init_f: _filters(), init_d: decay})
            saver.save(session, str(files / "model.tf"), write_state=False)
    # pickle.dump mimics the real file (Kipoi wrote it with protocol 2); seqbench itself reads it only
    # through the restricted unpickler of seqbench.models.basenji1.read_const_feed_dict
    with open(files / "const_feed_dict.pkl", "wb") as f:
        pickle.dump(const_feed_dict(), f, protocol=2)
    _write_targets(path / "basenji1_targets.txt")
    write_metadata(path, twin_metadata())
    return path


def is_complete(path: Path) -> bool:
    """Whether ``path`` holds a complete build of the current twin (files, law and format)."""
    from seqbench.models.basenji1 import ModelLoadError, find_checkpoint

    path = Path(path)
    try:
        find_checkpoint(path)
    except (OSError, ValueError, ModelLoadError):
        return False
    files = (f"{MODEL_FILES}/const_feed_dict.pkl", "basenji1_targets.txt")
    return metadata_matches(path, twin_metadata(), files)


def ensure_basenji1_twin(cache_dir: Path | None = None) -> Path:
    """Path of the built twin, ``<cache_dir>/models/planted-basenji1-v1/``, building it if needed
    (see :func:`~seqbench.models.planted.build.ensure_built`)."""
    return ensure_built(MODEL_NAME, build_basenji1_twin, is_complete, cache_dir)
