"""Time the multiplicativity reduce on a synthetic prediction table of the paper's size.

The default table is 89 promoters x 115 enhancers x 32 backgrounds = 327,520 rows (spec §9.2),
one row per combination, built from a seeded generator (``numpy.random.default_rng(seed)``):

* log2-scale signal ``s = a_promoter + e_enhancer + b_background`` (promoter strengths spread
  widely, most enhancers weak and a few strong, backgrounds moderate);
* plus an enhancer x background interaction and a smaller promoter x enhancer interaction;
* ``y = log2(2**s + 1) + noise``, so the floor at ``log2(1) = 0`` bends the weakest combinations as
  the model's ``log2(CAGE + 1)`` does.

``reduce_multiplicativity`` runs with its default sequential ``map_fn`` (the target is < 30 s on
2 cores).  Prints one JSON line: sizes, the build time, every repeat's reduce time (seconds, wall
clock, :func:`time.perf_counter`) and the headline R².

Usage: ``python benchmarks/bench_reduce.py [--promoters 89 --enhancers 115 --backgrounds 32
--seed 0 --repeat 1]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _ids(rng: np.random.Generator, count: int, width: int, chroms: int = 22) -> list[str]:
    """``count`` distinct ``chr:start-end`` ids (0-based, half-open) of ``width`` bp."""
    chrom = rng.integers(1, chroms + 1, size=count)
    start = rng.choice(200_000_000 // width, size=count, replace=False) * width
    return [f"chr{c}:{s}-{s + width}" for c, s in zip(chrom, start, strict=True)]


def synthetic_combos(n_prom: int, n_enh: int, n_loc: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """The synthetic table ``location_key, promoter_id, enhancer_id, y`` and a ``ko`` series."""
    rng = np.random.default_rng(seed)
    promoters = _ids(rng, n_prom, 1000)
    enhancers = _ids(rng, n_enh, 2000)
    locations = _ids(rng, n_loc, 196_608)
    a = rng.normal(3.0, 2.0, n_prom)  # promoter strength, log2
    strong = rng.random(n_enh) < 0.15
    e = np.where(strong, rng.normal(1.5, 0.7, n_enh), rng.normal(0.1, 0.2, n_enh))  # enhancer, log2
    b = rng.normal(0.0, 1.0, n_loc)  # background, log2
    g_el = rng.normal(0.0, 0.25, (n_enh, n_loc))  # enhancer x background
    g_pe = rng.normal(0.0, 0.1, (n_prom, n_enh))  # promoter x enhancer

    k, i, j = np.meshgrid(np.arange(n_loc), np.arange(n_prom), np.arange(n_enh), indexing="ij")
    k, i, j = k.ravel(), i.ravel(), j.ravel()
    s = a[i] + e[j] + b[k] + g_el[j, k] + g_pe[i, j]
    y = np.log2(np.exp2(s) + 1.0) + rng.normal(0.0, 0.1, s.size)
    combos = pd.DataFrame(
        {
            "location_key": np.asarray(locations, dtype=object)[k],
            "promoter_id": np.asarray(promoters, dtype=object)[i],
            "enhancer_id": np.asarray(enhancers, dtype=object)[j],
            "y": y,
        }
    )
    ko = pd.Series(-e + rng.normal(0.0, 0.3, n_enh), index=enhancers, name="log2_fc_pred")
    return combos, ko


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promoters", type=int, default=89)
    parser.add_argument("--enhancers", type=int, default=115)
    parser.add_argument("--backgrounds", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="times to run the reduce (all are reported)")
    args = parser.parse_args(argv)
    if min(args.promoters, args.enhancers, args.backgrounds) < 2 or args.repeat < 1:
        parser.error("--promoters/--enhancers/--backgrounds must be >= 2 and --repeat >= 1")

    repo_root = str(Path(__file__).resolve().parents[1])
    if repo_root not in sys.path:
        sys.path.insert(0, repo_root)  # run from a checkout without installing
    from seqbench.experiments.multiplicativity.stats import reduce_multiplicativity

    t0 = time.perf_counter()
    combos, ko = synthetic_combos(args.promoters, args.enhancers, args.backgrounds, args.seed)
    build_s = time.perf_counter() - t0
    times = []
    summary: dict = {}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        results = reduce_multiplicativity(combos, ko)
        times.append(round(time.perf_counter() - t0, 3))
        summary = results.summary()
    record = {
        "benchmark": "reduce_multiplicativity",
        "n_rows": int(len(combos)),
        "promoters": args.promoters,
        "enhancers": args.enhancers,
        "backgrounds": args.backgrounds,
        "seed": args.seed,
        "build_s": round(build_s, 3),
        "reduce_s": times,
        "reduce_s_min": min(times),
        "r2_whole_multiplicative": summary["r2_whole_multiplicative"],
        "r2_background_multiplicative_median": summary["r2_background_multiplicative_median"],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
