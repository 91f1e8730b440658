"""Helpers shared by the benchmark scripts (not a benchmark itself).

* :func:`setup_path` puts the checkout first on ``sys.path`` (run without installing).
* :func:`bench_cache_dir` is ``$SEQBENCH_CACHE_DIR`` when set, else a fresh temporary directory
  (removed at exit); it is exported as ``SEQBENCH_CACHE_DIR`` so that everything seqbench starts
  (Ray workers included) builds the planted model and the demo there, once.
* :func:`demo_spec` is the embedded multiplicativity demo job, with overrides.
* :func:`emit` prints the one line of JSON every benchmark ends with.
* :func:`interleave`, :func:`spread` and :func:`ratios`: repeated measurements of two or more
  arms taken in turn (arm A, arm B, arm B, arm A, ...) so that machine drift (other load, clock
  boost, a warm cache) falls on every arm alike; every ratio a benchmark reports is the
  min / median / max over rounds of the per-round ratio of adjacent measurements.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[1]


def setup_path() -> None:
    """The checkout first on ``sys.path`` and on ``PYTHONPATH`` (so that Ray workers and the
    benchmarks' own subprocesses import the same seqbench as this process)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(REPO_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *paths])
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_USAGE_STATS_PROMPT_ENABLED", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # a benchmark that runs the same job twice measures the model, not the prediction cache (bench_cache.py
    # turns it on in its spec)
    os.environ.setdefault("SEQBENCH_PREDICTION_CACHE", "off")


def bench_cache_dir() -> Path:
    """``$SEQBENCH_CACHE_DIR`` if set, else a temporary directory removed at exit (and exported)."""
    env = os.environ.get("SEQBENCH_CACHE_DIR")
    if env:
        path = Path(env).expanduser()
    else:
        path = Path(tempfile.mkdtemp(prefix="seqbench-bench-cache-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        os.environ["SEQBENCH_CACHE_DIR"] = str(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_spec(cache: Path, overrides: dict[str, Any] | None = None):
    """The embedded multiplicativity demo job (planted model, demo genome), with ``overrides``."""
    from seqbench.demo.synthetic import ensure_demo
    from seqbench.experiments.multiplicativity import demo as mx_demo
    from seqbench.spec import deep_merge, parse_spec

    layout = ensure_demo(cache)
    raw = deep_merge(mx_demo.demo_spec(layout.root), overrides or {})
    return parse_spec(raw, origin="benchmark", base_dir=layout.root)


def machine() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}


def interleave(arms: dict[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Call every arm once per round, ``rounds`` times; returns each arm's results in round order.

    The order alternates (A B, then B A, ...; with more arms each round is the previous one
    reversed), so an arm is never always first or always last: a slow drift of the machine adds
    about as much to every arm.  Round ``k`` of two arms is two adjacent measurements, which
    :func:`ratios` pairs.
    """
    if rounds < 1:
        raise ValueError(f"rounds = {rounds}: expected at least 1")
    names = list(arms)
    out: dict[str, list[T]] = {n: [] for n in names}
    for k in range(rounds):
        for name in names if k % 2 == 0 else reversed(names):
            out[name].append(arms[name]())
    return out


def timed(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call (:func:`time.perf_counter`)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def timed_both(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process) of one call.  For single-threaded work on a
    shared machine the CPU seconds (:func:`time.process_time`) hardly see other processes' load,
    where the wall clock counts every time slice they took."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def spread(values: Sequence[float | None], digits: int = 3) -> dict[str, Any]:
    """``{"min", "median", "max", "n"}`` of the measured values (``None`` entries left out;
    all three ``None`` when nothing was measured)."""
    vals = sorted(float(v) for v in values if v is not None)
    if not vals:
        return {"min": None, "median": None, "max": None, "n": 0}
    return {
        "min": round(vals[0], digits),
        "median": round(statistics.median(vals), digits),
        "max": round(vals[-1], digits),
        "n": len(vals),
    }


def ratios(num: Sequence[float | None], den: Sequence[float | None], digits: int = 3) -> dict[str, Any]:
    """:func:`spread` of the per-round ratios ``num[k] / den[k]`` (rounds of :func:`interleave`)."""
    if len(num) != len(den):
        raise ValueError(f"{len(num)} numerators and {len(den)} denominators: expected one of each per round")
    return spread([a / b if a is not None and b else None for a, b in zip(num, den, strict=True)], digits)


def emit(record: dict[str, Any]) -> None:
    """Print the benchmark's one line of JSON (``name``, figures, ``target``, ``pass``) and flush."""
    print(json.dumps(record, default=_jsonable), flush=True)


def _jsonable(x: Any) -> Any:
    try:
        import numpy as np

        if isinstance(x, np.generic):
            return x.item()
    except ImportError:  # pragma: no cover
        pass
    return str(x)
