"""Track layout: Parquet bytes per member row and read-back time with hundreds of tracks.

tissue-expression reads every CAGE track (635 on Enformer).  Rows with at least
``LIST_LAYOUT_MIN_TRACKS`` tracks hold them in one fixed-size-list column; this compares that
layout with one float32 column per track on the same values, written by the job's own writer
(:meth:`seqbench.runtime.jobdir.JobDir.write_part`) and read back by
:func:`seqbench.predict.predictions_frame`.

Like with like: the same shard (``--constructs`` constructs x 6 members, ``--tracks`` tracks of
seeded log-normal float32 values, as a real model's outputs compress) goes through
:func:`seqbench.predict.predict_shard` twice, once with the layout threshold above the number of
tracks.  Reported: bytes per member row (and per member and track), write and read seconds (best
of ``--repeat``), and the ratios list / wide.  Target: the list layout no larger than the wide one.

Usage: ``python benchmarks/bench_track_layout.py [--constructs 200] [--tracks 635] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import emit, machine, setup_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--constructs", type=int, default=200)
    ap.add_argument("--tracks", type=int, default=635)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    setup_path()
    import numpy as np

    import seqbench.predict as predict
    from seqbench.models.base import Geometry
    from seqbench.runtime.jobdir import JobDir
    from seqbench.sequence.ensemble import Ensemble

    geometry = Geometry(sequence_length=2048, bin_size=128, offset=0, n_bins=16)
    rng = np.random.default_rng(7)

    class Model:  # seeded log-normal values per (input, bin, track): no structure to compress
        batch_size = 8
        name = "bench"

        def __init__(self) -> None:
            self.geometry = geometry

        def predict(self, codes, bins, tracks):
            return rng.lognormal(0.0, 1.5, size=(len(codes), bins.shape[1], len(tracks))).astype(np.float32)

    n = args.constructs
    shard = predict.MaterializedShard(0, np.arange(n, dtype=np.int64),
                                      rng.integers(0, 4, size=(n, 2048 + 86), dtype=np.uint8),
                                      np.full(n, 1024 + 43, dtype=np.int64), 0, None)
    tracks = {f"cage_{t}": t for t in range(args.tracks)}
    ens = Ensemble()
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        state = rng.bit_generator.state
        for layout, threshold in (("list", predict.LIST_LAYOUT_MIN_TRACKS), ("wide", args.tracks + 1)):
            rng.bit_generator.state = state  # the same values in both layouts
            predict.LIST_LAYOUT_MIN_TRACKS = threshold
            table = predict.predict_shard(Model(), shard, ens, tracks)
            job = JobDir(Path(tmp) / layout)
            writes, reads = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                size = job.write_part(0, table)
                writes.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                frame = predict.predictions_frame(job.read_predictions())
                reads.append(time.perf_counter() - t0)
            rows = table.num_rows
            out[layout] = {"bytes_per_row": size / rows, "bytes_per_row_track": size / rows / args.tracks,
                           "write_s": min(writes), "read_s": min(reads), "rows": rows, "columns": table.num_columns}
            assert frame.shape[1] >= args.tracks
    ratio_bytes = out["list"]["bytes_per_row"] / out["wide"]["bytes_per_row"]
    emit({
        "name": "track_layout", **{f"{k}_{f}": v for k, d in out.items() for f, v in d.items()},
        "list_over_wide_bytes": ratio_bytes,
        "list_over_wide_write": out["list"]["write_s"] / out["wide"]["write_s"],
        "list_over_wide_read": out["list"]["read_s"] / out["wide"]["read_s"],
        "target": "list layout bytes per member row <= wide layout's", "pass": bool(ratio_bytes <= 1.0),
        "headline": {"list B/row": round(out["list"]["bytes_per_row"]),
                     "wide B/row": round(out["wide"]["bytes_per_row"]),
                     "read list/wide": round(out["list"]["read_s"] / out["wide"]["read_s"], 2)},
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
