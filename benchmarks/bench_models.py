"""Each planted twin through its kind's adapter: forward passes per second, and what one shared
materialization saves a job of several models of one input length.

Prints one line of JSON.  Run: ``python benchmarks/bench_models.py [--inputs 64] [--repeat 3]``.

* ``passes_per_s``: random inputs of each twin's length through ``model.predict`` at its kind's
  batch size (the best of ``--repeat`` warm passes), on this machine's CPUs; the rates the plan
  estimates use for the twins (``seqbench/estimate.py``).
* ``shared_materialization``: the demo's multiplicativity constructs materialized once for
  Basenji2's and Basenji1's twins together (one group: both read 131,072-bp windows) against once
  per model: like for like, the same constructs, geometry and ensemble, in interleaved rounds
  (``--repeat``); the per-round ratio (min / median / max) is the time saved.
"""

from __future__ import annotations

import argparse
import time

from _common import bench_cache_dir, demo_spec, emit, interleave, machine, ratios, setup_path, spread

KINDS = ("planted", "planted-v2", "planted-basenji2", "planted-basenji1", "planted-xpresso")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=64, help="inputs per timed pass")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS, help="twins to time")
    args = parser.parse_args(argv)
    setup_path()
    import numpy as np

    from seqbench.experiments.multiplicativity import design as mx
    from seqbench.genome import Genome
    from seqbench.models.registry import ModelSpec, describe, load_model
    from seqbench.predict import materialize_shard

    cache = bench_cache_dir()
    rng = np.random.default_rng(0)
    rates = {}
    for kind in args.kinds:
        model = load_model(ModelSpec(kind=kind), cache)
        g = model.geometry
        codes = rng.integers(0, 4, (args.inputs, g.sequence_length), dtype=np.uint8)
        k = 1 if g.scalar else 3
        centre = 0 if g.scalar else g.bin_of(g.sequence_length // 2)
        bins = np.full((args.inputs, k), centre, np.int32) + (np.arange(k, dtype=np.int32) - k // 2) * (not g.scalar)
        tracks = np.zeros(1, np.int32)
        model.predict(codes[: model.batch_size], bins[: model.batch_size], tracks)  # warm
        best = min(_timed(lambda m=model, c=codes, b=bins, t=tracks: m.predict(c, b, t)) for _ in range(args.repeat))
        rates[kind] = round(args.inputs / best, 1)

    spec = demo_spec(cache)
    genome = Genome(spec.fasta)
    b2 = describe(ModelSpec(kind="planted-basenji2"), cache)[1]
    b1 = describe(ModelSpec(kind="planted-basenji1"), cache)[1]
    design = mx.expand(spec, genome, spec.model.declared_geometry)
    ids = list(range(design.n_constructs))
    constructs = design.constructs(ids)
    ens = spec.ensemble
    window = spec.model.declared_geometry.sequence_length

    def once() -> float:
        return _timed(lambda: materialize_shard(0, ids, constructs, genome.read_padded, b2, ens,
                                                window_length=window, also=(b1,)))

    def per_model() -> float:
        return _timed(lambda: [materialize_shard(0, ids, constructs, genome.read_padded, g, ens,
                                                 window_length=window) for g in (b2, b1)])

    once()  # the chromosome cache filled
    got = interleave({"shared": once, "per_model": per_model}, args.repeat)
    rel = ratios(got["shared"], got["per_model"])
    emit({
        "name": "models",
        "passes_per_s": rates,
        "constructs": len(ids),
        "materialize_shared_s": spread(got["shared"]),
        "materialize_per_model_s": spread(got["per_model"]),
        "shared_vs_per_model": rel,
        "machine": machine(),
        "target": "one materialization per input length: shared_vs_per_model about 0.5 for two models (median)",
        "pass": bool(rel["median"] < 0.7),
        "headline": {**{f"{k} passes/s": v for k, v in rates.items()},
                     "shared/per-model materialize": rel["median"]},
    })
    return 0


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    raise SystemExit(main())
