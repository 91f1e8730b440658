"""Planning at paper scale: expand the multiplicativity design and build every construct once.

A synthetic candidate table with ``--promoters`` unique TSSs, ``--enhancers`` unique enhancer
windows and ``--backgrounds`` test locations (default 89 x 115 x 32 = 327,520 constructs, the
paper's design, spec §9.2) is written on the demo genome's chromosomes.  Its coordinates pass
every check of :func:`seqbench.experiments.multiplicativity.design.load_candidates` and ``expand``:
128-bp TSS bins, 393,216-bp model windows whose ``main_tss_bin`` matches the TSS, a 2-kb
enhancer window 5 kb or more from its TSS (so promoter and enhancer windows never overlap).
One row per enhancer; the rows cycle through the genes.

Measured (wall clock, :func:`time.perf_counter`):

* ``expand_s``: ``multiplicativity.expand`` (read and check the table, the design table, the builder);
* ``build_s``: ``design.build(i)`` for every construct id, each construct dropped after it is made
  (as the runtime builds shard by shard); with ``--keep`` all are held in a list instead;
* ``design_parquet_s``: writing the design table as ``submit`` does (reported, not in the target);
* memory: the peak of Python allocations during expand + build (:mod:`tracemalloc`, in a second,
  separately run pass because tracing slows Python down) and the process's peak resident set
  size (``resource.getrusage``, interpreter and imports included).

Target (issue): expand + build < 5 s and peak memory < 1 GB (both the traced peak and the
process's peak RSS).  Prints one line of JSON.

Usage: ``python benchmarks/bench_plan.py [--promoters 89 --enhancers 115 --backgrounds 32] [--keep]``
"""

from __future__ import annotations

import argparse
import gc
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from _common import bench_cache_dir, demo_spec, emit, machine, setup_path

from seqbench.models.base import ENFORMER_GEOMETRY

TARGET_S = 5.0
TARGET_BYTES = 1 << 30

HALF_WINDOW = 196_608  # half of the 393,216-bp model input
OFFSET = 139_264  # first output bin, bp into the input


def candidate_rows(n_prom: int, n_enh: int, n_bg: int, chrom_lengths: dict[str, int]) -> list[dict]:
    """Rows of a consistent candidate table (see the module docstring)."""
    chroms = list(chrom_lengths)
    per_chrom = -(-n_prom // len(chroms))
    room = min(chrom_lengths.values()) - 2 * (HALF_WINDOW + 4_000)
    spacing = max(128, (room // max(per_chrom, 1)) // 128 * 128)
    rows = []
    for k in range(n_enh):
        g = k % n_prom
        chrom = chroms[g % len(chroms)]
        tss_start = HALF_WINDOW + 4_096 + (g // len(chroms)) * spacing  # main_tss_start, 0-based
        distance = 5_000 + 3_000 * (k // n_prom)  # enhancer midpoint - TSS bin centre
        mid = tss_start + 64 + distance
        seq_start = tss_start - HALF_WINDOW
        rows.append(
            {
                "ziga_key": f"bench_{k:05d}",
                "gene": f"GENE{g}",
                "chromosome": chrom,
                "main_tss_start": tss_start,
                "main_tss_end": tss_start + 128,
                "main_tss_bin": (tss_start + 64 - seq_start - OFFSET) // 128,
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
    parser.add_argument("--keep", action="store_true", help="hold every construct in memory (worst case)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced pass")
    args = parser.parse_args(argv)
    if min(args.promoters, args.enhancers, args.backgrounds) < 1:
        parser.error("--promoters, --enhancers and --backgrounds must be >= 1")
    if not args.promoters <= args.enhancers or args.backgrounds > args.enhancers:
        parser.error("the table has one row per enhancer: need promoters <= enhancers and backgrounds <= enhancers")

    setup_path()
    from seqbench.experiments.multiplicativity import design as mx
    from seqbench.genome import Genome

    cache = bench_cache_dir()
    rss_start = max_rss_bytes()
    with tempfile.TemporaryDirectory(prefix="seqbench-bench-plan-") as tmp:
        table = Path(tmp) / "in_silico_candidate_locs.tsv"
        base = demo_spec(cache)
        genome = Genome(base.fasta)
        rows = candidate_rows(args.promoters, args.enhancers, args.backgrounds, genome.lengths)
        write_table(table, rows)
        spec = demo_spec(cache, {"inputs": {"candidates": str(table)}})

        def plan(keep: bool) -> tuple[float, float, object, list]:
            t0 = time.perf_counter()
            design = mx.expand(spec, genome, ENFORMER_GEOMETRY)
            t1 = time.perf_counter()
            build = design.build
            held = []
            if keep:
                held = [build(i) for i in range(design.n_constructs)]
            else:
                for i in range(design.n_constructs):
                    build(i)
            t2 = time.perf_counter()
            return t1 - t0, t2 - t1, design, held

        gc.collect()
        expand_s, build_s, design, held = plan(args.keep)
        n = design.n_constructs
        expected = args.promoters * args.enhancers * args.backgrounds
        if n != expected:
            raise SystemExit(f"the synthetic table expanded to {n} constructs, expected {expected}")
        last = design.build(n - 1)
        t0 = time.perf_counter()
        design.table.to_parquet(Path(tmp) / "design.parquet", index=False)
        parquet_s = time.perf_counter() - t0
        rss_peak = max_rss_bytes()
        del design, held

        traced_peak = None
        if not args.no_tracemalloc:
            gc.collect()
            tracemalloc.start()
            _, _, design, held = plan(args.keep)
            traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            del design, held
            rss_peak = max(rss_peak, max_rss_bytes())

    total_s = expand_s + build_s
    mem_ok = rss_peak < TARGET_BYTES and (traced_peak is None or traced_peak < TARGET_BYTES)
    record = {
        "name": "plan",
        "constructs": n,
        "promoters": args.promoters,
        "enhancers": args.enhancers,
        "backgrounds": args.backgrounds,
        "kept_constructs": args.keep,
        "expand_s": round(expand_s, 3),
        "build_s": round(build_s, 3),
        "expand_plus_build_s": round(total_s, 3),
        "build_constructs_per_s": round(n / build_s, 1),
        "design_parquet_s": round(parquet_s, 3),
        "traced_peak_mb": None if traced_peak is None else round(traced_peak / 2**20, 1),
        "process_peak_rss_mb": round(rss_peak / 2**20, 1),
        "process_rss_mb_at_start": round(rss_start / 2**20, 1),
        "last_construct": last.key,
        "target": f"expand + build < {TARGET_S:g} s and peak memory < 1 GB",
        "pass": bool(total_s < TARGET_S and mem_ok),
        "headline": {
            "expand+build s": round(total_s, 2),
            "traced MB": None if traced_peak is None else round(traced_peak / 2**20),
            "peak RSS MB": round(rss_peak / 2**20),
        },
        **machine(),
    }
    emit(record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
