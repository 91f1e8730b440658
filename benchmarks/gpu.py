"""The GPU path, measured: one unattended script for a machine with a GPU (issue 15, item 3).

It measures, for the model kind given (default ``enformer-twin``: Enformer's architecture with random
weights, so it costs what Enformer costs):

1. **Throughput**: sequences/s through seqbench's adapter (uint8 codes in, the requested bins and
   tracks out; XLA with ``--xla on``) at each ``--batch-sizes`` x ``--precisions`` point, median of ``--repeats``
   timed calls after a warm-up (which compiles).  With the model's analytic FLOP count, the fraction
   of the device's dense peak for that precision (:data:`PEAK_TFLOPS`, looked up by device name).
2. **Parity**: each precision against fp32 on the same inputs: the largest relative difference on the
   requested bins and tracks (target for bf16: <= 1e-2).
3. **Members cut on the device** vs cut on the host: members/s of the same shard both ways
   (a strand x shift ensemble of 6), and the bytes sent to the device per member.
4. **Host cores per GPU**: the best sequences/s ÷ the host's members per CPU-second (the null-model
   ceiling of ``make bench``, ``--host-rate``), i.e. how many cores keep one GPU fed.
5. **End to end** (unless ``--no-pipeline``): the multiplicativity demo through local Ray on this
   machine's GPU with the model, and the same shards in a bare in-process loop; efficiency =
   pipeline members/s ÷ bare members/s.

Prints one table and writes JSON (``--out``, default ``benchmarks/gpu-results.json``).  Without a GPU,
``--smoke`` runs a tiny version on the planted model (a test runs it) so the script is known to work
the next time a GPU is lent.  ``--budget-s`` stops the sweep before the device time runs out.

Usage on a GPU machine: ``cd benchmarks && python gpu.py`` (a few minutes for the twin on one H100/H200:
two builds, fp32 and bf16, about a minute each, their loads, two batch sizes x three precisions, and the
end-to-end job); ``--xla on`` adds XLA compiles (minutes each for Enformer's graph).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import bench_cache_dir, demo_spec, machine, setup_path

setup_path()

#: dense peak TFLOP/s per precision (fp32, tf32, bf16) by device-name substring, first match wins
#: (vendor data sheets; SXM parts unless named)
PEAK_TFLOPS: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("H200", (67.0, 494.7, 989.4)),
    ("H100 PCIe", (51.2, 378.0, 756.0)),
    ("H100", (67.0, 494.7, 989.4)),
    ("A100", (19.5, 156.0, 312.0)),
    ("L40S", (91.6, 183.0, 362.0)),
    ("L4", (30.3, 60.0, 121.0)),
    ("A10", (31.2, 62.5, 125.0)),
)
PRECISION_COLUMN = {"fp32": 0, "tf32": 1, "bf16": 2}
#: the bf16 parity target of the issue (largest relative difference on the requested bins)
BF16_PARITY_TARGET = 1e-2


#: what the GPU path imports on the machine that runs it (module name, what to install)
REQUIRED = (("tensorflow", "tensorflow[and-cuda]"), ("tensorflow_hub", "tensorflow-hub"), ("ray", "ray"),
            ("pyarrow", "pyarrow"), ("pyfaidx", "pyfaidx"), ("pandas", "pandas"))


def preflight(smoke: bool) -> str | None:
    """Why this machine cannot run the GPU benchmark (one line), or None.  Checked before anything is
    built: a package seqbench's GPU path needs is missing, or TensorFlow sees no GPU (only ``--smoke``
    runs on a CPU; the Enformer twin on a CPU would take hours)."""
    import importlib.util

    missing = [pip for mod, pip in REQUIRED if importlib.util.find_spec(mod) is None]
    if missing:
        return (f"this Python ({sys.executable}) lacks {', '.join(missing)}; the GPU path runs seqbench's"
                f" TensorFlow adapter: pip install {' '.join(missing)} (TensorFlow with CUDA 12)")
    if smoke:
        return None
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        cuda = tf.sysconfig.get_build_info().get("cuda_version")
        built = f"built with CUDA {cuda}" if cuda else "built without CUDA (pip install 'tensorflow[and-cuda]')"
        return f"TensorFlow {tf.__version__} sees no GPU ({built}); --smoke runs the CPU version"
    return None


def device_name() -> str | None:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    details = tf.config.experimental.get_device_details(gpus[0])
    return str(details.get("device_name", "GPU"))


def peak_tflops(name: str | None, precision: str) -> float | None:
    if not name:
        return None
    for key, peaks in PEAK_TFLOPS:
        if key.lower() in name.lower():
            return peaks[PRECISION_COLUMN[precision]]
    return None


def flops_per_pass(kind: str) -> float | None:
    """The model's analytic FLOP count per forward pass, where seqbench has one."""
    from seqbench import estimate

    fn = getattr(estimate, "flops_per_pass", None)
    if fn is not None:
        return fn(kind)
    real = {"enformer-twin": "enformer"}.get(kind, kind)
    return estimate.FLOPS_PER_PASS.get(real)


