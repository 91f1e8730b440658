"""The device side of a TensorFlow model: precision, XLA, batch size, and members cut on the device.

A replica hands the device uint8 codes and gets back only the requested bins and tracks
(:func:`readout_function`).  This module adds the settings that make that
path fast on a GPU, each one a ``[model]`` key (``docs/scaling.md``, "The GPU path"):

* ``precision``: ``fp32`` (TF32 tensor-core rewriting *off*, so a GPU computes what a CPU does),
  ``tf32`` (TensorFlow's default on Ampere/Hopper), or ``bf16`` for models seqbench builds itself
  in bfloat16 (a restored SavedModel's weights keep their dtype, so bf16 is refused for it).
* ``xla``: compile the whole readout (one-hot, model, gathers) with XLA (default: on with a GPU).
* ``members_on_device``: send one *extended* window per construct and cut the strand x shift
  members on the device (default: on with a GPU).  A member ``(strand, shift)`` of a window
  ``ext`` of ``W`` bp is ``ext[s : s + L]`` on its own strand and the reverse complement of that
  slice otherwise (``s = shift - min_shift``); reverse-complementing is reading the slice
  backwards and complementing each code (A<->T, C<->G, N stays N).  Host-to-device traffic falls
  from ``M x L`` to about ``W`` bytes per construct (M members).  The codes the model sees are the
  ones the host would have cut, batch by batch, so the outputs are bit-identical.
* the one-hot step itself: in a process that sees no GPU it is its own small XLA computation
  whatever ``xla`` says (:func:`one_hot_function`; the values are the table's, bit for bit), because
  TensorFlow's table gather takes three times as long on CPU; elsewhere it follows ``xla``.
* ``batch_size = "auto"``: the largest power of two (up to :data:`AUTO_BATCH_CAP`) whose call fits
  in the device's free memory, found by trying; without a GPU, the kind's default.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

PRECISIONS = ("fp32", "tf32", "bf16")
#: the largest batch ``batch_size = "auto"`` tries (inputs per device call)
AUTO_BATCH_CAP = 64
#: complement of each code (A, C, G, T, N -> T, G, C, A, N)
COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def gpu_visible() -> bool:
    """Whether TensorFlow sees a GPU in this process."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def apply_precision(precision: str) -> None:
    """Set TensorFlow's TF32 switch for ``precision`` (process-wide; a replica holds one precision).

    ``fp32`` turns TF32 off (TensorFlow turns it on by default on Ampere and later), ``tf32`` on;
    ``bf16`` leaves the switch to the model, which was built in bfloat16."""
    import tensorflow as tf

    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision in ("fp32", "tf32"):
        tf.config.experimental.enable_tensor_float_32_execution(precision == "tf32")


