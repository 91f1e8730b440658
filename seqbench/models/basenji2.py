"""Basenji2 (Kelley 2020, calico's cross2020 ``model_human.h5``): a Keras 2 full-model HDF5 file.

The file needs two layer classes of calico/basenji, supplied here for loading: ``StochasticShift``
(a training-time augmentation; identity at inference, and seqbench never trains) and ``GELU``
(``x * sigmoid(1.702 x)``).  Their configs are read as basenji writes them (``shift_max``,
``symmetric``, ``pad`` plus Keras' own keys).

Geometry is read from the file, not assumed: ``L`` from the input shape ``[None, L, 4]``,
``n_bins`` from the output shape ``[None, n_bins, n_tracks]``, 128-bp bins, and a symmetric crop:
``offset = (L - n_bins * 128) // 2``.  For the cross2020 file (input ``[None, 131072, 4]``, output
``[None, 896, 5313]`` after ``Cropping1D(64)``) that is 896 bins from 8,192 bp
(:data:`~seqbench.models.base.BASENJI2_GEOMETRY`); the paper's code assumed 1,024 bins from 0
(experiments-spec §13 B1).  A declared geometry must agree with the file's shapes (``sequence_length``
and ``n_bins``); its ``offset`` is the declaration's own (``Geometry(131072, 128, 0, 896)`` reads the
bins the paper's code read).

On the device: uint8 codes ``[B, L]`` are one-hot encoded by a table lookup (``N`` -> the neutral
value on all four channels; Basenji's pipeline, like Enformer's, 0.25), the model runs, and only
the requested tracks and bins are gathered before anything is copied back.  Every call has the
same batch shape: the last batch is padded with ``N``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqbench.models.base import Geometry, TrackTable
from seqbench.models.device import DeviceBacked, DeviceReadout, apply_precision, auto_batch_size
from seqbench.models.keras_h5 import load_keras_h5
from seqbench.models.tfhub import ModelLoadError, configure_tensorflow

#: basenji's bin width (the product of the trunk's pooling strides)
BIN_SIZE = 128
#: the keys of a saved layer config that go on to Keras' ``Layer``; basenji's own classes pass none on,
#: so any other key a file holds (from whichever basenji version wrote it) is ignored, as basenji ignores it
_LAYER_KEYS = ("name", "trainable", "dtype")


def _base_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: kwargs[k] for k in _LAYER_KEYS if k in kwargs}


def _make_layers() -> tuple[type, type]:
    import tensorflow as tf
    import tf_keras

    class StochasticShift(tf_keras.layers.Layer):
        """calico/basenji's ``StochasticShift``: shifts the input by up to ``shift_max`` bp while training.

        seqbench never trains, so the layer is the identity (as basenji's is at inference).
        """

        def __init__(self, shift_max: int = 0, symmetric: bool = True, pad: str = "uniform", **kwargs: Any):
            super().__init__(**_base_kwargs(kwargs))
            self.shift_max = int(shift_max)
            self.symmetric = bool(symmetric)
            self.pad = pad

        def call(self, inputs: Any, training: Any = None) -> Any:
            return inputs

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

        def get_config(self) -> dict[str, Any]:
            config = super().get_config()
            config.update({"shift_max": self.shift_max, "symmetric": self.symmetric, "pad": self.pad})
            return config

    class GELU(tf_keras.layers.Layer):
        """calico/basenji's ``GELU``: ``x * sigmoid(1.702 x)`` (the sigmoid approximation of GELU)."""

        def __init__(self, **kwargs: Any):
            super().__init__(**_base_kwargs(kwargs))

        def call(self, x: Any) -> Any:
            return x * tf.math.sigmoid(1.702 * x)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

    for cls in (StochasticShift, GELU):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    return StochasticShift, GELU


_LAYERS: tuple[type, type] | None = None


def custom_objects() -> dict[str, type]:
    """``{"StochasticShift": ..., "GELU": ...}``: the layer classes the cross2020 file needs.

    The classes are made on first use (importing this module does not import TensorFlow).
    """
    global _LAYERS
    if _LAYERS is None:
        _LAYERS = _make_layers()
    shift, gelu = _LAYERS
    return {"StochasticShift": shift, "GELU": gelu}


def __getattr__(name: str) -> Any:  # StochasticShift, GELU, CUSTOM_OBJECTS, made on first access
    if name in ("StochasticShift", "GELU"):
        return custom_objects()[name]
    if name == "CUSTOM_OBJECTS":
        return custom_objects()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _shape(shape: Any) -> tuple[Any, ...]:
    return tuple(None if d is None else int(d) for d in shape)


def geometry_from_shapes(path: str, input_shape: Any, output_shape: Any, declared: Geometry | None) -> Geometry:
    """The geometry of a Basenji-style file from its input ``[None, L, 4]`` and output ``[None, n_bins, T]``
    shapes (128-bp bins, symmetric crop), or ``declared`` if it agrees with them; else :class:`ModelLoadError`."""
    where = f"basenji2 model file {path}"
    if isinstance(input_shape, list) or isinstance(output_shape, list):
        raise ModelLoadError(
            f"{where}: {len(input_shape) if isinstance(input_shape, list) else 1} input(s) and"
            f" {len(output_shape) if isinstance(output_shape, list) else 1} output(s); expected one input"
            " [None, L, 4] and one output [None, n_bins, n_tracks]"
        )
    ins, outs = _shape(input_shape), _shape(output_shape)
    if len(ins) != 3 or ins[2] != 4 or ins[1] is None:
        raise ModelLoadError(f"{where}: input shape {list(ins)}; expected [None, L, 4] with a fixed length L")
    if len(outs) != 3 or outs[1] is None or outs[2] is None:
        raise ModelLoadError(f"{where}: output shape {list(outs)}; expected [None, n_bins, n_tracks]")
    length, n_bins = ins[1], outs[1]
    if declared is not None:
        if declared.sequence_length != length or declared.n_bins != n_bins:
            raise ModelLoadError(
                f"{where}: the declared geometry ({declared.sequence_length:,} bp in, {declared.n_bins} bins out)"
                f" contradicts the file (input {list(ins)}, output {list(outs)}); expected sequence_length ="
                f" {length} and n_bins = {n_bins}"
            )
        try:
            declared.validate()
        except ValueError as exc:
            raise ModelLoadError(f"{where}: declared geometry: {exc}") from exc
        return declared
    offset = (length - n_bins * BIN_SIZE) // 2
    if offset < 0:
        raise ModelLoadError(
            f"{where}: output {list(outs)} has more {BIN_SIZE}-bp bins than the input {list(ins)} holds;"
            " expected n_bins x 128 <= L"
        )
    return Geometry(sequence_length=length, bin_size=BIN_SIZE, offset=offset, n_bins=n_bins)


class Basenji2Model(DeviceBacked):
    """Basenji2 from a Keras 2 ``.h5`` file (see the module docstring).

    Parameters
    ----------
    path: the full-model HDF5 file (cross2020: ``model_human.h5``).
    name: name printed in every report.
    tracks: the track table (cross2020: ``targets_human.txt``, 5,313 rows); must match the output.
    geometry: optional declaration; must agree with the file's shapes (default: read from them).
    batch_size: inputs per device call (the last batch is padded with N so shapes never change).
    neutral_value: one-hot value of N on each channel.
    intra_op_threads: CPU thread pool size (``None``: TensorFlow's default).
    """

    def __init__(
        self,
        path: str,
        *,
        name: str,
        tracks: TrackTable,
        geometry: Geometry | None = None,
        batch_size: int | str = 16,
        neutral_value: float = 0.25,
        intra_op_threads: int | None = None,
        precision: str = "fp32",
        xla: bool | None = None,
        members_on_device: bool | None = None,
        default_batch_size: int = 16,
    ):

        configure_tensorflow(intra_op_threads)
        apply_precision(precision)
        self.path = str(path)
        self.name, self.tracks, self.precision = name, tracks, precision
        self.neutral_value = float(neutral_value)
        if batch_size != "auto" and int(batch_size) < 1:
            raise ValueError(f"batch_size = {batch_size}: expected at least 1")
        self._model = load_keras_h5(self.path, custom_objects(), what="basenji2")
        self.geometry = geometry_from_shapes(self.path, self._model.input_shape, self._model.output_shape, geometry)
        n_tracks = int(self._model.output_shape[2])
        if n_tracks != len(tracks):
            raise ModelLoadError(
                f"basenji2 model file {self.path}: outputs {n_tracks} tracks but the track table has {len(tracks)};"
                " expected the targets file that belongs to this model (cross2020: targets_human.txt, 5,313 rows)"
            )
        model = self._model
        g = self.geometry
        if batch_size == "auto":
            batch_size = auto_batch_size(
                lambda bs: model(np.zeros((bs, g.sequence_length, 4), np.float32), training=False), default_batch_size
            )
        self._device = DeviceReadout(lambda x: model(x, training=False), neutral_value=self.neutral_value,
                                     sequence_length=g.sequence_length, batch_size=int(batch_size), xla=xla,
                                     members_on_device=members_on_device)
        self._warm_up()

    def _warm_up(self) -> None:
        """One real call at the production batch size (traces the function; a broken file fails here)."""
        bs, g = self.batch_size, self.geometry
        try:
            out = self._device.warm_up(g.n_bins, len(self.tracks))
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(
                f"model {self.name}: a call with input [{bs}, {g.sequence_length}, 4] failed ({msg})"
            ) from exc
        if tuple(out.shape) != (bs, 2, 2):
            raise ModelLoadError(
                f"model {self.name}: the warm-up call returned {tuple(out.shape)}; expected ({bs}, 2, 2)"
            )
