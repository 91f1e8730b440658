"""Shared fixtures: one cache directory per test session (planted model + demo data built once),
a tiny FASTA written per test, and environment that keeps Ray quiet and offline.

Under pytest-xdist (``make test``: two workers, ``--dist loadfile``) each worker is a session of its
own: its own cache directory, its own local Ray, its own kept replicas; a module never spans two."""

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
# loaded replicas are kept between jobs (seqbench.runtime.pool), of up to three model settings: the e2e
# modules' jobs share them through the session's Ray (local_ray), where each new one costs ~4.5 s
os.environ["SEQBENCH_KEEP_REPLICAS"] = "3"


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


#: the local Ray of the test session (see local_ray)
RAY_ARGS = {"address": "local", "num_cpus": 4, "object_store_memory": 300 * 1024**2, "include_dashboard": False,
            "log_to_driver": False}


@pytest.fixture(scope="session")
def _session_ray():
    """Shuts down, at the end of the session, the local Ray that local_ray started."""
    yield
    stop_shared_ray()


def stop_shared_ray() -> None:
    """Stop the session's Ray and its kept replicas, for a module that must start a Ray of its own (another
    environment for the workers, a cluster); the next module with local_ray starts it again."""
    import ray

    from seqbench.runtime.pool import release_replicas

    release_replicas()
    ray.shutdown()


@pytest.fixture(scope="module")
def local_ray(_session_ray):
    """Local Ray for the module: 4 logical CPUs (fractional tasks and replicas fit on 2 cores), 300 MB
    object store, no dashboard.  One Ray serves every module that asks for it (started again if a module
    shut it down), and the replica pool (seqbench.runtime.pool) is on, so that jobs of one model in
    different modules share loaded replicas ($SEQBENCH_KEEP_REPLICAS above); modules without local_ray
    use this Ray too while it runs; _session_ray shuts both down at the end."""
    import ray

    if not ray.is_initialized():
        ray.init(**RAY_ARGS)
    yield
