"""Xpresso (Agarwal & Shendure 2020), Kipoi's ``Xpresso/human_median``: a Keras 2 full-model HDF5 file.

The file (Zenodo 4075690, e.g. ``humanMedian_trainepoch.11-0.426.h5``; Kipoi loads it with plain
Keras ``load_model``, no custom objects) has two inputs: the one-hot promoter ``[None, 10500, 4]``
(7,000 bp upstream and 3,500 bp downstream of the TSS, the TSS at input position 7,000 on the gene's
strand) and six mRNA half-life features ``[None, 6]``; one output ``[None, 1]``.  As Kipoi's
dataloader does, ``N`` is encoded as all zeros (``neutral_value`` 0.0) and, as Kipoi and the paper's
authors did, the half-life features are zeros.

**Scale.** Xpresso was trained on log10 expression, so its output ``y`` is log10 expression.
``predict`` returns ``10**y``, expression in natural scale: seqbench's experiments average
ensemble members in natural scale and take logs after, as they do for Enformer's and Basenji2's
CAGE.  (``log10`` of an ensemble mean of ``10**y`` is therefore not the mean of ``y``.)

The model is scalar (:data:`~seqbench.models.base.XPRESSO_GEOMETRY`: one value per input, anchor
7,000), so its only bin is 0 and its only track is 0; ``predict`` refuses anything else.

On the device: uint8 codes ``[B, L]`` are one-hot encoded by a table lookup, the zero half-life
features are added, the model runs and ``10**y`` is taken; every call has the same batch shape (the
last batch is padded with ``N``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqbench.models.base import XPRESSO_GEOMETRY, TrackTable, one_hot_table, predict_in_fixed_batches
from seqbench.models.keras_h5 import load_keras_h5
from seqbench.models.tfhub import ModelLoadError, configure_tensorflow

#: Kipoi's Xpresso dataloader: N is all zeros
XPRESSO_NEUTRAL_VALUE = 0.0
#: the second input: mRNA half-life features (seqbench, like Kipoi and the paper, feeds zeros)
N_HALFLIFE = 6


def _shape(shape: Any) -> tuple[Any, ...]:
    return tuple(None if d is None else int(d) for d in shape)


def _input_order(path: str, input_shapes: Any, output_shape: Any) -> tuple[int, int]:
    """Positions of the one-hot and the half-life inputs among the model's inputs; else :class:`ModelLoadError`."""
    L = XPRESSO_GEOMETRY.sequence_length
    seq_shape, hl_shape = (None, L, 4), (None, N_HALFLIFE)
    expected = f"expected two inputs {list(seq_shape)} and {list(hl_shape)} and one output [None, 1]"
    where = f"xpresso model file {path}"
    shapes = [_shape(s) for s in input_shapes] if isinstance(input_shapes, list) else [_shape(input_shapes)]
    if isinstance(output_shape, list):
        raise ModelLoadError(
            f"{where}: {len(output_shape)} outputs {[list(_shape(s)) for s in output_shape]}; {expected}"
        )
    out = _shape(output_shape)
    found = ", ".join(str(list(s)) for s in shapes)
    if len(shapes) != 2 or sorted(shapes, key=len) != [hl_shape, seq_shape]:
        raise ModelLoadError(f"{where}: {len(shapes)} input(s) {found}; {expected}")
    if out not in ((None, 1), (None,)):
        raise ModelLoadError(f"{where}: output {list(out)}; {expected}")
    seq = shapes.index(seq_shape)
    return seq, 1 - seq


def xpresso_tracks(
    description: str = "EXPRESSION:median across tissues (Xpresso human_median; 10**output, natural scale)",
) -> TrackTable:
    """A one-row track table for Xpresso's one output (the real file comes without a targets file)."""
    import pandas as pd

    return TrackTable(
        pd.DataFrame({"index": [0], "identifier": ["xpresso_human_median"], "description": [description]})
    )


