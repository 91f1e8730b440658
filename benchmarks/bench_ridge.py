"""Ridge matching: every condition in one multi-target RidgeCV vs one RidgeCV per condition.

tissue-expression fits StandardScaler + RidgeCV per GTEx tissue (54) and per Cardoso-Moreira sample
(~300) on the same genes and the same 635 CAGE features.  Like with like: the same seeded X
(``--genes`` x ``--features``, log-normal-ish) and Y (``--conditions`` columns), fitted by
:func:`seqbench.stats.ridge.fit_ridge_match` once per condition and by
:func:`seqbench.stats.ridge.fit_ridge_matches` once for all; the coefficients are checked equal.
Reported: seconds of each (best of ``--repeat``) and their ratio.  Target: the multi-target fit at
least 3x faster at the default size.

Usage: ``python benchmarks/bench_ridge.py [--genes 4000] [--features 635] [--conditions 16] [--repeat 2]``
"""

from __future__ import annotations

import argparse
import time

from _common import emit, machine, setup_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=4000)
    ap.add_argument("--features", type=int, default=635)
    ap.add_argument("--conditions", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    setup_path()
    import numpy as np

    from seqbench.stats.ridge import fit_ridge_match, fit_ridge_matches

    rng = np.random.default_rng(5)
    X = np.log10(rng.lognormal(0.0, 1.0, size=(args.genes, args.features)) + 1.0)
    W = rng.normal(size=(args.features, args.conditions)) / np.sqrt(args.features)
    Y = X @ W + rng.normal(scale=0.3, size=(args.genes, args.conditions))
    names = [f"f{j}" for j in range(args.features)]
    conds = [f"c{j}" for j in range(args.conditions)]
    loop, multi = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        one = [fit_ridge_match(X, Y[:, j], names, condition=c) for j, c in enumerate(conds)]
        loop.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        many = fit_ridge_matches(X, Y, names, conds)
        multi.append(time.perf_counter() - t0)
    worst = max(float(np.max(np.abs(np.asarray(a.coef) - np.asarray(b.coef)))) for a, b in zip(one, many, strict=True))
    ratio = min(loop) / min(multi)
    emit({
        "name": "ridge", "genes": args.genes, "features": args.features, "conditions": args.conditions,
        "loop_s": min(loop), "multi_s": min(multi), "speedup": ratio, "max_coef_diff": worst,
        "target": "multi-target fit >= 3x faster than one fit per condition", "pass": bool(ratio >= 3.0),
        "headline": {"loop s": round(min(loop), 2), "multi s": round(min(multi), 2), "speedup": round(ratio, 1)},
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
