"""Ridge matching: every condition in one multi-target RidgeCV vs one RidgeCV per condition.

tissue-expression fits StandardScaler + RidgeCV per GTEx tissue (54) and per Cardoso-Moreira sample
(~300) on the same genes and the same 635 CAGE features.  Like with like: the same seeded X
(``--genes`` x ``--features``, log-normal-ish) and Y (``--conditions`` columns), fitted by
:func:`seqbench.stats.ridge.fit_ridge_match` once per condition and by
:func:`seqbench.stats.ridge.fit_ridge_matches` once for all; the coefficients are checked equal.
Reported: seconds of each and their per-round ratio over ``--repeat`` interleaved rounds
(min / median / max).  Target: the multi-target fit at
least 3x faster at the default size.

Usage: ``python benchmarks/bench_ridge.py [--genes 4000] [--features 635] [--conditions 16] [--repeat 2]``
"""

from __future__ import annotations

import argparse

from _common import emit, interleave, machine, ratios, setup_path, spread, timed


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
    fits: dict = {}

    def loop() -> float:
        return timed(lambda: fits.__setitem__("one", [fit_ridge_match(X, Y[:, j], names, condition=c)
                                                      for j, c in enumerate(conds)]))

    def multi() -> float:
        return timed(lambda: fits.__setitem__("many", fit_ridge_matches(X, Y, names, conds)))

    got = interleave({"loop": loop, "multi": multi}, args.repeat)
    worst = max(float(np.max(np.abs(np.asarray(a.coef) - np.asarray(b.coef))))
                for a, b in zip(fits["one"], fits["many"], strict=True))
    speedup = ratios(got["loop"], got["multi"])
    emit({
        "name": "ridge", "genes": args.genes, "features": args.features, "conditions": args.conditions,
        "loop_s": spread(got["loop"]), "multi_s": spread(got["multi"]), "speedup": speedup, "max_coef_diff": worst,
        "target": "multi-target fit >= 3x faster than one fit per condition (median of rounds)",
        "pass": bool(speedup["median"] >= 3.0),
        "headline": {"loop s": spread(got["loop"], 2)["median"], "multi s": spread(got["multi"], 2)["median"],
                     "speedup (min-max)": f"{speedup['median']:.1f} ({speedup['min']:.1f}-{speedup['max']:.1f})"},
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
