"""TensorFlow-Hub adapter: Enformer (URL or local SavedModel) and anything with its interface.

The loaded object must expose ``predict_on_batch(x)`` (on ``obj.model`` as Enformer's TF-Hub
module does, or on ``obj`` itself) taking float32 one-hot ``[B, L, 4]`` (A, C, G, T) and
returning a dict with the head (``'human'``) as float32 ``[B, n_bins, n_tracks]``.

On the device: uint8 codes ``[B, L]`` are one-hot encoded by a table lookup (``N`` -> the
model's neutral value on all four channels; Enformer's pipeline uses 0.25), the model runs,
and only the requested tracks and bins are gathered before anything is copied back.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from seqbench.models.base import Geometry, TrackTable
from seqbench.models.device import DeviceBacked, DeviceReadout, apply_precision, auto_batch_size, readout_function

__all__ = ["HubModel", "ModelLoadError", "configure_tensorflow", "load_hub_object", "readout_function"]

TFHUB_HINT = (
    "if this machine is offline, download the model once elsewhere and point the spec's"
    " model.handle at the local SavedModel directory, or set TFHUB_CACHE_DIR to a directory"
    " that already holds it"
)


class ModelLoadError(RuntimeError):
    """A model cannot be loaded, or does not behave as its declaration says."""


def configure_tensorflow(intra_op_threads: int | None = None) -> None:
    """GPU memory growth on (one replica per GPU must not map every GPU's memory) and,
    optionally, the CPU thread pool size.  Call before the first TensorFlow op."""
    import tensorflow as tf

    # RuntimeError: TensorFlow was already initialised in this process; keep its settings
    for gpu in tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    if intra_op_threads:
        with contextlib.suppress(RuntimeError):
            tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
            tf.config.threading.set_inter_op_parallelism_threads(2)


def load_hub_object(handle: str) -> Any:
    """``tensorflow_hub.load(handle)`` with errors a user can act on."""
    import tensorflow_hub as hub

    is_url = "://" in handle
    if not is_url and not os.path.exists(handle):
        raise ModelLoadError(f"model handle {handle}: no such file or directory (expected a SavedModel directory)")
    try:
        return hub.load(handle)
    except Exception as exc:  # tensorflow_hub raises many types (URLError, OSError, ValueError...)
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = f"; {TFHUB_HINT}" if is_url else ""
        raise ModelLoadError(f"model handle {handle}: cannot load ({msg}){hint}") from exc


class HubModel(DeviceBacked):
    """A TF-Hub / SavedModel sequence model (see the module docstring).

    Parameters
    ----------
    handle: TF-Hub URL or local SavedModel directory.
    name: name printed in every report.
    geometry: declared geometry; checked against a real call at load time.
    tracks: the model's track table.
    head: output head to read (Enformer: ``'human'``).
    neutral_value: one-hot value of N on each channel.
    batch_size: inputs per device call (the last batch is padded so shapes stay fixed).
    """

    def __init__(
        self,
        handle: str,
        *,
        name: str,
        geometry: Geometry,
        tracks: TrackTable,
        head: str = "human",
        neutral_value: float = 0.25,
        batch_size: int | str = 8,
        intra_op_threads: int | None = None,
        precision: str = "fp32",
        xla: bool | None = None,
        members_on_device: bool | None = None,
        default_batch_size: int = 8,
    ):
        configure_tensorflow(intra_op_threads)
        apply_precision(precision)
        geometry.validate()
        self.name, self.geometry, self.tracks = name, geometry, tracks
        self.head, self.neutral_value = head, float(neutral_value)
        self.handle = handle
        self._obj = load_hub_object(handle)  # keep a reference: restored functions need their variables
        inner = getattr(self._obj, "model", self._obj)
        fn = getattr(inner, "predict_on_batch", None)
        if fn is None:
            raise ModelLoadError(f"model handle {handle}: the loaded object has no predict_on_batch")
        self._fn = fn
        head_ = head

        def call(x):
            out = fn(x)
            return out[head_] if isinstance(out, dict) else out

        self._call = call
        self._check_geometry()
        if batch_size == "auto":
            batch_size = auto_batch_size(self._try_batch, default_batch_size)
        self._device = DeviceReadout(call, neutral_value=self.neutral_value, sequence_length=geometry.sequence_length,
                                     batch_size=int(batch_size), xla=xla, members_on_device=members_on_device)
        self.precision = precision
        self._device.warm_up(geometry.n_bins, len(tracks))  # traces (and compiles) at the production batch size

    def _try_batch(self, bs: int) -> None:
        import tensorflow as tf

        self._fn(tf.zeros([bs, self.geometry.sequence_length, 4], tf.float32))

    def _check_geometry(self) -> None:
        """One real call (also the warm-up): the output must be ``[1, n_bins, len(tracks)]``."""
        import tensorflow as tf

        x = tf.zeros([1, self.geometry.sequence_length, 4], tf.float32)
        try:
            out = self._fn(x)
        except Exception as exc:
            raise ModelLoadError(
                f"model {self.name}: a call with input [1, {self.geometry.sequence_length}, 4] failed"
                f" ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); is the declared"
                " sequence length right?"
            ) from exc
        if isinstance(out, dict):
            if self.head not in out:
                raise ModelLoadError(f"model {self.name}: no output head {self.head!r} (has {sorted(out)})")
            out = out[self.head]
        shape = tuple(int(d) for d in out.shape)
        want = (1, self.geometry.n_bins, len(self.tracks))
        if shape != want:
            raise ModelLoadError(
                f"model {self.name}: output shape {shape} for an input [1, {self.geometry.sequence_length}, 4]"
                f" does not match the declared geometry; expected {want} (batch, model.n_bins = {want[1]},"
                f" {want[2]} tracks)"
            )
