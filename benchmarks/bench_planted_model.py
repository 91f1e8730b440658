"""Time the planted model: build, load (``tensorflow_hub.load``), and calls of a batch of 8.

Prints one line of JSON.  Run: ``python benchmarks/bench_planted_model.py [--batch 8] [--calls 5]``.
The build goes to a fresh temporary cache directory, so nothing cached is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    t0 = time.perf_counter()
    import numpy as np
    import tensorflow as tf
    import tensorflow_hub as hub

    from seqbench.models.planted.build import ensure_planted_model
    from seqbench.models.planted.reference import one_hot, reference_output

    import_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = ensure_planted_model(Path(tmp))
        build_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        model = hub.load(str(path))
        load_s = time.perf_counter() - t0

        rng = np.random.default_rng(0)
        codes = rng.integers(0, 4, size=(args.batch, 393_216), dtype=np.uint8)
        x = one_hot(codes)
        t0 = time.perf_counter()
        out = model.model.predict_on_batch(x)["human"].numpy()
        first_call_s = time.perf_counter() - t0
        for _ in range(args.warmup):
            model.model.predict_on_batch(x)
        times = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            model.model.predict_on_batch(x)["human"].numpy()
            times.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        ref = reference_output(codes)
        reference_s = time.perf_counter() - t0
        max_rel = float(np.max(np.abs(out / ref - 1.0)))

    print(
        json.dumps(
            {
                "bench": "planted_model",
                "batch": args.batch,
                "cpus": os.cpu_count(),
                "tensorflow": tf.__version__,
                "import_s": round(import_s, 3),
                "build_s": round(build_s, 3),
                "load_s": round(load_s, 3),
                "first_call_s": round(first_call_s, 3),
                "s_per_batch_median": round(statistics.median(times), 4),
                "s_per_batch_min": round(min(times), 4),
                "calls": args.calls,
                "numpy_reference_s_per_batch": round(reference_s, 4),
                "max_rel_diff_vs_reference": max_rel,
            }
        )
    )


if __name__ == "__main__":
    main()