def _inputs(geometry, n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, geometry.sequence_length), dtype=np.uint8)
    mid = geometry.n_bins // 2
    bins = np.tile(np.array([[mid - 1, mid, mid + 1]], np.int32), (n, 1))
    return codes, bins


def _tracks(model, n: int):
    import numpy as np

    return np.arange(min(n, len(model.tracks)), dtype=np.int32)


def measure(model, batch: int, repeats: int, n_tracks: int) -> dict[str, Any]:
    """Sequences/s of ``model.predict`` on ``batch`` inputs: the first call (trace + compile) and the median
    of ``repeats`` calls after it."""
    codes, bins = _inputs(model.geometry, batch)
    tracks = _tracks(model, n_tracks)
    t0 = time.perf_counter()
    model.predict(codes, bins, tracks)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.predict(codes, bins, tracks)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"batch": batch, "first_call_s": round(first, 3), "call_s_min": round(min(times), 4),
            "call_s_median": round(med, 4), "call_s_max": round(max(times), 4),
            "sequences_per_s": round(batch / med, 2)}


def parity(ref_model, model, n: int, n_tracks: int) -> float:
    """Largest |x - ref| / max(|ref|, 1e-6) on the requested bins and tracks of ``n`` random inputs."""
    import numpy as np

    codes, bins = _inputs(ref_model.geometry, n, seed=1)
    tracks = _tracks(ref_model, n_tracks)
    a = ref_model.predict(codes, bins, tracks).astype(np.float64)
    b = model.predict(codes, bins, tracks).astype(np.float64)
    return float(np.max(np.abs(b - a) / np.maximum(np.abs(a), 1e-6)))


