"""Shared fixtures: one cache directory per test session (planted model + demo data built once),
a tiny FASTA written per test, and environment that keeps Ray quiet and offline."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_USAGE_STATS_PROMPT_ENABLED", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the prediction cache is off in tests (subprocesses inherit it): a session-wide cache would serve one
# test's members to the next and change what fault and exactly-once tests count; cache tests turn it
# on explicitly (runtime.prediction_cache = a directory of their own)
os.environ["SEQBENCH_PREDICTION_CACHE"] = "off"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """SEQBENCH_CACHE_DIR for the whole session (the planted model and demo are built once)."""
    path = tmp_path_factory.mktemp("seqbench-cache")
    os.environ["SEQBENCH_CACHE_DIR"] = str(path)
    return path


def write_fasta(path: Path, records: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as f:
        for name, seq in records.items():
            f.write(f">{name}\n")
            for i in range(0, len(seq), width):
                f.write(seq[i : i + width] + "\n")
    return path


def random_dna(n: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join(np.array(list("ACGT"))[rng.integers(0, 4, n)])


@pytest.fixture(scope="module")
def local_ray():
    """Local Ray for one test module: 4 logical CPUs (fractional tasks and replicas fit on 2 cores),
    300 MB object store, no dashboard; always shut down."""
    import ray

    ray.init(
        address="local", num_cpus=4, object_store_memory=300 * 1024**2, include_dashboard=False, log_to_driver=False
    )
    yield
    ray.shutdown()
