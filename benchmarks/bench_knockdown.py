"""Knock-down materialization: 393,216-bp windows per second, with and without per-shard reference reuse.

The constructs are the embedded knock-down demo design (per gene window: the reference, then per
pair the N-replacement and the shuffles of its 2-kb window), built by the design's own builder and
materialized in gene-major shards with :func:`seqbench.predict.materialize_shard`, once with
``reuse_reference=True`` (a :class:`~seqbench.predict.ReuseReader` per shard: the reference block
is fetched once per shard) and once without; the multiplicativity demo constructs the same way,
for the figure beside them.  Like with like: the same built constructs, one warm
:class:`~seqbench.genome.Genome` (chromosomes decoded before any timing), passes with and without
reuse taken in turn (``_common.interleave``, ``--repeat`` rounds); each ratio reuse ÷ no reuse is
the min / median / max over rounds of adjacent passes, in CPU seconds of this (single-threaded)
process (``reuse_speedup``; the wall-clock one, ``reuse_speedup_wall``, is reported beside it: on a
shared machine it mostly measures the neighbours).  The windows of both are checked
byte-identical.  Prints one line of JSON.

Target: >= 1,000 windows/s/core (as ``bench_materialize``) for the knock-down shards as the
runtime materializes them; the reuse ratio is reported (it pays only if its median is above 1).

Usage: ``python benchmarks/bench_knockdown.py [--repeat 5] [--shard-size 32] [--shuffles 25]``
"""

from __future__ import annotations

import argparse

from _common import bench_cache_dir, demo_spec, emit, interleave, machine, ratios, setup_path, spread, timed_both


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--shard-size", type=int, default=32)
    parser.add_argument("--shuffles", type=int, default=25)
    args = parser.parse_args(argv)
    setup_path()
    import numpy as np

    from seqbench.demo.synthetic import ensure_demo
    from seqbench.experiments.enhancer_knockdown import demo as kd_demo
    from seqbench.experiments.enhancer_knockdown import design as kd
    from seqbench.experiments.multiplicativity import design as mx
    from seqbench.genome import Genome
    from seqbench.models.base import ENFORMER_GEOMETRY
    from seqbench.predict import materialize_shard
    from seqbench.spec import deep_merge, parse_spec

    cache = bench_cache_dir()
    layout = ensure_demo(cache)
    raw = deep_merge(kd_demo.demo_spec(layout.root), {"inputs": {"shuffles": args.shuffles}})
    kspec = parse_spec(raw, origin="benchmark", base_dir=layout.root)
    mspec = demo_spec(cache)
    geometry = ENFORMER_GEOMETRY
    record: dict = {}
    for label, spec, module in (("knockdown", kspec, kd), ("multiplicativity", mspec, mx)):
        genome = Genome(spec.fasta)
        design = module.expand(spec, genome, geometry)
        ids = list(range(design.n_constructs))
        built = [(k, ids[k : k + args.shard_size], design.constructs(ids[k : k + args.shard_size]))
                 for k in range(0, len(ids), args.shard_size)]

        def run(reuse: bool, spec=spec, genome=genome, built=built) -> list:
            return [materialize_shard(k, s, cs, genome.read_padded, geometry, spec.ensemble, reuse_reference=reuse)
                    for k, s, cs in built]

        a, b = run(True), run(False)  # warm (every chromosome decoded) and the windows compared
        if not all(np.array_equal(x.windows, y.windows) for x, y in zip(a, b, strict=True)):
            raise SystemExit(f"{label}: windows with and without reuse differ")
        got = interleave({"reuse": lambda run=run: timed_both(lambda: run(True)),
                          "no_reuse": lambda run=run: timed_both(lambda: run(False))}, args.repeat)
        n = len(ids)
        wall = {k: [w for w, _ in v] for k, v in got.items()}
        cpu = {k: [c for _, c in v] for k, v in got.items()}
        record[label] = {
            "constructs": n,
            "windows_per_s_reuse": spread([n / s for s in wall["reuse"]], 1),
            "windows_per_s_no_reuse": spread([n / s for s in wall["no_reuse"]], 1),
            "windows_per_cpu_s_reuse": spread([n / s for s in cpu["reuse"]], 1),
            "windows_per_cpu_s_no_reuse": spread([n / s for s in cpu["no_reuse"]], 1),
            # time without ÷ time with = rate with ÷ rate without: > 1 when reuse pays
            "reuse_speedup_wall": ratios(wall["no_reuse"], wall["reuse"]),
            "reuse_speedup": ratios(cpu["no_reuse"], cpu["reuse"]),
        }
    kdr = record["knockdown"]
    rate = kdr["windows_per_cpu_s_reuse"]["median"]  # one core: CPU seconds; as the runtime does (reuse on)
    emit({
        "name": "knockdown_materialize",
        "shuffles": args.shuffles,
        "shard_size": args.shard_size,
        "rounds": args.repeat,
        **record,
        "target": ">= 1,000 windows/s/core (as bench_materialize)",
        "pass": bool(rate >= 1000),
        "headline": {
            "knockdown windows/s": round(rate),
            "reuse speedup kd (min-max)": f"{kdr['reuse_speedup']['median']} ({kdr['reuse_speedup']['min']}-"
                                          f"{kdr['reuse_speedup']['max']})",
            "reuse speedup mx": record["multiplicativity"]["reuse_speedup"]["median"],
        },
        **machine(),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