def member_plan(
    n_constructs: int, members: list[tuple[str, int]], min_shift: int, flips: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every (construct, member), construct-major: its row (int32), its start ``s`` in the extended
    window (int32, bp) and whether it reads the reverse complement (bool).  ``flips[i]``: construct ``i``
    is on the - strand, so its ``+`` members read the reverse complement (as
    :func:`seqbench.sequence.ensemble.member_codes`)."""
    m = len(members)
    rows = np.repeat(np.arange(n_constructs, dtype=np.int32), m)
    starts = np.tile(np.array([shift - min_shift for _, shift in members], dtype=np.int32), n_constructs)
    minus = np.tile(np.array([strand == "-" for strand, _ in members]), n_constructs)
    flip = np.repeat(flips.astype(bool), m) if flips is not None else np.zeros(n_constructs * m, bool)
    return rows, starts, minus != flip


def rows_per_batch(batch_size: int, n_members: int) -> int:
    """Most constructs that ``batch_size`` consecutive members (construct-major) can touch."""
    return min(batch_size, math.ceil((batch_size - 1) / max(1, n_members)) + 1)


def predict_members_in_fixed_batches(
    run: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    windows: np.ndarray,
    rows: np.ndarray,
    starts: np.ndarray,
    reverse: np.ndarray,
    bins: np.ndarray,
    n_tracks: int,
    batch_size: int,
    n_members: int,
) -> np.ndarray:
    """``run(ext uint8 [R, W], row [bs], start [bs], reverse [bs], bins [bs, K]) -> [bs, K, n_tracks]``
    over every member, ``batch_size`` members at a time, with ``R = rows_per_batch`` extended windows per
    call plus one all-N window (the rest padded with N) and the last batch padded with all-N members whose results are
    dropped: one shape on the device, as :func:`seqbench.models.base.predict_in_fixed_batches`.
    The member batches are the ones the host path forms, so results are bit-identical to it."""
    n, bs = rows.shape[0], int(batch_size)
    # one more row than any batch can touch: the last is always all N (the padding members read it)
    R, W = rows_per_batch(bs, n_members) + 1, windows.shape[1]
    out = np.empty((n, bins.shape[1], n_tracks), dtype=np.float32)
    ext = np.full((R, W), 4, dtype=np.uint8)
    for i in range(0, n, bs):
        r, s, v, b = rows[i : i + bs], starts[i : i + bs], reverse[i : i + bs], bins[i : i + bs]
        k = r.shape[0]
        used, local = np.unique(r, return_inverse=True)
        ext[: used.size] = windows[used]
        ext[used.size :] = 4
        local = local.astype(np.int32)
        if k < bs:  # padding members: all N, as the host path pads
            local = np.concatenate([local, np.full(bs - k, R - 1, np.int32)])
            s = np.concatenate([s, np.zeros(bs - k, np.int32)])
            v = np.concatenate([v, np.zeros(bs - k, bool)])
            b = np.concatenate([b, np.zeros((bs - k, b.shape[1]), np.int32)])
        out[i : i + k] = np.asarray(run(ext, local, s, v, b))[:k]
    return out


_CPU_XLA_ONE_HOT: bool | None = None


def one_hot_tf(codes: Any, neutral_value: float) -> Any:
    """Codes ``[B, L]`` (any integer dtype; 0..3 = A, C, G, T, 4 = N) -> float32 ``[B, L, 4]``: 1 on the letter's
    channel, ``neutral_value`` on every channel for N, 0 elsewhere; exactly the rows of
    :func:`~seqbench.models.base.one_hot_table`.  Comparisons rather than a table gather, so that XLA writes
    it in one pass."""
    import tensorflow as tf

    c = codes[..., None]
    letters = tf.constant([0, 1, 2, 3], dtype=codes.dtype)
    return tf.cast(tf.equal(c, letters), tf.float32) + float(neutral_value) * tf.cast(
        tf.equal(c, tf.constant(4, dtype=codes.dtype)), tf.float32)


def cpu_xla_one_hot() -> bool:
    """Whether the one-hot step of a CPU-only process runs as its own XLA computation: when no GPU is visible
    and XLA compiles :func:`one_hot_tf` here (probed once per process, a few milliseconds).  On 2 cores it
    writes the 50 MB of a batch of 8 Enformer inputs in about 2 ms where TensorFlow's table gather takes 7;
    the values are the same, bit for bit."""
    global _CPU_XLA_ONE_HOT
    if _CPU_XLA_ONE_HOT is None:
        import tensorflow as tf

        ok = not gpu_visible()
        if ok:
            try:
                probe = tf.function(lambda c: one_hot_tf(c, 0.25), jit_compile=True)
                got = probe(tf.constant([[0, 1, 2, 3, 4]], tf.uint8)).numpy()
                from seqbench.models.base import one_hot_table

                ok = bool(np.array_equal(got[0], one_hot_table(0.25)))
            except Exception:  # no XLA in this build or for this CPU (tf.errors.*): the table gather
                ok = False
        _CPU_XLA_ONE_HOT = ok
    return _CPU_XLA_ONE_HOT


def one_hot_function(neutral_value: float, *, inline: bool = False) -> Callable[[Any], Any]:
    """The readouts' one-hot step, ``codes [B, L] -> float32 [B, L, 4]``: inside a readout that XLA compiles
    whole (``inline``), :func:`one_hot_tf` itself; in a CPU-only process where XLA works
    (:func:`cpu_xla_one_hot`), :func:`one_hot_tf` as its own XLA computation; otherwise the table gather."""
    import tensorflow as tf

    if inline:
        return lambda codes: one_hot_tf(codes, neutral_value)
    if cpu_xla_one_hot():
        return tf.function(lambda codes: one_hot_tf(codes, neutral_value), jit_compile=True)
    from seqbench.models.base import one_hot_table

    table = tf.constant(one_hot_table(neutral_value))
    return lambda codes: tf.gather(table, tf.cast(codes, tf.int32))


def readout_function(call: Any, neutral_value: float, sequence_length: int, *, jit_compile: bool = False) -> Any:
    """A ``tf.function`` ``(codes uint8 [B, L], bins int32 [B, K], tracks int32 [T]) -> float32 [B, K, T]``:
    the one-hot encoding (:func:`one_hot_function`, N = ``neutral_value`` on every channel), the model's
    ``call(x [B, L, 4]) -> [B, n_bins, n_tracks]``, then the tracks and the bins gathered, all on the device,
    so only what was asked is copied back.  Shared by the TF-Hub and the Keras adapters.  ``jit_compile``:
    the whole function through XLA (see :mod:`seqbench.models.device`)."""
    import tensorflow as tf

    one_hot = one_hot_function(neutral_value, inline=jit_compile)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, sequence_length], tf.uint8),
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.int32),
        ],
        reduce_retracing=True,
        jit_compile=jit_compile,
    )
    def run(codes: Any, bins: Any, track_idx: Any) -> Any:
        x = one_hot(codes)  # [B, L, 4]
        out = tf.gather(call(x), track_idx, axis=2)  # [B, n_bins, T]
        return tf.cast(tf.gather(out, bins, batch_dims=1), tf.float32)  # [B, K, T]

    return run


def member_readout_function(
    call: Any, neutral_value: float, sequence_length: int, *, jit_compile: bool = False
) -> Any:
    """A ``tf.function`` ``(ext uint8 [R, W], row int32 [B], start int32 [B], reverse bool [B], bins int32
    [B, K], tracks int32 [T]) -> float32 [B, K, T]``: member ``b`` is ``ext[row[b], start[b] : start[b] + L]``,
    read backwards and complemented where ``reverse[b]``; then the one-hot, the model and the gathers of
    :func:`readout_function`, all on the device."""
    import tensorflow as tf

    one_hot = one_hot_function(neutral_value, inline=jit_compile)
    complement = tf.constant(COMPLEMENT.astype(np.int32))
    L = int(sequence_length)
    pos = tf.range(L, dtype=tf.int32)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.uint8),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.bool),
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.int32),
        ],
        reduce_retracing=True,
        jit_compile=jit_compile,
    )
    def run(ext: Any, row: Any, start: Any, reverse: Any, bins: Any, track_idx: Any) -> Any:
        rev = reverse[:, None]
        offs = tf.where(rev, L - 1 - pos[None, :], pos[None, :])  # [B, L]
        idx = tf.stack([tf.broadcast_to(row[:, None], tf.shape(offs)), start[:, None] + offs], axis=-1)
        codes = tf.cast(tf.gather_nd(ext, idx), tf.int32)  # [B, L]
        codes = tf.where(rev, tf.gather(complement, codes), codes)
        x = one_hot(codes)  # [B, L, 4]
        out = tf.gather(call(x), track_idx, axis=2)
        return tf.cast(tf.gather(out, bins, batch_dims=1), tf.float32)

    return run


class DeviceReadout:
    """The device path of one model: ``call(x float32 [B, L, 4]) -> [B, n_bins, n_tracks]`` behind the
    host-cut readout (:meth:`predict`) and the device-cut one (:meth:`predict_members`), with the
    ``[model]`` settings of the module docstring.  Shared by the TF-Hub and the Keras adapters."""

    def __init__(
        self,
        call: Any,
        *,
        neutral_value: float,
        sequence_length: int,
        batch_size: int,
        xla: bool | None = None,
        members_on_device: bool | None = None,
    ) -> None:
        gpu = gpu_visible()
        self.xla = gpu if xla is None else bool(xla)
        self.members_on_device = gpu if members_on_device is None else bool(members_on_device)
        self.batch_size = int(batch_size)
        self._call = call
        self._neutral, self._L = float(neutral_value), int(sequence_length)
        self._run = readout_function(call, self._neutral, self._L, jit_compile=self.xla)
        self._run_members = member_readout_function(call, self._neutral, self._L, jit_compile=self.xla)

    def predict(self, codes: np.ndarray, bins: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        """Values ``[B, K, T]`` float32 at ``bins`` ``[B, K]`` of ``tracks`` ``[T]`` for inputs ``codes`` ``[B, L]``."""
        from seqbench.models.base import predict_in_fixed_batches

        t = np.asarray(tracks, dtype=np.int32)
        return predict_in_fixed_batches(
            lambda c, b: self._run(c, b, t).numpy(), np.asarray(codes, dtype=np.uint8),
            np.asarray(bins, dtype=np.int32), t.size, self.batch_size,
        )

    def predict_members(
        self, windows: np.ndarray, rows: np.ndarray, starts: np.ndarray, reverse: np.ndarray,
        bins: np.ndarray, tracks: np.ndarray, n_members: int,
    ) -> np.ndarray:
        """Values ``[B, K, T]`` of the members ``(rows, starts, reverse)`` (see :func:`member_plan`) of the
        extended ``windows`` uint8 ``[n, W]``, cut on the device."""
        t = np.asarray(tracks, dtype=np.int32)
        return predict_members_in_fixed_batches(
            lambda e, r, s, v, b: self._run_members(e, r, s, v, b, t).numpy(),
            np.asarray(windows, dtype=np.uint8), np.asarray(rows, np.int32), np.asarray(starts, np.int32),
            np.asarray(reverse, bool), np.asarray(bins, np.int32), t.size, self.batch_size, n_members,
        )

    def warm_up(self, n_bins: int, n_tracks: int) -> Any:
        """One call at the production batch size (traces, and with XLA compiles, the host-cut path)."""
        bs = self.batch_size
        codes = np.full((bs, self._L), 4, np.uint8)
        bins = np.tile(np.array([[0, n_bins - 1]], np.int32), (bs, 1))
        return self._run(codes, bins, np.array([0, n_tracks - 1], np.int32))


class DeviceBacked:
    """Mixin of the adapters with a device path: ``batch_size``, ``xla``, ``members_on_device``,
    :meth:`predict` and :meth:`predict_members` are those of ``self._device`` (a :class:`DeviceReadout`),
    so a benchmark can change the batch size or the member cut of a loaded model."""

    _device: DeviceReadout

    @property
    def batch_size(self) -> int:
        return self._device.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if int(value) < 1:
            raise ValueError(f"batch_size = {value}: expected at least 1")
        self._device.batch_size = int(value)

    @property
    def members_on_device(self) -> bool:
        return self._device.members_on_device

    @members_on_device.setter
    def members_on_device(self, value: bool) -> None:
        self._device.members_on_device = bool(value)

    @property
    def xla(self) -> bool:
        return self._device.xla

    def predict(self, codes: np.ndarray, bins: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        """Values ``[B, K, T]`` float32 at ``bins`` ``[B, K]`` of ``tracks`` ``[T]`` for inputs ``codes`` ``[B, L]``."""
        return self._device.predict(codes, bins, tracks)

    def predict_members(
        self, windows: np.ndarray, rows: np.ndarray, starts: np.ndarray, reverse: np.ndarray,
        bins: np.ndarray, tracks: np.ndarray, n_members: int,
    ) -> np.ndarray:
        """See :meth:`DeviceReadout.predict_members`."""
        return self._device.predict_members(windows, rows, starts, reverse, bins, tracks, n_members)


def auto_batch_size(try_batch: Callable[[int], Any], default: int, cap: int = AUTO_BATCH_CAP) -> int:
    """``batch_size = "auto"``: without a GPU, ``default``; with one, the largest power of two up to ``cap``
    for which ``try_batch(bs)`` (one real call) does not run out of device memory (at least 1)."""
    if not gpu_visible():
        return int(default)
    import tensorflow as tf

    best, bs = 0, 1
    while bs <= cap:
        try:
            try_batch(bs)
        except tf.errors.ResourceExhaustedError:
            break
        best, bs = bs, bs * 2
    with contextlib.suppress(Exception):  # free what the failed try left behind
        import gc

        gc.collect()
    return max(1, best)
