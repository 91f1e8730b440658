"""Pipeline efficiency: member predictions per second through the local Ray pipeline ÷ the same
model on the same shards in a bare loop with the same thread settings, interleaved.

Two models (``--model``):

* ``planted`` (default; the ``pipeline`` benchmark): the embedded multiplicativity demo (8
  promoters x 12 enhancers x 4 backgrounds = 384 constructs, 2,304 members; a subset with
  ``--promoters/--enhancers/--backgrounds``) with the planted model.  The planted model's forward
  pass is almost all of a member's cost (Ray's own is well under a few per cent), so this ratio
  says whether the pipeline keeps the model busy, not what the pipeline costs.
* ``null`` (the ``host_ceiling`` benchmark, ``bench_host_ceiling.py``): a model that returns zeros
  at no cost (``_null_model.py``) with the planted model's geometry, tracks and batch size, on a
  larger synthetic multiplicativity design (``--constructs``, default 10,235: 89 promoters x 115
  enhancers x 1 background on the demo genome, the paper's table layout).  What is left is the
  pipeline: planning, building and materializing constructs, shipping windows through Ray's
  object store, cutting members, assembling and writing parts.  The replica is the production
  actor: the null model gets into it through a Ray worker set-up hook (see ``_null_model.py``),
  not through a model kind.

Each round runs, for every ``--replicas`` value R, both sides back to back, the order alternating
from round to round (``_common.interleave``), ``--rounds`` rounds:

* **pipeline**: :func:`seqbench.runtime.submit.submit` of the job with ``runtime.replicas = R``,
  starting and stopping its own local Ray with ``--cpus`` CPUs; each replica gets
  ``cpus // R`` TensorFlow intra-op threads (as :func:`seqbench.runtime.pipeline.run_pipeline`
  sizes them).  Rate from the job's ``progress.jsonl``.
* **bare**: R processes started together (no Ray), each with ``cpus // R`` TensorFlow intra-op
  threads and the model loaded as a replica loads it, each taking every R-th shard (the same
  shards, shard size and model batch size as the job): build the constructs,
  :func:`~seqbench.predict.materialize_shard`, :func:`~seqbench.predict.predict_shard`.  Model
  load is outside the timing.  With the null model there are no threads to size, so the bare side
  is one single-threaded loop per CPU (``--cpus`` loops): the host's whole CPU side, with nothing
  in between, against the same CPUs behind Ray.

Both rates use one convention: rows after the first round of parts (R replicas or loops) ÷ (time
of the last part − time of the first round's last part); start-up, model load and the first shard
of each replica or loop are outside it.
``efficiency = pipeline rate ÷ bare rate`` of the same round; reported as min / median / max over
rounds.  ``members_per_cpu_s`` = pipeline rate ÷ ``--cpus`` (members per CPU-second through local
Ray).  ``wall_*_incl_startup``: all members ÷ (last part − the call to ``submit``), planning, Ray
start-up, model load and the first shard included (reported, not judged).

Targets: planted, efficiency >= 0.8 on 2 cores judged on 1 replica (the default CPU layout);
null, >= 3,000 members per CPU-second on 1 replica.  Prints one line of JSON.  ``--keep-job-dir
DIR`` keeps the last round's job directories (``DIR/replicas-N``; ``bench_output_size.py --job-dir
DIR/replicas-1`` reads them).

Usage: ``python benchmarks/bench_pipeline.py [--model planted|null] [--replicas 1,2] [--cpus 2]
[--rounds 3] [--shard-size 32] [--keep-job-dir DIR]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO_ROOT, bench_cache_dir, demo_spec, emit, interleave, machine, ratios, setup_path, spread

TARGET_EFFICIENCY = 0.8
TARGET_MEMBERS_PER_CPU_S = 3000.0
HERE = Path(__file__).resolve().parent


def first_to_last_rate(events: list[tuple[float, int]], skip: int = 1) -> float | None:
    """Rows after the first ``skip`` events ÷ (last time − time of event ``skip``); ``events`` = (time, rows).

    With R replicas (or R bare loops) the first R parts finish at about the same time, so
    ``skip=R`` leaves out the whole first round: its rows and the time before it.
    """
    events = sorted(events)
    if len(events) <= skip or events[-1][0] <= events[skip - 1][0]:
        return None
    return sum(r for _, r in events[skip:]) / (events[-1][0] - events[skip - 1][0])


def job_overrides(args: argparse.Namespace, replicas: int, candidates: Path | None) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "max_promoters": args.promoters,
        "max_enhancers": args.enhancers,
        "max_backgrounds": args.backgrounds,
    }
    if candidates is not None:
        inputs["candidates"] = str(candidates)
    return {
        "model": {"batch_size": args.batch_size},
        "inputs": inputs,
        "runtime": {"replicas": replicas, "shard_size": args.shard_size, "num_cpus": args.cpus},
    }


# ---- the bare side: one process per replica, started together


def bare_worker(config: dict[str, Any]) -> None:
    """One bare loop (``--bare-worker JSON``): load the model, say READY, wait for a line on stdin, run
    the shards, print ``{"events": [[t, rows], ...]}`` (``t``: :func:`time.time`, comparable across
    processes)."""
    setup_path()
    from seqbench.experiments.multiplicativity import design as mx
    from seqbench.genome import Genome
    from seqbench.models import registry
    from seqbench.predict import materialize_shard, predict_shard

    cache = bench_cache_dir()
    spec = demo_spec(cache, config["overrides"])
    t0 = time.perf_counter()
    if config["model"] == "null":
        from _null_model import load_null_model

        model = load_null_model(spec.model, cache, intra_op_threads=config["threads"])
    else:  # as a replica loads it (ModelReplica -> load_model), with the replica's thread count
        model = registry.load_model(spec.model, cache, intra_op_threads=config["threads"])
    load_s = time.perf_counter() - t0
    _, _, tracks_table, _ = registry.describe(spec.model, cache)
    tracks = {label: tracks_table.resolve(req) for label, req in spec.tracks.items()}
    genome = Genome(spec.fasta, cache_bytes=1 << 30)  # as materialize_task opens it
    design = mx.expand(spec, genome, model.geometry)
    print("READY", flush=True)
    sys.stdin.readline()
    events = []
    for shard, ids in config["shards"]:
        ms = materialize_shard(shard, ids, design.constructs(ids), genome.read_padded, model.geometry,
                               spec.ensemble, count_ambiguous=genome.ambiguous_count,
                               window_length=model.geometry.sequence_length)
        table = predict_shard(model, ms, spec.ensemble, tracks)
        events.append((time.time(), table.num_rows))
    print(json.dumps({"events": events, "model_load_s": round(load_s, 3)}), flush=True)


def bare_run(args: argparse.Namespace, shards: list[tuple[int, list[int]]], replicas: int,
             candidates: Path | None) -> dict[str, Any]:
    """R bare loops at once (the null model: one per CPU), shard k in loop k % loops, each with the
    replica's thread count."""
    threads = max(1, args.cpus // replicas)
    # a null model has no threads to give the CPUs: one single-threaded loop per CPU, as many
    # cores as the pipeline's materialize tasks and replica share
    loops = args.cpus if args.model == "null" else replicas
    procs = []
    for r in range(loops):
        config = {"model": args.model, "threads": threads, "shards": shards[r::loops],
                  "overrides": job_overrides(args, replicas, candidates)}
        procs.append(subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--bare-worker", json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT))
    for p in procs:  # every model loaded before any loop starts
        line = p.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != "READY":
            for q in procs:
                q.kill()
            raise SystemExit(f"bare loop failed to start (said {line!r})")
    for p in procs:
        p.stdin.write("go\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
    events: list[tuple[float, int]] = []
    loads = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"bare loop exited with status {p.returncode}")
        rec = json.loads(out.strip().splitlines()[-1])
        events += [(t, n) for t, n in rec["events"]]
        loads.append(rec["model_load_s"])
    rate = first_to_last_rate(events, skip=loops)
    return {"members": sum(n for _, n in events), "members_per_s": rate, "model_load_s": max(loads),
            "loops": loops, "threads_per_loop": threads}


# ---- the pipeline side


def pipeline_run(args: argparse.Namespace, job_dir: Path, replicas: int, candidates: Path | None) -> dict[str, Any]:
    import contextlib

    from seqbench.runtime.jobdir import JobDir
    from seqbench.runtime.submit import submit

    if job_dir.exists():
        shutil.rmtree(job_dir)
    spec = demo_spec(bench_cache_dir(), job_overrides(args, replicas, candidates))
    hook = contextlib.nullcontext()
    if args.model == "null":
        from _null_model import null_ray_init

        hook = null_ray_init()
    t0 = time.time()
    with hook:
        submit(spec, job_dir=job_dir, progress=False)
    t_end = time.time()
    events = [(p["t"], p["rows"]) for p in JobDir(job_dir).progress()]
    members = sum(r for _, r in events)
    t_first, t_last = min(t for t, _ in events), max(t for t, _ in events)
    return {
        "members": members,
        "members_per_s": first_to_last_rate(events, skip=replicas),
        "wall_members_per_s_incl_startup": members / (t_last - t0),
        "startup_to_first_part_s": t_first - t0,
        "first_to_last_part_s": t_last - t_first,
        "submit_total_s": t_end - t0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("planted", "null"), default="planted")
    parser.add_argument("--replicas", default="1,2", help="comma-separated replica counts to run (default 1,2)")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of local Ray; the bare loops get the same threads")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (min/median/max over them)")
    parser.add_argument("--shard-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8, help="model batch size (both sides)")
    parser.add_argument("--promoters", type=int, default=0, help="limit the demo design (0: all; planted)")
    parser.add_argument("--enhancers", type=int, default=0)
    parser.add_argument("--backgrounds", type=int, default=0)
    parser.add_argument("--constructs", type=int, default=10_235,
                        help="null model: constructs of the synthetic design (89 x 115 x 1 = 10,235)")
    parser.add_argument("--keep-job-dir", type=Path, default=None, help="keep the last round's job directories here")
    parser.add_argument("--bare-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_worker is not None:
        bare_worker(json.loads(args.bare_worker))
        return 0
    try:
        replica_counts = [int(x) for x in args.replicas.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--replicas {args.replicas!r}: expected comma-separated integers")
    if not replica_counts or min(replica_counts) < 1 or min(args.cpus, args.shard_size, args.rounds) < 1:
        parser.error("--replicas values, --cpus, --shard-size and --rounds must be >= 1")

    setup_path()
    from seqbench.experiments.multiplicativity import design as mx
    from seqbench.genome import Genome
    from seqbench.models import registry

    cache = bench_cache_dir()
    registry.twin_dir(demo_spec(cache).model.kind, cache)  # build the demo's planted model now, outside every timing
    if args.keep_job_dir is not None:
        root = args.keep_job_dir.resolve()
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="seqbench-bench-pipeline-"))
    candidates = None
    if args.model == "null":
        candidates = synthetic_design(root, args.constructs, Genome(demo_spec(cache).fasta).lengths)
        args.promoters = args.enhancers = args.backgrounds = 0
    base = demo_spec(cache, job_overrides(args, replica_counts[0], candidates))
    n = mx.expand(base, Genome(base.fasta), base.model.declared_geometry).n_constructs
    S = args.shard_size
    shards = [(k, list(range(k * S, min(n, (k + 1) * S)))) for k in range(-(-n // S))]

    arms: dict[str, Any] = {}
    for r in replica_counts:
        arms[f"bare-{r}"] = lambda r=r: bare_run(args, shards, r, candidates)
        arms[f"pipeline-{r}"] = lambda r=r: pipeline_run(args, root / f"replicas-{r}", r, candidates)
    try:
        got = interleave(arms, args.rounds)
    finally:
        if args.keep_job_dir is None:
            shutil.rmtree(root, ignore_errors=True)

    runs: dict[str, dict[str, Any]] = {}
    for r in replica_counts:
        bare, pipe = got[f"bare-{r}"], got[f"pipeline-{r}"]
        b_rates, p_rates = [b["members_per_s"] for b in bare], [p["members_per_s"] for p in pipe]
        runs[str(r)] = {
            "threads_per_replica": bare[0]["threads_per_loop"],
            "bare_loops": bare[0]["loops"],
            "efficiency": ratios(p_rates, b_rates),
            "pipeline_members_per_s": spread(p_rates, 1),
            "bare_members_per_s": spread(b_rates, 1),
            "members_per_cpu_s": spread([x / args.cpus if x else None for x in p_rates], 1),
            "wall_efficiency_incl_startup": ratios([p["wall_members_per_s_incl_startup"] for p in pipe], b_rates),
            "startup_to_first_part_s": spread([p["startup_to_first_part_s"] for p in pipe], 2),
            "first_to_last_part_s": spread([p["first_to_last_part_s"] for p in pipe], 2),
            "submit_total_s": spread([p["submit_total_s"] for p in pipe], 2),
            "bare_model_load_s": spread([b["model_load_s"] for b in bare], 2),
        }
    judged = "1" if "1" in runs else str(replica_counts[0])
    j = runs[judged]
    if args.model == "null":
        figure = j["members_per_cpu_s"]["median"]
        target = f">= {TARGET_MEMBERS_PER_CPU_S:,.0f} members per CPU-second with a null model ({judged} replica(s))"
        ok = figure is not None and figure >= TARGET_MEMBERS_PER_CPU_S
        headline = {"members/CPU-s": figure, **{f"eff r={r}": run["efficiency"]["median"] for r, run in runs.items()}}
    else:
        figure = j["efficiency"]["median"]
        target = f"efficiency >= {TARGET_EFFICIENCY} on {args.cpus} cores ({judged} replica(s), median of rounds)"
        ok = figure is not None and figure >= TARGET_EFFICIENCY
        headline = {
            **{f"eff r={r} (min-max)": f"{run['efficiency']['median']} ({run['efficiency']['min']}-"
               f"{run['efficiency']['max']})" for r, run in runs.items()},
            "bare members/s": j["bare_members_per_s"]["median"],
        }
    emit({
        "name": "host_ceiling" if args.model == "null" else "pipeline",
        "model": args.model,
        "constructs": n,
        "members": n * base.ensemble.n_members,
        "shard_size": S,
        "shards": len(shards),
        "batch_size": args.batch_size,
        "cpus": args.cpus,
        "rounds": args.rounds,
        "runs": runs,
        "efficiency_by_replicas": {r: run["efficiency"] for r, run in runs.items()},
        "judged_replicas": int(judged),
        "job_dirs_kept": None if args.keep_job_dir is None else str(root),
        "target": target,
        "pass": bool(ok),
        "headline": headline,
        **machine(),
    })
    return 0


def synthetic_design(root: Path, constructs: int, chrom_lengths: dict[str, int]) -> Path:
    """A multiplicativity candidate table on the demo genome with about ``constructs`` constructs
    (89 promoters x 115 enhancers x as many backgrounds as it takes; ``bench_plan.candidate_rows``)."""
    from bench_plan import candidate_rows, write_table

    n_prom, n_enh = 89, 115
    n_bg = max(1, min(n_enh, round(constructs / (n_prom * n_enh))))
    if constructs < n_prom * n_enh:  # a smaller design: fewer promoters and enhancers, one background
        n_enh = max(2, min(n_enh, int((constructs * n_enh / n_prom) ** 0.5)))
        n_prom = max(1, min(n_enh, constructs // n_enh))
    path = root / "null-candidates.tsv"
    write_table(path, candidate_rows(n_prom, n_enh, n_bg, chrom_lengths))
    return path


if __name__ == "__main__":
    raise SystemExit(main())
