"""Knock-down materialization: 393,216-bp windows per second, with and without per-shard reference reuse.

The constructs are the embedded knock-down demo design (per gene window: the reference, then per
pair the N-replacement and the shuffles of its 2-kb window), built by the design's own builder and
materialized in gene-major shards with :func:`seqbench.predict.materialize_shard`, once with
``reuse_reference=True`` (a :class:`~seqbench.predict.ReuseReader` per shard: the reference block
is fetched once per shard) and once without.  The multiplicativity demo constructs are
materialized the same way, for the figure beside them.  Warm passes (chromosomes decoded), best of
``--repeat``.  Prints one line of JSON.

Usage: ``python benchmarks/bench_knockdown.py [--repeat 3] [--shard-size 32] [--shuffles 25]``
"""

from __future__ import annotations

import argparse
import time

from _common import bench_cache_dir, demo_spec, emit, machine, setup_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shard-size", type=int, default=32)
    parser.add_argument("--shuffles", type=int, default=25)
    args = parser.parse_args(argv)
    setup_path()
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
    ens = kspec.ensemble
    geometry = ENFORMER_GEOMETRY

    def rate(spec, module, reuse: bool) -> tuple[float, int]:
        genome = Genome(spec.fasta)
        design = module.expand(spec, genome, ENFORMER_GEOMETRY)
        ids = list(range(design.n_constructs))
        shards = [(k, ids[k : k + args.shard_size]) for k in range(0, len(ids), args.shard_size)]
        built = [(k, s, design.constructs(s)) for k, s in shards]
        for k, s, cs in built:  # warm the chromosome cache
            materialize_shard(k, s, cs, genome.read_padded, geometry, ens, reuse_reference=reuse)
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            for k, s, cs in built:
                materialize_shard(k, s, cs, genome.read_padded, geometry, ens, reuse_reference=reuse)
            best = min(best, time.perf_counter() - t)
        return len(ids) / best, len(ids)

    kd_reuse, n_kd = rate(kspec, kd, True)
    kd_plain, _ = rate(kspec, kd, False)
    mx_reuse, n_mx = rate(mspec, mx, True)
    mx_plain, _ = rate(mspec, mx, False)
    emit(
        {
            "name": "knockdown_materialize",
            "knockdown_constructs": n_kd,
            "shuffles": args.shuffles,
            "shard_size": args.shard_size,
            "knockdown_windows_per_s_reuse": round(kd_reuse, 1),
            "knockdown_windows_per_s_no_reuse": round(kd_plain, 1),
            "multiplicativity_constructs": n_mx,
            "multiplicativity_windows_per_s_reuse": round(mx_reuse, 1),
            "multiplicativity_windows_per_s_no_reuse": round(mx_plain, 1),
            "target": ">= 1,000 windows/s/core (as bench_materialize)",
            "pass": bool(kd_reuse >= 1000),
            "headline": {
                "knockdown reuse/s": round(kd_reuse),
                "knockdown no reuse/s": round(kd_plain),
                "multiplicativity reuse/s": round(mx_reuse),
                "multiplicativity no reuse/s": round(mx_plain),
            },
            **machine(),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
