"""Knock-down materialization: 393,216-bp windows per CPU-second, beside multiplicativity's.

The constructs are the embedded knock-down demo design (per gene window: the reference, then per
pair the N-replacement and ``--shuffles`` shuffles of its 2-kb window), built by the design's own
builder and materialized in gene-major shards of ``--shard-size`` with
:func:`seqbench.predict.materialize_shard` as the runtime does (``count_ambiguous``, the window
length of the model); the multiplicativity demo constructs the same way.  One warm
:class:`~seqbench.genome.Genome` each (chromosomes decoded before any timing); passes of the two
designs taken in turn (``_common.interleave``, ``--repeat`` rounds).  Rates are in CPU seconds of
this single-threaded process (``windows_per_cpu_s``; wall-clock beside them: on a shared machine
the wall clock mostly measures the neighbours); ``knockdown_over_multiplicativity`` is the
per-round ratio of the two rates, min / median / max.

History: a per-shard cache of the reference block (``reuse_reference``, ``ReuseReader``) was
measured here interleaved against reading every piece from the genome and did not pay (CPU-time
speed-up 0.944, range 0.664-1.369, on knock-down; 0.937 on multiplicativity; 5 rounds), because
:class:`~seqbench.genome.Genome` already serves slices of cached chromosomes; it was removed with
the windows byte-identical (sha256 of every demo shard before and after).

Target: >= 1,000 windows per CPU-second (as ``bench_materialize``) for the knock-down shards.
Prints one line of JSON.

Usage: ``python benchmarks/bench_knockdown.py [--repeat 5] [--shard-size 32] [--shuffles 25]``
"""

from __future__ import annotations

import argparse

from _common import bench_cache_dir, demo_spec, emit, interleave, machine, ratios, setup_path, spread, timed_both

TARGET = 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--shard-size", type=int, default=32)
    parser.add_argument("--shuffles", type=int, default=25)
    args = parser.parse_args(argv)
    if min(args.repeat, args.shard_size, args.shuffles) < 1:
        parser.error("--repeat, --shard-size and --shuffles must be >= 1")
    setup_path()
    from seqbench.demo.synthetic import ensure_demo
    from seqbench.experiments.enhancer_knockdown import demo as kd_demo
    from seqbench.experiments.enhancer_knockdown import design as kd
    from seqbench.experiments.multiplicativity import design as mx
    from seqbench.genome import Genome
    from seqbench.predict import materialize_shard
    from seqbench.spec import deep_merge, parse_spec

    cache = bench_cache_dir()
    layout = ensure_demo(cache)
    raw = deep_merge(kd_demo.demo_spec(layout.root), {"inputs": {"shuffles": args.shuffles}})
    kspec = parse_spec(raw, origin="benchmark", base_dir=layout.root)
    mspec = demo_spec(cache)
    geometry = mspec.model.declared_geometry  # the planted model: Enformer's 393,216-bp input
    passes, sizes = {}, {}
    for label, spec, module in (("knockdown", kspec, kd), ("multiplicativity", mspec, mx)):
        genome = Genome(spec.fasta, cache_bytes=1 << 30)  # as materialize_task opens it
        design = module.expand(spec, genome, geometry)
        ids = list(range(design.n_constructs))
        built = [(k, ids[k : k + args.shard_size], design.constructs(ids[k : k + args.shard_size]))
                 for k in range(0, len(ids), args.shard_size)]

        def run(spec=spec, genome=genome, built=built) -> None:
            for k, s, cs in built:
                materialize_shard(k, s, cs, genome.read_padded, geometry, spec.ensemble,
                                  count_ambiguous=genome.ambiguous_count, window_length=geometry.sequence_length)

        run()  # warm: every chromosome decoded
        passes[label] = lambda run=run: timed_both(run)
        sizes[label] = len(ids)
    got = interleave(passes, args.repeat)
    record: dict = {}
    cpu_rates = {}
    for label, n in sizes.items():
        cpu_rates[label] = [n / c for _, c in got[label]]
        record[label] = {
            "constructs": n,
            "windows_per_cpu_s": spread(cpu_rates[label], 1),
            "windows_per_s_wall": spread([n / w for w, _ in got[label]], 1),
        }
    rate = record["knockdown"]["windows_per_cpu_s"]["median"]
    rel = ratios(cpu_rates["knockdown"], cpu_rates["multiplicativity"])
    emit({
        "name": "knockdown_materialize",
        "shuffles": args.shuffles,
        "shard_size": args.shard_size,
        "rounds": args.repeat,
        **record,
        "knockdown_over_multiplicativity": rel,
        "target": f">= {TARGET:,.0f} windows per CPU-second (as bench_materialize)",
        "pass": bool(rate >= TARGET),
        "headline": {
            "knockdown windows/CPU-s": round(rate),
            "multiplicativity windows/CPU-s": round(record["multiplicativity"]["windows_per_cpu_s"]["median"]),
            "kd/mx (min-max)": f"{rel['median']} ({rel['min']}-{rel['max']})",
        },
        **machine(),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
