"""Output size: Parquet bytes per member row in a finished job's prediction parts.

Reads ``JOB/parts/part-*.parquet`` of ``--job-dir`` (for example a job kept by
``bench_pipeline.py --keep-job-dir DIR``: ``--job-dir DIR/replicas-1``), or first runs a small
job through :func:`seqbench.runtime.submit.submit` (the embedded demo, planted model; by
default all promoters and enhancers on one background = 96 constructs, 576 member rows, in
shards of ``--shard-size``) in a temporary directory.

Measured:

* ``bytes_per_row``: total bytes of the part files ÷ member rows (the target);
* the same split into each column's compressed chunks and the per-file footer/metadata
  (from the Parquet metadata), per row;
* ``bytes_per_row_random_values``: the parts rewritten with the job's own writer
  (:meth:`seqbench.runtime.jobdir.JobDir.write_part`) after replacing every track column by
  seeded log-normal float32 noise.  The planted model's outputs repeat across members and
  compress far better than a real model's; this is the size to expect from Enformer.

Target (issue): <= 32 bytes per member row (judged on ``bytes_per_row``; the random-value
figure is reported beside it).  Prints one line of JSON.

Usage: ``python benchmarks/bench_output_size.py [--job-dir JOB] [--shard-size 32]
[--promoters 0 --enhancers 0 --backgrounds 1]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from _common import bench_cache_dir, demo_spec, emit, machine, setup_path

TARGET = 32.0
KEY_COLUMNS = ("construct_id", "member", "landmark_bin")


def part_sizes(files: list[Path]) -> dict:
    """Bytes, rows and the per-column / footer split of Parquet files."""
    import pyarrow.parquet as pq

    total = rows = footer = 0
    columns: dict[str, int] = {}
    for f in files:
        size = f.stat().st_size
        md = pq.ParquetFile(f).metadata
        chunks = 0
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            for i in range(rg.num_columns):
                c = rg.column(i)
                columns[c.path_in_schema] = columns.get(c.path_in_schema, 0) + c.total_compressed_size
                chunks += c.total_compressed_size
        total += size
        rows += md.num_rows
        footer += size - chunks
    return {"files": len(files), "bytes": total, "rows": rows, "columns": columns, "footer_bytes": footer}


def random_value_parts(files: list[Path], out_dir: Path, seed: int = 0) -> list[Path]:
    """The parts rewritten by the job's writer with every track column replaced by noise."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from seqbench.runtime.jobdir import JobDir

    rng = np.random.default_rng(seed)
    job = JobDir(out_dir)
    written = []
    for f in files:
        table = pq.read_table(f)
        for name in table.column_names:
            if name not in KEY_COLUMNS:
                noise = rng.lognormal(0.0, 1.5, table.num_rows).astype(np.float32)
                table = table.set_column(table.schema.get_field_index(name), name, pa.array(noise))
        shard = int(f.name[5:11])
        job.write_part(shard, table)
        written.append(job.part_path(shard))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-dir", type=Path, default=None, help="a finished job (default: run a small one)")
    parser.add_argument("--shard-size", type=int, default=32, help="shard size of the job run (not with --job-dir)")
    parser.add_argument("--promoters", type=int, default=0, help="limit the demo design of the job run (0: all)")
    parser.add_argument("--enhancers", type=int, default=0)
    parser.add_argument("--backgrounds", type=int, default=1)
    parser.add_argument("--cpus", type=int, default=None, help="CPUs for local Ray (default: all)")
    args = parser.parse_args(argv)

    setup_path()
    tmp = Path(tempfile.mkdtemp(prefix="seqbench-bench-output-"))
    try:
        if args.job_dir is None:
            from seqbench.runtime.submit import submit

            cache = bench_cache_dir()
            spec = demo_spec(
                cache,
                {
                    "inputs": {
                        "max_promoters": args.promoters,
                        "max_enhancers": args.enhancers,
                        "max_backgrounds": args.backgrounds,
                    },
                    "runtime": {"shard_size": args.shard_size, **({"num_cpus": args.cpus} if args.cpus else {})},
                },
            )
            job_dir = tmp / "job"
            submit(spec, job_dir=job_dir, progress=False)
            source = "job run by this benchmark"
        else:
            job_dir = args.job_dir.resolve()
            source = "given job directory"
        files = sorted((job_dir / "parts").glob("part-*.parquet"))
        if not files:
            raise SystemExit(f"{job_dir}: no prediction parts (parts/part-*.parquet)")
        manifest = json.loads((job_dir / "manifest.json").read_text())
        measured = part_sizes(files)
        noisy = part_sizes(random_value_parts(files, tmp / "random-values"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = measured["rows"]
    per_row = measured["bytes"] / rows
    per_row_random = noisy["bytes"] / noisy["rows"]
    tracks = [c for c in measured["columns"] if c not in KEY_COLUMNS]
    record = {
        "name": "output_size",
        "source": source,
        "job_dir": None if args.job_dir is None else str(job_dir),
        "parts": measured["files"],
        "rows": rows,
        "rows_expected": manifest.get("n_members"),
        "shard_size": manifest.get("shard_size"),
        "tracks": tracks,
        "bytes": measured["bytes"],
        "bytes_per_row": round(per_row, 3),
        "bytes_per_row_by_column": {k: round(v / rows, 3) for k, v in measured["columns"].items()},
        "footer_bytes_per_row": round(measured["footer_bytes"] / rows, 3),
        "bytes_per_row_random_values": round(per_row_random, 3),
        "bytes_per_row_by_column_random_values": {k: round(v / rows, 3) for k, v in noisy["columns"].items()},
        "target": f"<= {TARGET:g} bytes per member row",
        "pass": bool(per_row <= TARGET),
        "headline": {
            "bytes/row": round(per_row, 1),
            "bytes/row random values": round(per_row_random, 1),
            "tracks": len(tracks),
        },
        **machine(),
    }
    emit(record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
