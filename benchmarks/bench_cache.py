"""Benchmark: the prediction cache (docs/prediction-cache.md) on demo jobs of the planted model.

1. **A second identical job**: the multiplicativity demo (or a subset: ``--promoters``,
   ``--enhancers``, ``--backgrounds``) run twice into two job directories with one cache; the
   second's forward passes (target: 0) and wall time against the first's, and whether their rows
   are equal bit for bit.
2. **The chain** (skip with ``--no-chain``): the knock-down demo (``--kd-genes`` gene windows), then
   multiplicativity ``--from`` it, reading the knock-down's track only (a hit needs every track).
   ``plan``'s predicted saving (``seqbench.cache_savings``) against the passes the second job made:
   target ``passes == members − predicted saving``, and fewer passes than the two jobs alone
   (each job's members).

Each job starts its own local Ray with ``--cpus`` CPUs; wall times include that start and the
model load (about 20 s on 2 cores), which is why a job of 0 passes is not 0 s.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _common import bench_cache_dir, emit, machine, setup_path

setup_path()


def _rows(job: Path):
    import pandas as pd
    import pyarrow.parquet as pq

    parts = sorted((job / "parts").glob("part-*.parquet"))
    rows = pd.concat([pq.read_table(p).to_pandas() for p in parts])
    return rows.sort_values(["construct_id", "member"]).reset_index(drop=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--promoters", type=int, default=4)
    ap.add_argument("--enhancers", type=int, default=6)
    ap.add_argument("--backgrounds", type=int, default=2)
    ap.add_argument("--kd-genes", type=int, default=3)
    ap.add_argument("--no-chain", action="store_true")
    ap.add_argument("--cpus", type=int, default=2)
    args = ap.parse_args()

    cache = bench_cache_dir()
    from seqbench.cli import _plan_cache
    from seqbench.demo.synthetic import ensure_demo
    from seqbench.experiments.enhancer_knockdown import demo as kd_demo
    from seqbench.experiments.multiplicativity import demo as mx_demo
    from seqbench.runtime.jobdir import JobDir
    from seqbench.runtime.submit import inputs_from_job, plan_job, submit
    from seqbench.spec import deep_merge, parse_spec

    root = ensure_demo(cache).root
    work = Path(tempfile.mkdtemp(prefix="seqbench-bench-cache-"))
    try:
        rt = {"prediction_cache": str(work / "pc"), "replicas": 1, "num_cpus": args.cpus}

        def spec(raw):
            return parse_spec(deep_merge(raw, {"runtime": rt}), origin="benchmark", base_dir=root)

        mx_raw = deep_merge(mx_demo.demo_spec(root), {"inputs": {
            "max_promoters": args.promoters, "max_enhancers": args.enhancers, "max_backgrounds": args.backgrounds}})
        same = spec(mx_raw)
        timing = {}
        counts = {}
        for name in ("first", "second"):
            t0 = time.perf_counter()
            job = submit(same, job_dir=work / name, progress=False).job_dir
            timing[name] = time.perf_counter() - t0
            counts[name] = JobDir(job).pass_counts()
        equal = bool(_rows(work / "first").equals(_rows(work / "second")))
        members = sum(counts["first"])
        rec = {
            "name": "cache",
            "members": members,
            "first_forward_passes": counts["first"][0],
            "first_cache_hits": counts["first"][1],
            "second_forward_passes": counts["second"][0],
            "first_s": round(timing["first"], 2),
            "second_s": round(timing["second"], 2),
            "rows_equal": equal,
        }
        ok = counts["second"][0] == 0 and equal
        headline = {"2nd job passes": counts["second"][0], "1st s": round(timing["first"], 1),
                    "2nd s": round(timing["second"], 1)}
        if not args.no_chain:
            kd = spec(deep_merge(kd_demo.demo_spec(root), {"inputs": {"max_genes": args.kd_genes}}))
            kd_job = submit(kd, job_dir=work / "kd", progress=False).job_dir
            kd_passes, kd_hits = JobDir(kd_job).pass_counts()
            # the knock-down demo's model (planted-v1): entries are shared only within one model
            raw = deep_merge(mx_demo.demo_spec(root), {"model": {"kind": "planted"}})
            raw["tracks"] = {"cage": raw["tracks"]["cage"]}
            mx = spec(deep_merge(raw, {"inputs": inputs_from_job("multiplicativity", kd_job)}))
            t0 = time.perf_counter()
            saved = _plan_cache(mx, plan_job(mx), 20_000)[0]
            plan_s = time.perf_counter() - t0
            mx_job = submit(mx, job_dir=work / "mx", progress=False).job_dir
            mx_passes, mx_hits = JobDir(mx_job).pass_counts()
            chain_ok = mx_passes == saved.members - saved.saved and mx_passes < saved.members
            rec.update(chain_kd_members=kd_passes + kd_hits, chain_kd_forward_passes=kd_passes,
                       chain_mx_members=saved.members, chain_mx_plan_saved=saved.saved,
                       chain_mx_plan_held=saved.held, chain_mx_forward_passes=mx_passes, chain_plan_s=round(plan_s, 2),
                       chain_passes_alone=kd_passes + kd_hits + saved.members,
                       chain_passes_with_cache=kd_passes + mx_passes)
            headline.update({"chain passes": kd_passes + mx_passes, "alone": kd_passes + kd_hits + saved.members,
                             "plan saved": saved.saved})
            ok = ok and chain_ok
        rec.update(target="a second identical job computes 0 forward passes (rows equal); the knock-down ->"
                          " multiplicativity chain computes members - plan's predicted saving",
                   **{"pass": bool(ok)}, headline=headline, **machine())
        emit(rec)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
