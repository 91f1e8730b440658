"""Planning at paper scale, as two figures named for what they are: the driver's own planning,
and building every construct (work a job spreads over its materialize tasks).

A synthetic candidate table with ``--promoters`` unique TSSs, ``--enhancers`` unique enhancer
windows and ``--backgrounds`` test locations (default 89 x 115 x 32 = 327,520 constructs, the
paper's design, spec §9.2) is written on the demo genome's chromosomes.  Its coordinates pass
every check of :func:`seqbench.experiments.multiplicativity.design.load_candidates` and ``expand``:
128-bp TSS bins, 393,216-bp model windows whose ``main_tss_bin`` matches the TSS, a 2-kb
enhancer window 5 kb or more from its TSS (so promoter and enhancer windows never overlap).
One row per enhancer; the rows cycle through the genes.

Measured (wall clock, :func:`time.perf_counter`; ``--repeat`` interleaved rounds, min / median / max):

* ``driver_plan_s`` (**the target**): what ``submit`` does in the driver before Ray starts:
  :func:`seqbench.runtime.submit.input_identity` (the inputs' identity for the job's hash),
  :func:`seqbench.runtime.submit.plan_job` (check the inputs, describe the model, resolve the
  tracks, ``multiplicativity.expand``: read and check the table, the design table, the builder)
  and writing ``design.parquet``;
* ``build_all_constructs_s``: ``design.build(i)`` for every construct id in this one process,
  each construct dropped once made (``--keep`` holds them all, the worst case).  In a job this work
  is done shard by shard inside the materialize tasks, in parallel over the workers, and is part
  of ``bench_materialize``'s per-window cost; reported as ``build_constructs_per_s`` (one core);
* memory: the peak of Python allocations (:mod:`tracemalloc`, in a separate pass after the timed
  rounds because tracing slows Python down) of the driver's planning and of building every
  construct, and the process's peak resident set size (``resource.getrusage``, interpreter and
  imports included).

Target (issue): the driver's planning < 5 s and < 1 GB (its traced peak and the process's peak
RSS).  Prints one line of JSON.

Usage: ``python benchmarks/bench_plan.py [--promoters 89 --enhancers 115 --backgrounds 32] [--repeat 3] [--keep]``
"""

from __future__ import annotations

import argparse
import gc
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from _common import bench_cache_dir, demo_spec, emit, interleave, machine, setup_path, spread

TARGET_S = 5.0
TARGET_BYTES = 1 << 30