def members_host_vs_device(model, batch: int, n_constructs: int) -> dict[str, Any]:
    """One shard of ``n_constructs`` random extended windows, 2 strands x 3 shifts, cut on the host and
    cut on the device (the same model object, the switch flipped): members/s both ways and whether the
    values agree bit for bit."""
    import numpy as np

    from seqbench.predict import MaterializedShard, predict_shard
    from seqbench.sequence.ensemble import Ensemble

    ens = Ensemble((-43, 0, 43), ("+", "-"))
    g = model.geometry
    rng = np.random.default_rng(2)
    width = g.sequence_length + ens.max_shift - ens.min_shift
    windows = rng.integers(0, 4, (n_constructs, width), dtype=np.uint8)
    landmarks = np.full(n_constructs, width // 2, dtype=np.int64)
    shard = MaterializedShard(0, np.arange(n_constructs, dtype=np.int64), windows, landmarks)
    tracks = {f"t{i}": i for i in range(min(4, len(model.tracks)))}
    out: dict[str, Any] = {"constructs": n_constructs, "members": n_constructs * ens.n_members}
    values = {}
    saved = model.members_on_device
    try:
        for label, on in (("host", False), ("device", True)):
            model.members_on_device = on
            predict_shard(model, shard, ens, tracks)  # warm (traces the path)
            t0 = time.perf_counter()
            table = predict_shard(model, shard, ens, tracks)
            dt = time.perf_counter() - t0
            values[label] = table.column("t0").to_numpy()
            out[f"{label}_members_per_s"] = round(out["members"] / dt, 2)
    finally:
        model.members_on_device = saved
    out["bit_identical"] = bool(np.array_equal(values["host"], values["device"]))
    out["bytes_to_device_per_member_host_cut"] = g.sequence_length
    out["bytes_to_device_per_member_device_cut"] = round(width / ens.n_members, 1)
    return out


def end_to_end(kind: str, batch: int, precision: str, cache: Path, workdir: Path, tracks: dict,
               xla: bool = False) -> dict[str, Any]:
    """The multiplicativity demo through local Ray with ``kind`` on this machine's GPU(s), and the same shards
    in a bare loop; efficiency = pipeline members/s ÷ bare members/s (first part to last part, both)."""
    from seqbench.genome import Genome
    from seqbench.models import registry
    from seqbench.predict import materialize_shard, predict_shard
    from seqbench.runtime.jobdir import JobDir
    from seqbench.runtime.submit import submit

    spec = demo_spec(cache, {"model": {"kind": kind, "batch_size": batch, "precision": precision, "xla": xla},
                             "tracks": tracks, "runtime": {"shard_size": 32}})
    t0 = time.time()
    submit(spec, job_dir=workdir / "e2e", progress=False)
    wall = time.time() - t0
    events = sorted((p["t"], p["rows"]) for p in JobDir(workdir / "e2e").progress())
    pipe = _rate(events)

    from seqbench.experiments.multiplicativity import design as mx

    model = registry.load_model(spec.model, cache)
    _, _, table, _ = registry.describe(spec.model, cache)
    track_idx = {label: table.resolve(req) for label, req in spec.tracks.items()}
    genome = Genome(spec.fasta)
    design = mx.expand(spec, genome, model.geometry)
    n = design.n_constructs
    shards = [(s, list(range(i, min(n, i + 32)))) for s, i in enumerate(range(0, n, 32))]
    bare_events = []
    for shard, ids in shards:
        ms = materialize_shard(shard, ids, design.constructs(ids), genome.read_padded, model.geometry, spec.ensemble)
        rows = predict_shard(model, ms, spec.ensemble, track_idx).num_rows
        bare_events.append((time.perf_counter(), rows))
    bare = _rate(bare_events)
    return {"members": sum(r for _, r in events), "submit_wall_s": round(wall, 2),
            "pipeline_members_per_s": pipe, "bare_members_per_s": bare,
            "efficiency": round(pipe / bare, 3) if pipe and bare else None}


def _rate(events: list[tuple[float, int]]) -> float | None:
    events = sorted(events)
    if len(events) < 2 or events[-1][0] <= events[0][0]:
        return None
    return round(sum(r for _, r in events[1:]) / (events[-1][0] - events[0][0]), 2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", default="enformer-twin", help="model kind (default enformer-twin)")
    p.add_argument("--batch-sizes", default="8,32", help="comma-separated batch sizes (default 8,32)")
    p.add_argument("--xla", choices=("on", "off"), default="off",
                   help="compile the readout with XLA (off by default: compiling Enformer's graph can take minutes"
                        " per batch size and precision, more than a lent device's budget)")
    p.add_argument("--precisions", default="fp32,tf32,bf16", help="comma-separated: fp32, tf32, bf16")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per point (after a warm-up)")
    p.add_argument("--tracks", type=int, default=16, help="tracks read per call (the first N)")
    p.add_argument("--host-rate", type=float, default=3500.0,
                   help="host members per CPU-second with a null model (make bench's ceiling)")
    p.add_argument("--budget-s", type=float, default=480.0, help="stop starting new points after this many seconds")
    p.add_argument("--no-pipeline", action="store_true", help="skip the end-to-end Ray job")
    p.add_argument("--smoke", action="store_true", help="a tiny CPU run on the planted model (what the tests run)")
    p.add_argument("--out", default=str(Path(__file__).with_name("gpu-results.json")))
    args = p.parse_args(argv)
    if args.smoke:
        args.kind, args.batch_sizes, args.precisions, args.repeats = "planted", "2", "fp32,tf32", 1
        args.no_pipeline = True
    why = preflight(args.smoke)
    if why:
        print(f"gpu.py: {why}", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    cache = bench_cache_dir()

    from seqbench.models import registry

    name = device_name()
    sizes = [int(x) for x in args.batch_sizes.split(",") if x]
    precisions = [x for x in args.precisions.split(",") if x]
    if "bf16" in precisions and args.kind not in registry.BF16_KINDS:
        print(f"note: {args.kind} has no bf16 build; bf16 skipped", file=sys.stderr)
        precisions.remove("bf16")
    flops = flops_per_pass(args.kind)
    record: dict[str, Any] = {"name": "gpu", "kind": args.kind, "xla": args.xla, "device": name or "CPU (no GPU)",
                              "flops_per_pass": flops, "points": [], "parity": {}, "machine": machine()}
    models = {}
    for prec in precisions:
        spec = registry.ModelSpec(kind=args.kind, batch_size=max(sizes), precision=prec, xla=args.xla == "on")
        t0 = time.perf_counter()
        models[prec] = registry.load_model(spec, cache)
        load_s = time.perf_counter() - t0
        for bs in sizes:
            if time.perf_counter() - t_start > args.budget_s:
                record.setdefault("skipped", []).append(f"{prec} batch {bs} (budget)")
                continue
            models[prec].batch_size = bs
            pt = {"precision": prec, "load_s": round(load_s, 2), **measure(models[prec], bs, args.repeats,
                                                                           args.tracks)}
            peak = peak_tflops(name, prec)
            if flops and peak:
                pt["fraction_of_peak"] = round(pt["sequences_per_s"] * flops / (peak * 1e12), 4)
            record["points"].append(pt)
            print(f"{prec:>5} batch {bs:>3}: {pt['sequences_per_s']:>9.2f} seq/s"
                  + (f"  {pt['fraction_of_peak']:.1%} of peak" if "fraction_of_peak" in pt else ""), flush=True)
        if prec != "fp32" and "fp32" in models:
            record["parity"][prec] = parity(models["fp32"], models[prec], 4, args.tracks)
    best = max(record["points"], key=lambda r: r["sequences_per_s"], default=None)
    record["best"] = best
    if best:
        record["host_cores_per_gpu"] = round(best["sequences_per_s"] / args.host_rate, 3)
        m = models[best["precision"]]
        m.batch_size = best["batch"]
        record["members_cut"] = members_host_vs_device(m, best["batch"], max(2, best["batch"] // 2))
    if "bf16" in record["parity"]:
        record["bf16_parity_pass"] = record["parity"]["bf16"] <= BF16_PARITY_TARGET
    if not args.no_pipeline and best and time.perf_counter() - t_start < args.budget_s:
        import tempfile

        tracks = {"cage": {"index": 0}, "dnase": {"index": 1}}
        with tempfile.TemporaryDirectory() as tmp:
            record["end_to_end"] = end_to_end(args.kind, best["batch"], best["precision"], cache, Path(tmp), tracks,
                                              xla=args.xla == "on")
    record["wall_s"] = round(time.perf_counter() - t_start, 1)
    _print_table(record)
    Path(args.out).write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(json.dumps({k: record[k] for k in ("name", "kind", "device", "best", "parity", "wall_s")}, default=str))
    return 0


def _print_table(record: dict[str, Any]) -> None:
    print(f"\n{record['kind']} on {record['device']} (FLOP/pass: {record['flops_per_pass'] or 'n/a'})")
    print(f"{'precision':>9} {'batch':>5} {'seq/s':>10} {'of peak':>8} {'first call s':>12}")
    for r in record["points"]:
        frac = f"{r['fraction_of_peak']:.1%}" if "fraction_of_peak" in r else "-"
        print(f"{r['precision']:>9} {r['batch']:>5} {r['sequences_per_s']:>10.2f} {frac:>8} {r['first_call_s']:>12.2f}")
    for prec, diff in record["parity"].items():
        print(f"parity {prec} vs fp32: largest relative difference {diff:.3g}")
    if "members_cut" in record:
        mc = record["members_cut"]
        print(f"members cut on host {mc['host_members_per_s']} /s, on device {mc['device_members_per_s']} /s,"
              f" bit-identical: {mc['bit_identical']}")
    if "host_cores_per_gpu" in record:
        print(f"host cores per GPU at the best rate: {record['host_cores_per_gpu']}")
    if "end_to_end" in record:
        e = record["end_to_end"]
        print(f"end to end: pipeline {e['pipeline_members_per_s']} /s, bare {e['bare_members_per_s']} /s,"
              f" efficiency {e['efficiency']}")


if __name__ == "__main__":
    raise SystemExit(main())