class XpressoModel:
    """Xpresso from a Keras 2 ``.h5`` file (see the module docstring): ``predict`` returns ``10**y``.

    Parameters
    ----------
    path: the full-model HDF5 file (Kipoi's ``humanMedian_trainepoch.11-0.426.h5``).
    name: name printed in every report.
    tracks: a one-row track table (:func:`xpresso_tracks`, or a twin's ``targets.txt``).
    batch_size: inputs per device call (the last batch is padded with N so shapes never change).
    intra_op_threads: CPU thread pool size (``None``: TensorFlow's default).
    """

    def __init__(
        self,
        path: str,
        *,
        name: str,
        tracks: TrackTable,
        batch_size: int = 128,
        intra_op_threads: int | None = None,
    ):
        import tensorflow as tf

        configure_tensorflow(intra_op_threads)
        self.path = str(path)
        self.name, self.tracks = name, tracks
        self.geometry = XPRESSO_GEOMETRY
        self.neutral_value = XPRESSO_NEUTRAL_VALUE
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size = {batch_size}: expected at least 1")
        if len(tracks) != 1:
            raise ModelLoadError(
                f"xpresso model file {self.path}: the track table has {len(tracks)} tracks; expected one (Xpresso"
                " has one output)"
            )
        self._model = load_keras_h5(self.path, {}, what="xpresso")
        seq_at, hl_at = _input_order(self.path, self._model.input_shape, self._model.output_shape)
        model = self._model
        table = tf.constant(one_hot_table(self.neutral_value))
        L = self.geometry.sequence_length

        @tf.function(input_signature=[tf.TensorSpec([None, L], tf.uint8)], reduce_retracing=True)
        def _run(codes: Any) -> Any:
            x = tf.gather(table, tf.cast(codes, tf.int32))  # [B, L, 4]
            inputs: list[Any] = [None, None]
            inputs[seq_at] = x
            inputs[hl_at] = tf.zeros([tf.shape(codes)[0], N_HALFLIFE], x.dtype)
            y = tf.reshape(tf.cast(model(inputs, training=False), tf.float32), [-1])  # [B] log10 expression
            return tf.pow(tf.constant(10.0, tf.float32), y)

        self._run = _run
        self._warm_up()

    def _warm_up(self) -> None:
        """One real call at the production batch size (traces the function; a broken file fails here)."""
        bs, L = self.batch_size, self.geometry.sequence_length
        try:
            out = self._run(np.full((bs, L), 4, np.uint8))
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(
                f"model {self.name}: a call with inputs [{bs}, {L}, 4], [{bs}, 6] failed ({msg})"
            ) from exc
        if tuple(out.shape) != (bs,):
            raise ModelLoadError(
                f"model {self.name}: the warm-up call returned {tuple(out.shape)} values; expected ({bs},)"
            )

    def predict(self, codes: np.ndarray, bins: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        """``10**y`` as float32 ``[B, K, T]`` for inputs ``codes`` ``[B, L]``; every bin and track must be 0."""
        codes = np.asarray(codes, dtype=np.uint8)
        bins = np.asarray(bins, dtype=np.int32)
        tracks = np.asarray(tracks, dtype=np.int32)
        L = self.geometry.sequence_length
        if codes.ndim != 2 or codes.shape[1] != L:
            raise ValueError(f"model {self.name}: codes of shape {codes.shape}; expected [B, {L}]")
        if bins.ndim != 2 or bins.shape[0] != codes.shape[0]:
            raise ValueError(f"model {self.name}: bins of shape {bins.shape}; expected [{codes.shape[0]}, K]")
        if bins.size and np.any(bins != 0):
            bad = int(bins[bins != 0][0])
            raise ValueError(f"model {self.name}: bin {bad} requested; Xpresso is scalar, its only bin is 0")
        if tracks.size and np.any(tracks != 0):
            bad = int(tracks[tracks != 0][0])
            raise ValueError(f"model {self.name}: track {bad} requested; Xpresso has one track, index 0")
        k, t = bins.shape[1], tracks.size
        return predict_in_fixed_batches(
            lambda c, _b: np.broadcast_to(self._run(c).numpy()[:, None, None], (c.shape[0], k, t)),
            codes, bins, t, self.batch_size,
        )
