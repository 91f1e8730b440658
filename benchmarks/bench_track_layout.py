"""Track layout: Parquet bytes per member row and read-back time with hundreds of tracks.

tissue-expression reads every CAGE track (635 on Enformer).  Rows with at least
``LIST_LAYOUT_MIN_TRACKS`` tracks hold them in one fixed-size-list column; this compares that
layout with one float32 column per track on the same values, written by the job's own writer
(:meth:`seqbench.runtime.jobdir.JobDir.write_part`) and read back by
:func:`seqbench.predict.predictions_frame`.

Like with like: the same shard (``--constructs`` constructs x 6 members, ``--tracks`` tracks of
seeded log-normal float32 values, as a real model's outputs compress) goes through
:func:`seqbench.predict.predict_shard` twice, once with the layout threshold above the number of
tracks.  Reported: bytes per member row (and per member and track), write and read seconds and the ratios
list / wide over ``--repeat`` interleaved rounds (min / median / max).  Target: the list layout
no larger than the wide one.

Usage: ``python benchmarks/bench_track_layout.py [--constructs 200] [--tracks 635] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import emit, interleave, machine, ratios, setup_path, spread


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
    tables = {}
    state = rng.bit_generator.state
    default = predict.LIST_LAYOUT_MIN_TRACKS
    for layout, threshold in (("list", default), ("wide", args.tracks + 1)):
        rng.bit_generator.state = state  # the same values in both layouts
        predict.LIST_LAYOUT_MIN_TRACKS = threshold
        tables[layout] = predict.predict_shard(Model(), shard, ens, tracks)
    predict.LIST_LAYOUT_MIN_TRACKS = default
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sizes: dict[str, int] = {}

        def arm(layout: str):
            def run() -> tuple[float, float]:
                job = JobDir(Path(tmp) / layout)
                t0 = time.perf_counter()
                sizes[layout] = job.write_part(0, tables[layout])
                t1 = time.perf_counter()
                frame = predict.predictions_frame(job.read_predictions())
                t2 = time.perf_counter()
                assert frame.shape[1] >= args.tracks
                return t1 - t0, t2 - t1
            return run

        got = interleave({"list": arm("list"), "wide": arm("wide")}, args.repeat)
    for layout, table in tables.items():
        rows = table.num_rows
        out[layout] = {"bytes_per_row": sizes[layout] / rows, "bytes_per_row_track": sizes[layout] / rows / args.tracks,
                       "write_s": spread([w for w, _ in got[layout]], 4),
                       "read_s": spread([r for _, r in got[layout]], 4),
                       "rows": rows, "columns": table.num_columns}
    ratio_bytes = out["list"]["bytes_per_row"] / out["wide"]["bytes_per_row"]
    write_ratio = ratios([w for w, _ in got["list"]], [w for w, _ in got["wide"]])
    read_ratio = ratios([r for _, r in got["list"]], [r for _, r in got["wide"]])
    emit({
        "name": "track_layout", **{f"{k}_{f}": v for k, d in out.items() for f, v in d.items()},
        "list_over_wide_bytes": ratio_bytes,
        "list_over_wide_write": write_ratio,
        "list_over_wide_read": read_ratio,
        "target": "list layout bytes per member row <= wide layout's", "pass": bool(ratio_bytes <= 1.0),
        "headline": {"list B/row": round(out["list"]["bytes_per_row"]),
                     "wide B/row": round(out["wide"]["bytes_per_row"]),
                     "read list/wide": read_ratio["median"]},
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
