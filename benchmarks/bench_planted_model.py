"""Time the planted model: build, load, and a batch as the pipeline pays for it, against the convolution.

Prints one line of JSON.  Run: ``python benchmarks/bench_planted_model.py [--batch 8] [--calls 5]``.
The build goes to a fresh temporary cache directory, so nothing cached is reused.

* ``build_s``: :func:`seqbench.models.planted.build.ensure_planted_model`;
* ``load_s``: :func:`seqbench.models.registry.load_model` (``tensorflow_hub.load``, the geometry
  check and the adapter's warm-up call), as a replica loads it;
* per batch of ``--batch`` random inputs, interleaved (``_common.interleave``, ``--calls`` rounds
  after ``--warmup`` calls of each), min / median / max:

  - ``adapter_s_per_batch`` (= ``s_per_batch_median``, the path the pipeline runs): the adapter's
    ``predict(codes uint8 [B, L], bins, tracks)``: the uint8 -> one-hot step, the model, the
    gather of 3 bins x 1 track, the copy back;
  - ``convolution_adapter_s_per_batch``: the same call, through the same adapter class, of the planted
    model as it was built up to ``FORMAT_VERSION`` 1 (the law's motif scores by ``conv1d``, the one-hot
    by a table gather; built here from the twins' :func:`~seqbench.models.planted.build.planted_law_tf`);
    ``speedup_vs_convolution`` is the per-round ratio, the issue's target (>= 3x);
  - ``model_only_s_per_batch``: the SavedModel's ``predict_on_batch`` on inputs already one-hot
    encoded (a float32 ``[B, L, 4]`` TensorFlow tensor, so no host copy is timed), the whole output copied
    back; ``adapter_over_model_only`` is their per-round ratio.

* ``max_rel_diff_vs_reference``: the model's output against the NumPy reference of the planted law;
  ``convolution_equal``: whether the two builds' adapter outputs are equal bit for bit.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, interleave, machine, ratios, setup_path, spread, timed

#: the issue's target: the planted model at least 3x faster per member than the convolution it replaced
TARGET_SPEEDUP = 3.0


def _convolution_model(path: Path, like: Any, batch: int) -> Any:
    """The planted model as built up to ``FORMAT_VERSION`` 1 (motif scores by ``conv1d``, no XLA), saved at
    ``path`` and loaded through the adapter class of ``like`` with the one-hot by table gather, as then."""
    import tensorflow as tf

    from seqbench.models import device
    from seqbench.models.planted.build import _filters, make_planted_module, planted_law_tf
    from seqbench.models.tfhub import HubModel

    filters = tf.constant(_filters())
    tf.saved_model.save(make_planted_module(lambda x, d, g: planted_law_tf(x, filters, d, g)), str(path))
    saved, device._CPU_XLA_ONE_HOT = device._CPU_XLA_ONE_HOT, False  # the readout of then: a table gather
    try:
        return HubModel(str(path), name="planted-v1 (convolution)", geometry=like.geometry, tracks=like.tracks,
                        batch_size=batch)
    finally:
        device._CPU_XLA_ONE_HOT = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--calls", type=int, default=5, help="interleaved timed rounds")
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)
    if min(args.batch, args.calls) < 1 or args.warmup < 0:
        parser.error("--batch and --calls must be >= 1, --warmup >= 0")
    setup_path()

    t0 = time.perf_counter()
    import numpy as np
    import tensorflow as tf

    from seqbench.models.planted.build import ensure_planted_model
    from seqbench.models.planted.reference import one_hot, reference_output
    from seqbench.models.registry import ModelSpec, load_model

    import_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ensure_planted_model(Path(tmp))
        build_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        model = load_model(ModelSpec(kind="planted", batch_size=args.batch), Path(tmp))
        load_s = time.perf_counter() - t0
        raw = model._fn  # the SavedModel's predict_on_batch, what the adapter wraps
        conv = _convolution_model(Path(tmp) / "convolution", model, args.batch)

        rng = np.random.default_rng(0)
        L = model.geometry.sequence_length
        codes = rng.integers(0, 4, size=(args.batch, L), dtype=np.uint8)
        x = tf.constant(one_hot(codes))
        centre = model.geometry.bin_of(L // 2)
        bins = np.tile(np.arange(centre - 1, centre + 2, dtype=np.int32), (args.batch, 1))
        tracks = np.zeros(1, np.int32)

        t0 = time.perf_counter()
        out = raw(x)["human"].numpy()
        first_call_s = time.perf_counter() - t0

        def adapter() -> float:
            return timed(lambda: model.predict(codes, bins, tracks))

        def convolution() -> float:
            return timed(lambda: conv.predict(codes, bins, tracks))

        def model_only() -> float:
            return timed(lambda: raw(x)["human"].numpy())

        for _ in range(args.warmup):
            adapter()
            convolution()
            model_only()
        got = interleave({"adapter": adapter, "convolution": convolution, "model_only": model_only}, args.calls)
        got_values = model.predict(codes, bins, tracks)
        if not np.allclose(got_values[:, :, 0], out[:, centre - 1 : centre + 2, 0], rtol=1e-5, atol=1e-6):
            raise SystemExit("the adapter's values differ from the model's own output")
        conv_equal = bool(np.array_equal(got_values, conv.predict(codes, bins, tracks)))

        t0 = time.perf_counter()
        ref = reference_output(codes)
        reference_s = time.perf_counter() - t0
        max_rel = float(np.max(np.abs(out / ref - 1.0)))

    adapter_s = spread(got["adapter"], 4)
    speedup = ratios(got["convolution"], got["adapter"], 2)
    emit({
        "name": "planted_model",
        "batch": args.batch,
        "tensorflow": tf.__version__,
        "import_s": round(import_s, 3),
        "build_s": round(build_s, 3),
        "load_s": round(load_s, 3),
        "first_call_s": round(first_call_s, 3),
        "adapter_s_per_batch": adapter_s,
        "convolution_adapter_s_per_batch": spread(got["convolution"], 4),
        "speedup_vs_convolution": speedup,
        "convolution_equal": conv_equal,
        "model_only_s_per_batch": spread(got["model_only"], 4),
        "adapter_over_model_only": ratios(got["adapter"], got["model_only"]),
        "s_per_batch_median": adapter_s["median"],
        "calls": args.calls,
        "numpy_reference_s_per_batch": round(reference_s, 4),
        "max_rel_diff_vs_reference": max_rel,
        "target": f">= {TARGET_SPEEDUP}x the convolution's batches per second, through the adapter",
        "pass": bool(speedup["median"] is not None and speedup["median"] >= TARGET_SPEEDUP),
        "headline": {
            "s/batch (adapter)": adapter_s["median"],
            "x convolution": speedup["median"],
            "adapter/model-only": ratios(got["adapter"], got["model_only"])["median"],
            "batch": args.batch,
            "load s": round(load_s, 2),
            "max rel diff": f"{max_rel:.1e}",
        },
        **machine(),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
