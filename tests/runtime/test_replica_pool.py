"""Warm replicas kept between the jobs of one driver (seqbench.runtime.pool), on tiny planted jobs.

Known answers: the replica's process id (the same process served both jobs, or a new one did), Ray's
own view of an actor (dead after it was released), the rows of a job run without the pool (equal bit
for bit), and the prediction cache's forward-pass count of a first job (a kept replica reads the cache
from disk again, so an emptied cache is recomputed, not served from memory).  The tests share one kept
replica where they can: each cold start costs seconds.  The pool's bookkeeping (settings kept, which
replicas go when a new job needs room, Ray sessions) is tested on trivial actors, which start in a moment.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.multiplicativity import demo as mx_demo
from seqbench.spec import deep_merge, parse_spec

pytestmark = pytest.mark.ray

TINY = {"max_promoters": 2, "max_enhancers": 3, "max_backgrounds": 1}
KEY = ["construct_id", "member"]


def _spec(cache_dir: Path, model: dict[str, Any] | None = None, **runtime: Any):
    root = ensure_demo(cache_dir).root
    raw = deep_merge(mx_demo.demo_spec(root), {"inputs": TINY, "model": {"kind": "planted", **(model or {})},
                                               "runtime": {"replicas": 1, "shard_size": 8, **runtime}})
    return parse_spec(raw, origin="test", base_dir=root)


def _rows(job: Path) -> pd.DataFrame:
    rows = pd.concat([pq.read_table(p).to_pandas() for p in sorted((job / "parts").glob("part-*.parquet"))])
    return rows.sort_values(KEY).reset_index(drop=True)


def _pids(pool, key=None) -> list[int]:
    """Process ids of the kept replicas (of ``key``; of the only key held when None)."""
    import ray

    held = pool.POOL._held
    if key is None:
        assert len(held) == 1, list(held)
        key = next(iter(held))
    return sorted(ray.get([a.pid.remote() for a in held[key]]))


@pytest.fixture
def pool(local_ray, monkeypatch):
    from seqbench.runtime import pool as pool_module

    monkeypatch.setenv(pool_module.KEEP_ENV, "1")  # one setting kept, as a user's default
    pool_module.keep_replicas(True)
    yield pool_module
    pool_module.keep_replicas(None)


def _run(spec, job: Path) -> Path:
    from seqbench.runtime.submit import submit

    return submit(spec, job_dir=job, progress=False).job_dir


def _status(job: Path) -> dict[str, Any]:
    from typer.testing import CliRunner

    from seqbench.cli import app

    res = CliRunner().invoke(app, ["status", str(job), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_a_second_job_runs_on_the_kept_replica_and_a_dead_one_is_replaced(cache_dir, tmp_path, pool):
    import ray

    spec = _spec(cache_dir)
    first = _run(spec, tmp_path / "a")
    kept = _pids(pool)
    assert len(kept) == 1
    second = _run(spec, tmp_path / "b")
    assert _pids(pool) == kept  # the same process served the second job
    assert "1 replica(s) of planted-v1 started" in (second / "log.txt").read_text()
    pd.testing.assert_frame_equal(_rows(second), _rows(first), check_exact=True)

    (actor,) = next(iter(pool.POOL._held.values()))
    ray.kill(actor)  # dies while kept: the next job must not be handed it
    third = _run(spec, tmp_path / "c")
    assert len(_pids(pool)) == 1 and _pids(pool) != kept
    pd.testing.assert_frame_equal(_rows(third), _rows(first), check_exact=True)

    pool.keep_replicas(False)  # off: the kept replica is killed
    assert len(pool.POOL) == 0
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(actor.pid.remote(), timeout=30)


def test_a_job_that_asks_other_tracks_or_windows_of_the_same_model_reuses_its_replica(cache_dir, tmp_path, pool):
    """A model's per-job track requests and receptive-field windows are arguments of each predict call, not
    of the loaded model: a job that names them runs on the replica another job left, with the rows a
    fresh replica gives (the first job's, bit for bit)."""
    spec = _spec(cache_dir)
    first = _run(spec, tmp_path / "a")
    kept = _pids(pool)
    root = ensure_demo(cache_dir).root
    raw = deep_merge(mx_demo.demo_spec(root), {"inputs": TINY, "runtime": {"replicas": 1, "shard_size": 8}})
    raw.pop("model", None)
    raw["models"] = [{"kind": "planted", "windows": [0], "tracks": {"cage": {"assay": "CAGE", "cell_type": "K562"}}}]
    other = parse_spec(raw, origin="test", base_dir=root)
    assert other.models[0].windows == (0,) and other.models[0].tracks and not spec.model.tracks
    second = _run(other, tmp_path / "b")
    assert _pids(pool) == kept
    pd.testing.assert_frame_equal(_rows(second), _rows(first), check_exact=True)


def test_a_cancelled_job_keeps_no_replica(cache_dir, tmp_path, pool):
    from seqbench.runtime.pipeline import JobCancelled, PipelinePlan, run_pipeline
    from seqbench.runtime.submit import plan_job
    from seqbench.spec import RuntimeSpec

    pool.release_replicas()
    spec = _spec(cache_dir)
    p = plan_job(spec)
    plan = PipelinePlan(shards=[(i, [i]) for i in range(p.design.n_constructs)], builder=p.design.build,
                        fasta=str(spec.fasta), geometry=p.geometry, ensemble=spec.ensemble, tracks=p.tracks,
                        model=spec.model, cache_dir=str(cache_dir))
    done: list[int] = []
    with pytest.raises(JobCancelled):
        run_pipeline(plan, RuntimeSpec(replicas=1), lambda shard, _t: done.append(shard),
                     should_stop=lambda: len(done) >= 1)
    assert done and len(pool.POOL) == 0


@pytest.mark.slow
def test_an_elastic_job_takes_its_extras_from_the_kept_replicas(cache_dir, tmp_path, pool):
    """Kept replicas left aside would hold what new elastic extras wait for (a GPU): the next job of the same
    setting takes every kept one, its minimum and its extras."""
    import time

    from seqbench.runtime.pipeline import PipelinePlan, run_pipeline
    from seqbench.runtime.submit import plan_job
    from seqbench.spec import RuntimeSpec

    spec = _spec(cache_dir)
    p = plan_job(spec)
    n = p.design.n_constructs  # 20 one-construct shards (constructs repeat): up to 40 s for the extra to join
    plan = PipelinePlan(shards=[(i, [i % n]) for i in range(20)], builder=p.design.build,
                        fasta=str(spec.fasta), geometry=p.geometry, ensemble=spec.ensemble, tracks=p.tracks,
                        model=spec.model, cache_dir=str(cache_dir))
    runtime = RuntimeSpec(replicas=1, max_replicas=2, max_in_flight=1)
    events: list[str] = []

    def slow_part(_shard, _table):  # a job long enough for the extra to load and join
        if not any("joined" in e for e in events):
            time.sleep(2.0)

    run_pipeline(plan, runtime, slow_part, on_event=events.append)
    assert any(e == "replica 1 joined" for e in events), events
    kept = _pids(pool)
    assert len(kept) == 2
    events.clear()
    run_pipeline(plan, runtime, lambda *_a: None, on_event=events.append)
    assert _pids(pool) == kept and "replica 1 joined" in events  # the extra is a kept one, no new load


def test_a_kept_replica_reads_the_prediction_cache_again(cache_dir, tmp_path, pool):
    pc = tmp_path / "pc"
    spec = _spec(cache_dir, prediction_cache=str(pc))
    first = _status(_run(spec, tmp_path / "a"))
    assert first["forward_passes"] > 0
    kept = _pids(pool)
    assert _status(_run(spec, tmp_path / "b"))["forward_passes"] == 0  # served from the cache
    shutil.rmtree(pc)  # emptied between jobs: the kept replica must not serve what it remembers
    third = _status(_run(spec, tmp_path / "c"))
    assert _pids(pool) == kept
    assert (third["forward_passes"], third["cache_hits"]) == (first["forward_passes"], first["cache_hits"])


def test_a_ray_that_a_job_started_stays_up_while_the_pool_holds_its_replica(cache_dir, tmp_path, pool):
    import ray

    from tests.conftest import RAY_ARGS

    spec = _spec(cache_dir)
    ray.shutdown()  # the session's Ray: started again below with local_ray's settings
    try:
        # without a Ray, the job starts one; it stays up while the pool holds its replica, so a second job
        # of the driver (a notebook's) finds the replica
        _run(spec, tmp_path / "a")
        assert ray.is_initialized() and len(pool.POOL) == 1
        pid = _pids(pool)
        _run(spec, tmp_path / "b")
        assert _pids(pool) == pid
        key = pool.POOL.keys()[0]
    finally:
        ray.shutdown()
        ray.init(**RAY_ARGS)
    assert len(pool.POOL) == 0 and pool.POOL.take(key, 1) == []  # a new session: nothing of the old one


# ---------------------------------------------------------------- the bookkeeping, on trivial actors


class _Idle:
    """Stands in for a ModelReplica: the pool only calls ``pid``."""

    def pid(self) -> int:
        import os

        return os.getpid()


@pytest.fixture
def actors(local_ray):
    import sys

    import ray
    from ray import cloudpickle

    # this test module is not importable in Ray's workers: send the class by value
    cloudpickle.register_pickle_by_value(sys.modules[_Idle.__module__])
    remote = ray.remote(num_cpus=0)(_Idle)
    made: list[Any] = []

    def make(n: int = 1) -> list[Any]:
        new = [remote.remote() for _ in range(n)]
        ray.get([a.pid.remote() for a in new])
        made.extend(new)
        return new

    yield make
    for a in made:
        ray.kill(a)
    cloudpickle.unregister_pickle_by_value(sys.modules[_Idle.__module__])


def _alive(actor) -> bool:
    import ray

    try:
        ray.get(actor.pid.remote(), timeout=30)
    except ray.exceptions.RayActorError:
        return False
    return True


@pytest.fixture
def fresh_pool(monkeypatch):
    from seqbench.runtime import pool as pool_module

    monkeypatch.setenv(pool_module.KEEP_ENV, "2")
    return pool_module.ReplicaPool(), pool_module


def test_kept_settings_are_least_recently_used_first_out(actors, fresh_pool, monkeypatch):
    pool, module = fresh_pool
    (a,), (b,), (c,) = actors(), actors(), actors()
    pool.give(("A",), [a])
    pool.give(("B",), [b])
    assert pool.take(("A",), 1) == [a]  # taken: A is no longer kept
    pool.give(("A",), [a])  # A is now the most recent
    pool.give(("C",), [c])  # a third setting with two kept: B, the least recently used, goes
    assert pool.keys() == [("A",), ("C",)] and not _alive(b) and _alive(a) and _alive(c)
    assert pool.take(("B",), 1) == []
    monkeypatch.setenv(module.KEEP_ENV, "1")
    pool.give(("C",), [])
    assert pool.keys() == [("C",)] and not _alive(a)


def test_take_hands_out_at_most_n_and_keeps_the_rest(actors, fresh_pool):
    pool, _ = fresh_pool
    two = actors(2)
    pool.give(("A",), two)
    got = pool.take(("A",), 1)
    assert len(got) == 1 and len(pool) == 1
    assert pool.take(("A",), 5) == [a for a in two if a is not got[0]] and len(pool) == 0


def test_a_dead_kept_actor_is_never_handed_out(actors, fresh_pool):
    import ray

    pool, _ = fresh_pool
    dead, live = actors(2)
    pool.give(("A",), [live, dead])
    ray.kill(dead)  # asynchronous: wait until Ray itself says the actor is dead (a call on it fails)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            ray.get(dead.pid.remote(), timeout=5)
        except ray.exceptions.RayActorError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("ray.kill did not take effect within 30 s")
    assert pool.take(("A",), 2) == [live]


def test_new_gpu_replicas_release_every_kept_gpu_replica(actors, fresh_pool):
    pool, _ = fresh_pool
    (g,), (c,) = actors(), actors()
    pool.give(("gpu",), [g], cpus=1, gpus=1)
    pool.give(("cpu",), [c], cpus=0.5, gpus=0)
    assert pool.take(("other gpu",), 1, cpus=1, gpus=1) == []
    assert pool.keys() == [("cpu",)] and not _alive(g) and _alive(c)


def test_new_replicas_release_the_least_recent_while_cpus_are_short(actors, fresh_pool, monkeypatch):
    pool, module = fresh_pool
    (a,), (b,) = actors(), actors()
    pool.give(("A",), [a], cpus=1)
    pool.give(("B",), [b], cpus=1)
    free = iter([0.5, 2.0])  # Ray's free CPUs before and after the first kept replica goes
    monkeypatch.setattr(module, "_free", lambda _resource: next(free))
    assert pool.take(("C",), 1, cpus=1, spare_cpus=0.25) == []
    # 0.5 < 1 + 0.25: A, the least recent, goes; then 2.0 is enough and B stays
    assert pool.keys() == [("B",)] and not _alive(a) and _alive(b)
    monkeypatch.setattr(module, "_free", lambda _resource: 9.0)
    assert pool.take(("C",), 1, cpus=1, spare_cpus=0.25) == [] and pool.keys() == [("B",)]


def test_another_ray_session_forgets_what_was_kept(actors, fresh_pool, monkeypatch):
    pool, module = fresh_pool
    (a,) = actors()
    pool.give(("A",), [a])
    monkeypatch.setattr(module, "_session", lambda: ("10.0.0.1:6379", "another node"))
    assert len(pool) == 0 and pool.take(("A",), 1) == []
    assert _alive(a)  # not this session's to kill: it dies with its own
