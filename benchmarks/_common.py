"""Helpers shared by the benchmark scripts (not a benchmark itself).

* :func:`setup_path` puts the checkout first on ``sys.path`` (run without installing).
* :func:`bench_cache_dir` is ``$SEQBENCH_CACHE_DIR`` when set, else a fresh temporary directory
  (removed at exit); it is exported as ``SEQBENCH_CACHE_DIR`` so that everything seqbench starts
  (Ray workers included) builds the planted model and the demo there, once.
* :func:`demo_spec` is the embedded multiplicativity demo job, with overrides.
* :func:`emit` prints the one line of JSON every benchmark ends with.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def setup_path() -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
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
