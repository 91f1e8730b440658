"""Run every benchmark in turn (one subprocess each), print a table, write ``benchmarks/results.json``.

Benchmarks report, they do not gate: a missed target never changes the exit status.  The exit
status is 1 only when a benchmark script itself fails (crashes, times out or prints no JSON).

The planted model and the demo are built once into ``$SEQBENCH_CACHE_DIR`` when it is set, else
into a temporary directory shared by all the benchmarks of this run and removed afterwards.
The output-size benchmark reads the parts of the pipeline benchmark's 1-replica job (kept in a
temporary directory for the purpose) rather than running a job of its own.

Usage: ``python benchmarks/run_all.py [--only NAME,...] [--skip NAME,...] [--quick] [--out FILE]``
(``make bench`` runs it with no options).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: (name, script, extra arguments for --quick), in running order
BENCHMARKS: list[tuple[str, str, list[str]]] = [
    ("materialize", "bench_materialize.py", ["--repeat", "2"]),
    ("plan", "bench_plan.py", ["--backgrounds", "8", "--repeat", "2"]),
    ("planted_model", "bench_planted_model.py", ["--calls", "7", "--warmup", "1"]),
    ("reduce", "bench_reduce.py", ["--backgrounds", "8"]),
    ("pipeline", "bench_pipeline.py", ["--backgrounds", "1", "--replicas", "1", "--rounds", "2"]),
    ("host_ceiling", "bench_host_ceiling.py", ["--constructs", "2000", "--rounds", "2"]),
    ("output_size", "bench_output_size.py", []),
    ("knockdown", "bench_knockdown.py", ["--repeat", "2", "--shuffles", "5"]),
    ("glm", "bench_glm.py", ["--promoters", "300", "--enhancers", "300"]),
    ("models", "bench_models.py", ["--inputs", "16", "--repeat", "1"]),
    ("track_layout", "bench_track_layout.py", ["--constructs", "50", "--repeat", "1"]),
    ("ridge", "bench_ridge.py", ["--genes", "1000", "--conditions", "8", "--repeat", "1"]),
    ("cache", "bench_cache.py", ["--promoters", "2", "--enhancers", "3", "--backgrounds", "1", "--kd-genes", "1"]),
]


def _normalise(name: str, rec: dict[str, Any]) -> dict[str, Any]:
    """``target``, ``pass`` and ``headline`` for the scripts that predate the common format."""
    rec = dict(rec)
    if name == "reduce" and "pass" not in rec:
        rec["target"] = "reduce < 30 s (paper scale: 327,520 combinations)"
        rec["pass"] = bool(rec["reduce_s_min"] < 30.0)
        rec["headline"] = {"reduce s": rec["reduce_s_min"], "rows": rec["n_rows"]}
    rec.setdefault("name", name)
    rec.setdefault("target", None)
    rec.setdefault("pass", None)
    rec.setdefault("headline", {})
    return rec


def _last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def run_one(script: str, args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / script), *args]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return {
            "command": cmd,
            "elapsed_s": round(time.perf_counter() - t0, 1),
            "error": f"timed out after {timeout:g} s",
            "stderr_tail": err[-2000:],
        }
    out: dict[str, Any] = {
        "command": cmd,
        "elapsed_s": round(time.perf_counter() - t0, 1),
        "returncode": proc.returncode,
    }
    record = _last_json_line(proc.stdout)
    if proc.returncode != 0 or record is None:
        out["error"] = f"exit status {proc.returncode}" if proc.returncode else "no JSON line on stdout"
        out["stderr_tail"] = proc.stderr[-3000:]
    if record is not None:
        out["record"] = record
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def print_table(rows: list[dict[str, Any]]) -> None:
    lines = [("benchmark", "result", "target", "pass", "time")]
    for r in rows:
        rec = r.get("record") or {}
        if "error" in r:
            status = "ERROR"
            result = r["error"]
        else:
            status = {True: "PASS", False: "MISS", None: "-"}[rec.get("pass")]
            result = ", ".join(f"{k} {_fmt(v)}" for k, v in rec.get("headline", {}).items())
        lines.append(
            (r["name"], result, str(rec.get("target") or "(reported only)"), status, f"{r['elapsed_s']:.0f} s")
        )
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    for j, line in enumerate(lines):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [n for n, _, _ in BENCHMARKS]
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(names)}")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run; targets are then indicative)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds allowed per benchmark")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args(argv)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    unknown = (only | skip) - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: {', '.join(names)}")
    selected = [b for b in BENCHMARKS if (not only or b[0] in only) and b[0] not in skip]

    env = dict(os.environ)
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env.setdefault("RAY_USAGE_STATS_PROMPT_ENABLED", "0")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    work = Path(tempfile.mkdtemp(prefix="seqbench-bench-"))
    if not env.get("SEQBENCH_CACHE_DIR"):
        env["SEQBENCH_CACHE_DIR"] = str(work / "cache")
    pipeline_jobs = work / "pipeline-jobs"

    started = time.time()
    rows: list[dict[str, Any]] = []
    try:
        for name, script, quick_args in selected:
            extra = list(quick_args) if args.quick else []
            if name == "pipeline":
                extra += ["--keep-job-dir", str(pipeline_jobs)]
            if name == "output_size" and (pipeline_jobs / "replicas-1" / "manifest.json").is_file():
                extra += ["--job-dir", str(pipeline_jobs / "replicas-1")]
            print(f"[{name}] {script} {' '.join(extra)}".rstrip(), file=sys.stderr, flush=True)
            res = run_one(script, extra, env, args.timeout)
            res["name"] = name
            if "record" in res:
                res["record"] = _normalise(name, res["record"])
            if "error" in res:
                print(f"[{name}] {res['error']}\n{res.get('stderr_tail', '')[-1500:]}", file=sys.stderr, flush=True)
            rows.append(res)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print_table(rows)
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "total_s": round(time.time() - started, 1),
        "quick": args.quick,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
