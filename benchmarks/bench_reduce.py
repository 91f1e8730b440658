"""Time the multiplicativity reduce as users run it: reading the prediction rows of a job back,
then the fits, on a synthetic job of the paper's size.

The default is 89 promoters x 115 enhancers x 32 backgrounds = 327,520 combinations (spec §9.2),
one construct each, 6 strand x shift members per construct: 1,965,120 prediction rows, written as
a job writes them (:meth:`seqbench.runtime.jobdir.JobDir.write_part`, one Parquet part per shard of
``--shard-size`` constructs, the columns and types of :func:`seqbench.predict.predict_shard`).
The combinations come from a seeded generator (``numpy.random.default_rng(seed)``):

* log2-scale signal ``s = a_promoter + e_enhancer + b_background`` (promoter strengths spread
  widely, most enhancers weak and a few strong, backgrounds moderate);
* plus an enhancer x background interaction and a smaller promoter x enhancer interaction;
* ``y = log2(2**s + 1) + noise``, so the floor at ``log2(1) = 0`` bends the weakest combinations as
  the model's ``log2(CAGE + 1)`` does; each member's ``cage`` is ``(2**y - 1)`` times a small
  member factor (mean 1 over the 6 members).

Timed, as :func:`seqbench.runtime.submit.reduce_and_report` runs it (wall clock,
:func:`time.perf_counter`; ``--repeat`` passes, min / median / max):

* ``read_s``: ``JobDir.read_predictions`` + :func:`seqbench.predict.predictions_frame` +
  ``check_row_keys`` (every planned row key once) -- reading the rows back;
* ``fit_s``: :func:`seqbench.experiments.multiplicativity.design.combinations` (mean over members,
  joined to the design) + ``reduce_multiplicativity`` with its default sequential ``map_fn``;
* ``reduce_path_s`` = both (**the target: < 30 s** on 2 cores).  Writing the tables, figures and
  report is not timed.

Usage: ``python benchmarks/bench_reduce.py [--promoters 89 --enhancers 115 --backgrounds 32
--seed 0 --repeat 1 --shard-size 32]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import emit, machine, setup_path, spread

TARGET_S = 30.0


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
    parser.add_argument("--repeat", type=int, default=1, help="passes of the whole path (min/median/max)")
    parser.add_argument("--shard-size", type=int, default=32, help="constructs per Parquet part")
    args = parser.parse_args(argv)
    if min(args.promoters, args.enhancers, args.backgrounds) < 2 or min(args.repeat, args.shard_size) < 1:
        parser.error("--promoters/--enhancers/--backgrounds must be >= 2, --repeat and --shard-size >= 1")

    setup_path()
    from seqbench.experiments.multiplicativity.design import combinations
    from seqbench.experiments.multiplicativity.stats import reduce_multiplicativity
    from seqbench.predict import predictions_frame
    from seqbench.runtime.jobdir import JobDir
    from seqbench.runtime.submit import _reduce_input, check_row_keys

    members = 6  # Enformer's default ensemble: 2 strands x 3 shifts
    t0 = time.perf_counter()
    combos, ko = synthetic_combos(args.promoters, args.enhancers, args.backgrounds, args.seed)
    n = len(combos)
    design = pd.DataFrame({"construct_id": np.arange(n, dtype=np.int64),
                           **{c: combos[c].astype("category") for c in ("location_key", "promoter_id", "enhancer_id")}})
    rng = np.random.default_rng(args.seed + 1)
    factor = 1.0 + rng.normal(0.0, 0.02, (n, members))
    factor /= factor.mean(axis=1, keepdims=True)  # the member mean is the combination's value
    cage = ((np.exp2(combos["y"].to_numpy()) - 1.0)[:, None] * factor).astype(np.float32)
    dnase = rng.lognormal(0.0, 1.0, (n, members)).astype(np.float32)
    build_s = time.perf_counter() - t0
    manifest = {"n_constructs": n, "ensemble": {"members": [str(m) for m in range(members)]}}
    with tempfile.TemporaryDirectory(prefix="seqbench-bench-reduce-") as tmp:
        job = JobDir(Path(tmp) / "job")
        job.path.mkdir()
        t0 = time.perf_counter()
        S = args.shard_size
        for k, lo in enumerate(range(0, n, S)):
            job.write_part(k, part_table(lo, min(n, lo + S), members, cage, dnase))
        write_s = time.perf_counter() - t0
        read, fit, r2 = [], [], None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            preds = predictions_frame(job.read_predictions())
            check_row_keys(job, preds, manifest)
            t1 = time.perf_counter()
            results = reduce_multiplicativity(combinations(_reduce_input(preds), design), ko)
            t2 = time.perf_counter()
            read.append(t1 - t0)
            fit.append(t2 - t1)
            r2 = results.summary()
            del preds
    path = [a + b for a, b in zip(read, fit, strict=True)]
    rows = n * members
    record = {
        "name": "reduce",
        "n_rows": n,
        "prediction_rows": rows,
        "parts": -(-n // args.shard_size),
        "promoters": args.promoters,
        "enhancers": args.enhancers,
        "backgrounds": args.backgrounds,
        "seed": args.seed,
        "build_s": round(build_s, 3),
        "write_parts_s": round(write_s, 3),
        "read_s": spread(read),
        "fit_s": spread(fit),
        "reduce_path_s": spread(path),
        "reduce_s_min": round(min(path), 3),
        "r2_whole_multiplicative": r2["r2_whole_multiplicative"],
        "r2_background_multiplicative_median": r2["r2_background_multiplicative_median"],
        "target": f"read back + reduce < {TARGET_S:g} s (paper scale: 327,520 combinations, 1.97 M rows)",
        "pass": bool(statistics.median(path) < TARGET_S),
        "headline": {"reduce path s": round(statistics.median(path), 2), "read s": round(statistics.median(read), 2),
                     "fit s": round(statistics.median(fit), 2), "rows": rows},
        **machine(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
    emit(record)
    return 0


def part_table(lo: int, hi: int, members: int, cage: np.ndarray, dnase: np.ndarray):
    """Rows ``[lo, hi)`` of the job as :func:`seqbench.predict.predict_shard` lays them out."""
    import pyarrow as pa

    k = hi - lo
    return pa.table({
        "construct_id": pa.array(np.repeat(np.arange(lo, hi, dtype=np.int64), members)),
        "member": pa.array(np.tile(np.arange(members, dtype=np.uint8), k)),
        "landmark_bin": pa.array(np.full(k * members, 448, dtype=np.int16)),
        "model": pa.DictionaryArray.from_arrays(pa.array(np.zeros(k * members, dtype=np.int8)), pa.array(["bench"])),
        "window": pa.array(np.zeros(k * members, dtype=np.int32)),
        "cage": pa.array(cage[lo:hi].reshape(-1)),
        "dnase": pa.array(dnase[lo:hi].reshape(-1)),
    })


if __name__ == "__main__":
    raise SystemExit(main())
