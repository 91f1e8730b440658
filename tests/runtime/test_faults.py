"""Long jobs that survive: faults injected mid-job on the tiny demo design (24 constructs, small
shards so that every fault lands with shards still queued).

Every test checks the job's contract against one uninterrupted run (the module's reference):
each planned row key (construct_id, member) exactly once, and the rows equal to the reference.

- a model replica SIGKILLed -> the job completes (Ray restarts it, the driver reruns its shards);
- a worker node of a 2-node simulated cluster removed -> the job completes on the other node's
  replica (slow); the only GPU node removed -> the driver waits, a new node takes the restarted
  replica and the job completes (slow);
- the driver SIGKILLed with its Ray -> ``resume`` completes the job, parts already written stay (slow);
- a part write fails (disk full) -> the job fails with the reason, ``resume`` completes it;
- a construct that cannot be built -> the job fails naming shard and construct, nothing written is lost;
- ``seqbench-ray cancel`` -> the job stops as ``cancelled`` (exit 130), ``resume`` completes it (slow);
- the rows do not depend on replicas, shard size or how many times the job was resumed (slow).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.multiplicativity import demo as mx_demo
from seqbench.experiments.multiplicativity import design as mx
from seqbench.runtime.jobdir import JobDir
from seqbench.spec import deep_merge, parse_spec

pytestmark = pytest.mark.ray

TINY = {"max_promoters": 3, "max_enhancers": 4, "max_backgrounds": 2}
N_CONSTRUCTS = 3 * 4 * 2
N_MEMBERS = 6  # strands x shifts of the default ensemble
KEY = ["construct_id", "member"]
RAY_ARGS: dict[str, Any] = {
    "address": "local",
    "num_cpus": 4,  # ray-notes §3: 4 logical CPUs on a 2-core box, so nothing starves
    "object_store_memory": 300 * 1024**2,
    "include_dashboard": False,
    "log_to_driver": False,
}
JOB_TIMEOUT_S = 300


# ---------------------------------------------------------------- specs, rows, checks


def _raw_spec(cache_dir: Path, **runtime: Any) -> dict[str, Any]:
    return deep_merge(mx_demo.demo_spec(ensure_demo(cache_dir).root), {"inputs": TINY, "runtime": runtime})


def _spec(cache_dir: Path, **runtime: Any):
    return parse_spec(_raw_spec(cache_dir, **runtime), origin="test", base_dir=cache_dir)


def _spec_toml(path: Path, cache_dir: Path, **runtime: Any) -> Path:
    """The tiny design as a spec file for the CLI."""

    def value(v: Any) -> str:
        return json.dumps(v)  # strings, ints and booleans are written alike in TOML

    lines = [
        'experiment = "multiplicativity"',
        f"data_root = {value(str(ensure_demo(cache_dir).root))}",
        "[model]",
        f"kind = {value(_raw_spec(cache_dir)['model']['kind'])}",  # the demo's model, as the reference rows
        "[tracks]",
        'cage = { assay = "CAGE", cell_type = "K562" }',
        'dnase = { assay = "DNASE", cell_type = "K562" }',
        "[inputs]",
        *(f"{k} = {value(v)}" for k, v in TINY.items()),
        "[runtime]",
        *(f"{k} = {value(v)}" for k, v in runtime.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _parts(job: Path) -> list[Path]:
    return sorted((job / "parts").glob("part-*.parquet")) if (job / "parts").is_dir() else []


def _mtimes(job: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in _parts(job)}


def _rows(job: Path) -> pd.DataFrame:
    rows = pd.concat([pq.read_table(p).to_pandas() for p in _parts(job)])
    return rows.sort_values(KEY).reset_index(drop=True)


def _status(job: Path) -> dict[str, Any]:
    return json.loads((job / "status.json").read_text())


def _log(job: Path) -> str:
    return (job / "log.txt").read_text()


def _assert_exactly_once(rows: pd.DataFrame) -> None:
    assert not rows.duplicated(KEY).any(), "a row key appears more than once"
    planned = pd.MultiIndex.from_product([range(N_CONSTRUCTS), range(N_MEMBERS)], names=KEY)
    got = pd.MultiIndex.from_frame(rows[KEY].astype("int64"))
    assert got.sort_values().equals(planned), "planned row keys missing or unplanned keys present"


def _assert_job_matches(job: Path, reference: pd.DataFrame) -> None:
    """Complete, every planned row key exactly once, rows equal to the uninterrupted run's."""
    assert _status(job)["state"] == "complete"
    assert (job / "summary.json").is_file()
    rows = _rows(job)
    _assert_exactly_once(rows)
    pd.testing.assert_frame_equal(rows, reference, check_exact=True)
    assert not [p for p in (job / "parts").iterdir() if p.name != "_tmp" and not p.name.startswith("part-")]