def candidate_rows(n_prom: int, n_enh: int, n_bg: int, chrom_lengths: dict[str, int]) -> list[dict]:
    """Rows of a consistent candidate table (see the module docstring), for the planted model's
    (Enformer's) geometry."""
    from seqbench.models.base import ENFORMER_GEOMETRY as G

    HALF_WINDOW, OFFSET, BIN = G.sequence_length // 2, G.offset, G.bin_size  # noqa: N806
    chroms = list(chrom_lengths)
    per_chrom = -(-n_prom // len(chroms))
    room = min(chrom_lengths.values()) - 2 * (HALF_WINDOW + 4_000)
    spacing = max(BIN, (room // max(per_chrom, 1)) // BIN * BIN)
    rows = []
    for k in range(n_enh):
        g = k % n_prom
        chrom = chroms[g % len(chroms)]
        tss_start = HALF_WINDOW + 4_096 + (g // len(chroms)) * spacing  # main_tss_start, 0-based
        distance = 5_000 + 3_000 * (k // n_prom)  # enhancer midpoint - TSS bin centre
        mid = tss_start + BIN // 2 + distance
        seq_start = tss_start - HALF_WINDOW
        rows.append(
            {
                "ziga_key": f"bench_{k:05d}",
                "gene": f"GENE{g}",
                "chromosome": chrom,
                "main_tss_start": tss_start,
                "main_tss_end": tss_start + BIN,
                "main_tss_bin": (tss_start + BIN // 2 - seq_start - OFFSET) // BIN,
                "fix_enhancer_wide_start": mid - 1_000,
                "fix_enhancer_wide_end": mid + 1_000,
                "sequence_start": seq_start,
                "sequence_end": seq_start + 2 * HALF_WINDOW,
                "test_location": k < n_bg,
            }
        )
    return rows


def write_table(path: Path, rows: list[dict]) -> None:
    columns = list(rows[0])  # the layout of in_silico_candidate_locs.tsv that expand reads
    lines = ["\t".join(columns)]
    lines += ["\t".join(str(r[c]) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n")


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promoters", type=int, default=89)
    parser.add_argument("--enhancers", type=int, default=115)
    parser.add_argument("--backgrounds", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--keep", action="store_true", help="hold every construct in memory (worst case)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced pass")
    args = parser.parse_args(argv)
    if min(args.promoters, args.enhancers, args.backgrounds, args.repeat) < 1:
        parser.error("--promoters, --enhancers, --backgrounds and --repeat must be >= 1")
    if not args.promoters <= args.enhancers or args.backgrounds > args.enhancers:
        parser.error("the table has one row per enhancer: need promoters <= enhancers and backgrounds <= enhancers")

    setup_path()
    from seqbench.genome import Genome
    from seqbench.runtime.submit import input_identity, plan_job

    cache = bench_cache_dir()
    rss_start = max_rss_bytes()
    with tempfile.TemporaryDirectory(prefix="seqbench-bench-plan-") as tmp:
        table = Path(tmp) / "in_silico_candidate_locs.tsv"
        base = demo_spec(cache)
        genome = Genome(base.fasta)
        rows = candidate_rows(args.promoters, args.enhancers, args.backgrounds, genome.lengths)
        write_table(table, rows)
        spec = demo_spec(cache, {"inputs": {"candidates": str(table)}})
        state: dict = {}

        def driver_plan() -> float:
            """submit's planning in the driver (see the module docstring)."""
            t0 = time.perf_counter()
            input_identity(spec)
            plan = plan_job(spec)
            plan.design.table.to_parquet(Path(tmp) / "design.parquet", index=False)
            state["design"] = plan.design
            return time.perf_counter() - t0

        def build_all() -> float:
            design = state["design"]
            build = design.build
            t0 = time.perf_counter()
            if args.keep:
                state["held"] = [build(i) for i in range(design.n_constructs)]
            else:
                for i in range(design.n_constructs):
                    build(i)
            elapsed = time.perf_counter() - t0
            state.pop("held", None)
            return elapsed

        driver_plan()  # imports and the genome index warm, so that no round pays them alone
        gc.collect()
        got = interleave({"driver_plan": driver_plan, "build_all": build_all}, args.repeat)
        design = state["design"]
        n = design.n_constructs
        expected = args.promoters * args.enhancers * args.backgrounds
        if n != expected:
            raise SystemExit(f"the synthetic table expanded to {n} constructs, expected {expected}")
        last = design.build(n - 1)
        rss_peak = max_rss_bytes()

        traced: dict[str, float | None] = {"driver_plan": None, "build_all": None}
        if not args.no_tracemalloc:
            for name, fn in (("driver_plan", driver_plan), ("build_all", build_all)):
                state.pop("held", None)
                gc.collect()
                tracemalloc.start()
                fn()
                traced[name] = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
            rss_peak = max(rss_peak, max_rss_bytes())
        state.clear()

    plan_s, build_s = spread(got["driver_plan"]), spread(got["build_all"])
    plan_mb = traced["driver_plan"]
    mem_ok = rss_peak < TARGET_BYTES and (plan_mb is None or plan_mb * 2**20 < TARGET_BYTES)
    record = {
        "name": "plan",
        "constructs": n,
        "promoters": args.promoters,
        "enhancers": args.enhancers,
        "backgrounds": args.backgrounds,
        "kept_constructs": args.keep,
        "rounds": args.repeat,
        "driver_plan_s": plan_s,
        "build_all_constructs_s": build_s,
        "build_constructs_per_s": spread([n / s for s in got["build_all"]], 1),
        "driver_plan_traced_peak_mb": None if plan_mb is None else round(plan_mb, 1),
        "build_all_traced_peak_mb": None if traced["build_all"] is None else round(traced["build_all"], 1),
        "process_peak_rss_mb": round(rss_peak / 2**20, 1),
        "process_rss_mb_at_start": round(rss_start / 2**20, 1),
        "last_construct": last.key,
        "target": f"driver planning < {TARGET_S:g} s and < 1 GB",
        "pass": bool(plan_s["median"] < TARGET_S and mem_ok),
        "headline": {
            "driver plan s": plan_s["median"],
            "build all constructs s (1 core)": build_s["median"],
            "plan traced MB": None if plan_mb is None else round(plan_mb),
            "peak RSS MB": round(rss_peak / 2**20),
        },
        **machine(),
    }
    emit(record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