# ---------------------------------------------------------------- Ray, threads, processes


def _ensure_local_ray() -> None:
    import ray

    if not ray.is_initialized():
        ray.init(**RAY_ARGS)


@pytest.fixture(scope="module", autouse=True)
def _ray_down_after_module():
    yield
    import ray

    ray.shutdown()


@pytest.fixture
def local_ray():
    """Local Ray in this process (kept for the module; the cluster test swaps it for its cluster)."""
    _ensure_local_ray()


@pytest.fixture(scope="module")
def reference(cache_dir, tmp_path_factory) -> pd.DataFrame:
    """Rows of one uninterrupted in-process run (one replica, shards of 5)."""
    from seqbench.runtime.submit import submit

    _ensure_local_ray()
    result = submit(_spec(cache_dir, replicas=1, shard_size=5), job_dir=tmp_path_factory.mktemp("ref") / "job",
                    progress=False)
    rows = _rows(result.job_dir)
    _assert_exactly_once(rows)
    return rows


class _Background:
    """``fn()`` in a thread (the driver, while the test injects a fault from the main thread)."""

    def __init__(self, fn: Callable[[], Any]):
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = fn()
            except BaseException as exc:  # re-raised by join()
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout: float = JOB_TIMEOUT_S) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the job did not finish within {timeout} s"
        if self.error is not None:
            raise self.error
        return self.result


def _wait_for(cond: Callable[[], bool], what: str, alive: Callable[[], bool] | None = None,
              timeout: float = JOB_TIMEOUT_S) -> None:
    deadline = time.time() + timeout
    while not cond():
        if alive is not None and not alive():
            raise AssertionError(f"the job ended before {what}")
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, session id, command line), from /proc (Linux)."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmd = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state, ppid, pgrp, session, ...
        out[int(entry.name)] = (int(fields[1]), int(fields[3]), cmd.strip())
    return out


def _descendants(root: int) -> dict[int, str]:
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _sid, _cmd) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out[pid] = procs[pid][2]
        todo += children.get(pid, [])
    return out


def _replica_pids() -> list[int]:
    """Model replica actors of the Ray this process started (not another test run's Ray)."""
    return [pid for pid, cmd in _descendants(os.getpid()).items() if "ModelReplica" in cmd]


def _kill_session(sid: int) -> None:
    """SIGKILL whatever is left of a session this test started (orphaned Ray processes)."""
    for pid, (_ppid, s, _cmd) in _processes().items():
        if s == sid and pid != os.getpid():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _cli_env(cache_dir: Path) -> dict[str, str]:
    return {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir), "RAY_USAGE_STATS_ENABLED": "0",
            "TF_CPP_MIN_LOG_LEVEL": "2"}


@contextmanager
def _cli_background(args: list[str], cache_dir: Path, out: Path, *, python_code: str | None = None
                    ) -> Iterator[subprocess.Popen]:
    """``python -m seqbench.cli ARGS`` in its own session (its Ray too); stdout/stderr to files
    ``out``.stdout/.stderr; the whole session is SIGKILLed on the way out."""
    cmd = [sys.executable, "-c", python_code, *args] if python_code else [sys.executable, "-m", "seqbench.cli", *args]
    with open(out.with_suffix(".stdout"), "w") as so, open(out.with_suffix(".stderr"), "w") as se:
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, env=_cli_env(cache_dir), cwd=out.parent,
                                start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _kill_session(proc.pid)


def _cli(args: list[str], cache_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.Popen([sys.executable, "-m", "seqbench.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_cli_env(cache_dir), cwd=cwd,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=JOB_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _kill_session(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# ---------------------------------------------------------------- 1. a replica SIGKILLed


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the replica process through /proc")
def test_replica_killed_mid_job_completes(cache_dir, tmp_path, local_ray, reference):
    from seqbench.runtime.submit import submit

    job = tmp_path / "job"
    spec = _spec(cache_dir, replicas=1, shard_size=2, max_in_flight=1)  # 12 shards, one at a time
    driver = _Background(lambda: submit(spec, job_dir=job, progress=False))
    _wait_for(lambda: len(_parts(job)) >= 1, "the first part", driver.alive)
    victims = _replica_pids()  # the job's one replica (and a previous job's, if still exiting)
    done_at_kill = len(_parts(job))
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    driver.join()
    # the only replica died with shards still queued: they all ran on its restarted incarnation
    assert done_at_kill <= 12 - 3
    _assert_job_matches(job, reference)
    log = _log(job)
    assert "replica 0 lost" in log and "replica 0 is back" in log and "runs again" in log


# ---------------------------------------------------------------- 4. a part write fails


@pytest.mark.slow
def test_part_write_failure_fails_job_then_resume_completes(cache_dir, tmp_path, local_ray, reference, monkeypatch):
    """The disk fills up while shard 5's part is written: half a file lands in parts/_tmp, then ENOSPC."""
    from seqbench.runtime.jobdir import JobDirError
    from seqbench.runtime.submit import resume, submit

    write_table = pq.write_table

    def disk_full_on_part_5(table, where, *args, **kwargs):
        path = Path(where) if isinstance(where, str | os.PathLike) else None
        if path is not None and path.parent.name == "_tmp" and path.name.startswith("part-000005."):
            path.write_bytes(b"PAR1 half a part")
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_table(table, where, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", disk_full_on_part_5)
    job = tmp_path / "job"
    with pytest.raises(JobDirError, match="No space left on device"):
        submit(_spec(cache_dir, replicas=1, shard_size=2), job_dir=job, progress=False)
    status = _status(job)
    assert status["state"] == "failed"
    assert "No space left on device" in status["reason"] and "part-000005" in status["reason"]
    assert not (job / "summary.json").exists()
    assert 5 not in JobDir(job).done_shards()
    assert not list((job / "parts" / "_tmp").iterdir())  # the half-written part was removed
    kept = _mtimes(job)

    monkeypatch.undo()  # space freed
    resume(job, progress=False)
    _assert_job_matches(job, reference)
    assert all(_mtimes(job)[k] == v for k, v in kept.items())  # parts written before were kept


# ---------------------------------------------------------------- 5. a construct that cannot be built


@pytest.mark.slow
def test_bad_construct_fails_job_naming_shard_and_construct(cache_dir, tmp_path, local_ray, reference, monkeypatch):
    """Construct 13 (shard 6 of 12) cannot be built: found only when its shard is materialized.

    No construct of the demo design can be made to fail alone from the data (a bad background or
    enhancer row spoils several constructs, and ``expand`` already refuses the rest), so the
    design's builder is wrapped.  The wrapper is a class local to this test: cloudpickle ships it
    by value with the builder, so it takes effect in the Ray workers that materialize shards.
    """
    from typer.testing import CliRunner

    from seqbench.cli import app
    from seqbench.experiment import Design
    from seqbench.runtime.submit import resume

    class BreaksOn:
        def __init__(self, inner, bad: int):
            self.inner, self.bad = inner, bad

        def __call__(self, construct_id: int):
            if construct_id == self.bad:  # the message does not name the construct: the runtime must
                raise ValueError("promoter window runs off the chromosome")
            return self.inner(construct_id)

    import dataclasses

    from seqbench import registry

    expand = mx.expand

    def expand_with_bad_construct(spec, genome, geometry):
        design = expand(spec, genome, geometry)
        return Design(design.table, BreaksOn(design.build, 13))

    patched = tuple(
        dataclasses.replace(e, expand=expand_with_bad_construct) if e.name == "multiplicativity" else e
        for e in registry.BUILTINS
    )
    monkeypatch.setattr(registry, "BUILTINS", patched)
    job = tmp_path / "job"
    spec_file = _spec_toml(tmp_path / "tiny.toml", cache_dir, replicas=1, shard_size=2)
    res = CliRunner().invoke(app, ["submit", "multiplicativity", "--spec", str(spec_file), "--job-dir", str(job),
                                   "--quiet"])
    assert res.exit_code == 2, res.output
    message = res.stderr.strip()
    assert len(message.splitlines()) == 1 and message.startswith("seqbench-ray: error:")
    assert "shard 6" in message and "construct 13" in message and "promoter window" in message
    status = _status(job)
    assert status["state"] == "failed"
    assert "shard 6" in status["reason"] and "construct 13" in status["reason"]
    assert not (job / "summary.json").exists()
    # nothing started is lost: every shard before the bad one (and any that were in flight with it)
    # has its part; the job stops starting new shards (docs/job-directory.md)
    done = JobDir(job).done_shards()
    assert set(range(6)) <= done and 6 not in done
    kept = _mtimes(job)

    monkeypatch.undo()  # the builder fixed (the design and its hash are unchanged)
    resume(job, progress=False)
    _assert_job_matches(job, reference)
    assert all(_mtimes(job)[k] == v for k, v in kept.items())


def test_replicas_that_can_never_be_placed_fail_the_job_clearly(cache_dir, tmp_path, local_ray, monkeypatch):
    """Asking for GPU replicas on a local cluster without GPUs (which cannot grow): a one-line failure at
    once, before any replica waits, and the job says so."""
    import time

    from seqbench.runtime import pipeline
    from seqbench.runtime.submit import submit

    monkeypatch.setattr(pipeline, "REPLICA_WAIT_S", 600.0)  # a wait would show as a hang
    job = tmp_path / "job"
    t0 = time.time()
    with pytest.raises(pipeline.PipelineError, match=r"runtime.gpus_per_replica = 1 but the Ray cluster has no GPU"):
        submit(_spec(cache_dir, replicas=1, gpus_per_replica=1, shard_size=6), job_dir=job, progress=False)
    assert time.time() - t0 < 120
    assert _status(job)["state"] == "failed" and "has no GPU" in _status(job)["reason"]


# ---------------------------------------------------------------- 2. a worker node lost (simulated cluster)


NODE_STORE = 200 * 1024**2


@pytest.fixture
def ray_cluster(request):
    """Head (2 CPUs, ``request.param`` fake GPUs, default 1) + a worker node (1 CPU, 1 fake GPU);
    this process is the driver.  Yields (cluster, worker node)."""
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()  # the module's local Ray: a driver talks to one Ray at a time
    head_gpus = getattr(request, "param", 1)
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 2, "num_gpus": head_gpus, "object_store_memory": NODE_STORE})
    try:
        worker = cluster.add_node(num_cpus=1, num_gpus=1, object_store_memory=NODE_STORE)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="checks the replica processes through /proc")
def test_worker_node_lost_job_finishes_on_the_other_replica(cache_dir, tmp_path, reference, ray_cluster):
    """One replica per node (a GPU each); the worker node dies mid-job.  Its replica cannot be
    restarted (no GPU left) and the job carries on with the head's replica."""
    from seqbench.runtime.submit import submit

    cluster, worker = ray_cluster
    job = tmp_path / "job"
    spec = _spec(cache_dir, replicas=2, gpus_per_replica=1, shard_size=2)
    driver = _Background(lambda: submit(spec, job_dir=job, progress=False))
    _wait_for(lambda: len(_parts(job)) >= 1, "the first part", driver.alive)
    assert len(_replica_pids()) == 2  # one on each node
    cluster.remove_node(worker, allow_graceful=False)
    done_at_loss = len(_parts(job))
    driver.join()
    assert done_at_loss <= 12 - 3
    _assert_job_matches(job, reference)
    assert "lost; shards go to the other replicas" in _log(job)


@pytest.mark.slow
@pytest.mark.parametrize("ray_cluster", [0], indirect=True, ids=["gpu-only-on-worker"])
def test_only_gpu_node_lost_then_replaced_job_completes(cache_dir, tmp_path, reference, ray_cluster):
    """The only GPU is on the worker node: when it dies no replica is left and the driver waits;
    a new node (a preempted machine replaced) gets the restarted replica and the job completes."""
    from seqbench.runtime.submit import submit

    cluster, worker = ray_cluster
    job = tmp_path / "job"
    spec = _spec(cache_dir, replicas=1, gpus_per_replica=1, shard_size=2)
    driver = _Background(lambda: submit(spec, job_dir=job, progress=False))
    _wait_for(lambda: len(_parts(job)) >= 1, "the first part", driver.alive)
    cluster.remove_node(worker, allow_graceful=False)
    _wait_for(lambda: "replica 0 lost" in _log(job), "the driver to notice", driver.alive, timeout=60)
    stalled = len(_parts(job))
    time.sleep(2)
    assert len(_parts(job)) == stalled < 12 and driver.alive()  # waiting for a replica, not failing
    cluster.add_node(num_cpus=1, num_gpus=1, object_store_memory=NODE_STORE)  # from the main thread only
    driver.join()
    _assert_job_matches(job, reference)
    assert "replica 0 is back" in _log(job)


# ---------------------------------------------------------------- 3. the driver SIGKILLed


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="cleans up Ray processes through /proc")
def test_driver_killed_then_resume_completes(cache_dir, tmp_path, reference):
    job = tmp_path / "job"
    spec_file = _spec_toml(tmp_path / "tiny.toml", cache_dir, replicas=1, shard_size=2, num_cpus=4)
    args = ["submit", "multiplicativity", "--spec", str(spec_file), "--job-dir", str(job), "--quiet"]
    with _cli_background(args, cache_dir, tmp_path / "submit") as proc:
        _wait_for(lambda: len(_parts(job)) >= 2, "two parts", lambda: proc.poll() is None)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started
        proc.wait()
        kept = _mtimes(job)
    assert 2 <= len(kept) < 12

    st = _cli(["status", str(job), "--json"], cache_dir, tmp_path)
    assert st.returncode == 0, st.stderr[-2000:]
    info = json.loads(st.stdout)
    assert info["state"] == "interrupted" and "resume" in info["reason"]
    assert info["shards_done"] == len(kept)

    res = _cli(["resume", str(job), "--quiet"], cache_dir, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    _assert_job_matches(job, reference)
    after = _mtimes(job)
    assert all(after[k] == v for k, v in kept.items())  # parts written before the kill were not rewritten
    assert json.loads(_cli(["status", str(job), "--json"], cache_dir, tmp_path).stdout)["state"] == "complete"


# ---------------------------------------------------------------- 6. cancel


#: ``seqbench-ray cancel JOB`` as soon as JOB has a part (imports done first, so that the request
#: lands mid-job even on a tiny job)
CANCEL_AT_FIRST_PART = """
import sys, time
from pathlib import Path
import seqbench.cli, seqbench.runtime.submit
job = Path(sys.argv[1])
deadline = time.time() + 300
while not any(job.glob("parts/part-*.parquet")):
    if time.time() > deadline:
        sys.exit("no part appeared")
    time.sleep(0.02)
sys.argv = ["seqbench-ray", "cancel", str(job)]
seqbench.cli.main()
"""


@pytest.mark.slow
def test_cancel_stops_job_then_resume_completes(cache_dir, tmp_path, reference):
    job = tmp_path / "job"
    spec_file = _spec_toml(tmp_path / "tiny.toml", cache_dir, replicas=1, shard_size=2, num_cpus=4)
    args = ["submit", "multiplicativity", "--spec", str(spec_file), "--job-dir", str(job), "--quiet"]
    with _cli_background(args, cache_dir, tmp_path / "submit") as proc, \
            _cli_background([str(job)], cache_dir, tmp_path / "cancel", python_code=CANCEL_AT_FIRST_PART) as canceller:
        assert canceller.wait(timeout=JOB_TIMEOUT_S) == 0, (tmp_path / "cancel.stderr").read_text()[-2000:]
        assert proc.wait(timeout=JOB_TIMEOUT_S) == 130
    assert "cancelled" in (tmp_path / "cancel.stdout").read_text()
    stderr = (tmp_path / "submit.stderr").read_text()
    ours = [line for line in stderr.splitlines() if line.startswith("seqbench-ray")]
    assert len(ours) == 1 and "cancelled" in ours[0] and "resume" in ours[0], stderr[-2000:]
    assert "Traceback" not in stderr
    status = _status(job)
    assert status["state"] == "cancelled"
    assert not (job / "summary.json").exists() and not (job / "cancel.request").exists()
    kept = _mtimes(job)
    assert 1 <= len(kept) < 12

    res = _cli(["resume", str(job), "--quiet"], cache_dir, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    _assert_job_matches(job, reference)
    assert all(_mtimes(job)[k] == v for k, v in kept.items())


# ---------------------------------------------------------------- 7. determinism


@pytest.mark.slow
@pytest.mark.parametrize(("replicas", "shard_size", "resume_replicas", "stops"), [(1, 2, 2, 3), (2, 3, 1, 1)])
def test_rows_identical_whatever_replicas_shards_and_resumptions(
    cache_dir, tmp_path, local_ray, reference, monkeypatch, replicas, shard_size, resume_replicas, stops
):
    """The job is stopped (cancel request) after the first part of each of its first ``stops`` runs and
    resumed with another replica count each time: the rows are still the reference's."""
    from seqbench.runtime.pipeline import JobCancelled
    from seqbench.runtime.submit import CANCEL_REQUEST, resume, submit

    write_part = JobDir.write_part
    stopped = [0]

    def stop_after_part(self, shard, table, variant=None):
        size = write_part(self, shard, table, variant)
        if stopped[0] < stops:
            (self.path / CANCEL_REQUEST).touch()
        return size

    monkeypatch.setattr(JobDir, "write_part", stop_after_part)
    job = tmp_path / "job"
    runs = 0
    while True:
        try:
            if runs == 0:
                submit(_spec(cache_dir, replicas=replicas, shard_size=shard_size), job_dir=job, progress=False)
            else:
                resume(job, progress=False, runtime_overrides={"replicas": resume_replicas})
            break
        except JobCancelled:
            stopped[0] += 1
            assert _status(job)["state"] == "cancelled"
        runs += 1
    assert stopped[0] == stops
    _assert_job_matches(job, reference)


# ---------------------------------------------------------------- elastic pool: a GPU node joins mid-job


@pytest.mark.slow
def test_elastic_pool_grows_when_a_gpu_node_joins(cache_dir, tmp_path, monkeypatch):
    """replicas 1..2 on a cluster with one GPU: the second replica waits unplaced; a GPU node that
    joins mid-job gets it and it takes shards; every planned row exactly once, all summary figures
    as without the extra node."""
    import ray
    from ray.cluster_utils import Cluster

    from seqbench.runtime.submit import submit

    job = tmp_path / "job"
    write_part = JobDir.write_part

    def paced(self, shard, table, variant=None):
        # until the second replica has joined, each part waits a moment (at most 96 x 0.25 s): the planted
        # model predicts a shard in milliseconds, far sooner than a new node's replica loads
        size = write_part(self, shard, table, variant)
        if "replica 1 joined" not in _log(job):
            time.sleep(0.25)
        return size

    monkeypatch.setattr(JobDir, "write_part", paced)
    ray.shutdown()
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 2, "num_gpus": 1, "object_store_memory": NODE_STORE})
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        # a longer job than the tiny design (96 shards), paced above: the joining replica needs seconds to load
        raw = deep_merge(_raw_spec(cache_dir, replicas=1, max_replicas=2, gpus_per_replica=1, shard_size=1,
                                   max_in_flight=1),
                         {"inputs": {"max_promoters": 4, "max_enhancers": 6, "max_backgrounds": 4}})
        spec = parse_spec(raw, origin="test", base_dir=cache_dir)
        driver = _Background(lambda: submit(spec, job_dir=job, progress=False))
        _wait_for(lambda: len(_parts(job)) >= 1, "the first part", driver.alive)
        assert "joined" not in _log(job)
        cluster.add_node(num_cpus=1, num_gpus=1, object_store_memory=NODE_STORE)  # from the main thread only
        joined_at = None
        while driver.alive():
            if joined_at is None and "replica 1 joined" in _log(job):
                joined_at = len(_parts(job))
            time.sleep(0.2)
        result = driver.join()
        assert joined_at is not None and joined_at < 96, "the joining replica came after the last shard"
        rows = _rows(job)
        assert len(rows) == 96 * 6 and not rows.duplicated(KEY).any()
        assert result.summary["n_members"] == 96 * 6
    finally:
        ray.shutdown()
        cluster.shutdown()
