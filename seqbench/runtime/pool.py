"""Warm model replicas kept between the jobs of one driver process.

A replica costs seconds to start before it predicts anything: a new worker process, the
TensorFlow import (about 3 s on 2 cores), the model's load and warm-up.  A driver that runs
several jobs one after another (a notebook through the Python API, a script looping over specs,
the test suite) pays that once per job.  With ``$SEQBENCH_KEEP_REPLICAS=1`` (or
:func:`keep_replicas`) a job that ends normally hands its healthy replicas to this pool instead of
killing them, and the next job of the same driver that asks for replicas *of the same key* takes
them back: the same models (kind, head, handle, batch size, precision, ...; the model files'
sizes and modification times; not the tracks or windows a job asks of them, which each predict
call passes), the same cache directory, TF thread count, prediction cache and Ray resources per
replica.  The pool keeps the replicas of the last setting, or of the last N
with ``$SEQBENCH_KEEP_REPLICAS=N``; a job that must start new replicas first kills kept ones of
other settings that could stand in its way (every GPU replica when it needs GPUs, the least
recently used while Ray has too few free CPUs), so idle replicas never hold what a job needs.  A
job that fails or is cancelled kills its replicas, as without the pool.

The pool belongs to one Ray session: after ``ray.shutdown`` (or a connection to another cluster)
it forgets its handles, whose actors died with the session.  A replica taken back answers a
short probe first; one that does not is killed and replaced by a new one.  Each taken replica
re-opens its prediction-cache entries (:meth:`seqbench.runtime.replica.ModelReplica.reuse`), so
it serves what is on disk now, like a new one.

The CLI runs one job per process, so there the pool only delays the replicas' end until the
driver exits.  Ray only here (``seqbench/runtime/``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

#: environment variable that turns the pool on for this process and its children ("1", "true", "on")
KEEP_ENV = "SEQBENCH_KEEP_REPLICAS"
#: seconds a pooled replica has to answer before it is taken for dead
PROBE_TIMEOUT_S = 10.0

_keep: bool | None = None  # set by keep_replicas(); None: the environment decides


def keep_replicas(on: bool | None = None) -> bool:
    """Turn the pool on or off for this process (``None``: back to ``$SEQBENCH_KEEP_REPLICAS``); returns
    whether it is on now.  Turning it off kills what it holds."""
    global _keep
    _keep = on
    enabled = pool_enabled()
    if not enabled and "ray" in sys.modules:  # without Ray imported there is nothing to release
        release_replicas()
    return enabled


def pool_enabled() -> bool:
    if _keep is not None:
        return _keep
    return _env_value() > 0


def _env_value() -> int:
    text = os.environ.get(KEEP_ENV, "").strip().lower()
    if text in {"true", "on", "yes"}:
        return 1
    try:
        return max(0, int(text))
    except ValueError:
        return 0


def max_kept_keys() -> int:
    """How many model settings (keys) the pool keeps replicas of: ``$SEQBENCH_KEEP_REPLICAS`` when it is a
    number above 1 (``=3``: the replicas of the last three settings), else 1."""
    return max(1, _env_value())


def _files_stamp(handle: str) -> tuple:
    """Sizes and modification times (ns) of a local model's files, two levels deep (a SavedModel's
    ``saved_model.pb`` and ``variables/``), so that a rebuilt or replaced model is a new key; a URL
    or anything unreadable stamps as itself."""
    path = Path(handle)
    try:
        if path.is_file():
            st = path.stat()
            return ((path.name, st.st_size, st.st_mtime_ns),)
        if not path.is_dir():
            return (handle,)
        out = []
        for p in sorted(path.iterdir()):
            items = sorted(p.iterdir()) if p.is_dir() else [p]
            for q in items:
                if q.is_file():
                    st = q.stat()
                    out.append((str(q.relative_to(path)), st.st_size, st.st_mtime_ns))
        return tuple(out)
    except OSError:
        return (handle,)


def pool_key(specs: list[Any], cache_dir: str | None, threads: int | None, prediction_cache: str | None,
             options: dict[str, Any]) -> tuple:
    """What a pooled replica must share with the replicas a job asks for (see the module docstring).

    A model's track requests and receptive-field windows are left out: they are arguments of each
    predict call (``ModelReplica.predict``), not of the loaded model, so jobs that differ only there
    share replicas."""
    from dataclasses import replace

    from seqbench.models.registry import describe

    stamps = []
    for ms in specs:
        loaded = replace(ms, tracks=(), windows=None)
        try:
            handle = describe(ms, Path(cache_dir) if cache_dir else None)[3]
        except Exception:  # an unloadable model: the job will fail with the loader's message
            handle = ms.resolved_handle()
        stamps.append((repr(loaded), handle, _files_stamp(str(handle))))
    return (tuple(stamps), cache_dir, threads, prediction_cache, tuple(sorted(options.items(), key=str)))


def _session() -> tuple[str, str] | None:
    import ray

    if not ray.is_initialized():
        return None
    ctx = ray.get_runtime_context()
    return (str(ctx.gcs_address), ctx.get_node_id())


class ReplicaPool:
    """Idle replicas by key in one Ray session, the least recently used key first (module docstring)."""

    def __init__(self) -> None:
        self._session: tuple[str, str] | None = None
        self._held: dict[tuple, list[Any]] = {}
        self._needs: dict[tuple, tuple[float, float]] = {}  # key -> (CPUs, GPUs) of one replica

    def _current(self) -> None:
        session = _session()
        if session != self._session:  # the actors died with their Ray session
            self._session, self._held, self._needs = session, {}, {}

    def __len__(self) -> int:
        self._current()
        return sum(len(a) for a in self._held.values())

    def keys(self) -> list[tuple]:
        self._current()
        return list(self._held)

    def take(self, key: tuple, n: int, cpus: float = 0.0, gpus: float = 0.0, spare_cpus: float = 0.0) -> list[Any]:
        """Up to ``n`` live replicas of ``key`` (each holding ``cpus`` and ``gpus``).  Replicas of other keys
        are killed where the job's new replicas might need what they hold: every other GPU replica when
        new ones need GPUs, and the least recently used ones while Ray has fewer free CPUs than the new
        replicas plus ``spare_cpus`` (the job's materialization tasks)."""
        import ray

        self._current()
        actors = self._held.pop(key, [])
        self._needs.pop(key, None)
        got: list[Any] = []
        while actors and len(got) < n:
            actor = actors.pop()
            try:
                ray.get(actor.pid.remote(), timeout=PROBE_TIMEOUT_S)
            except Exception:  # dead or hung: never handed to a job
                _kill(actor)
                continue
            got.append(actor)
        if actors:  # more than the job asks for: still kept
            self._held[key], self._needs[key] = actors, (cpus, gpus)
        missing = n - len(got)
        if missing and gpus:
            for other in [k for k in self._held if k != key and self._needs[k][1] > 0]:
                self._evict(other)
        while missing and self._held and _free("CPU") < missing * cpus + spare_cpus:
            self._evict(next(iter(self._held)))
        return got

    def give(self, key: tuple, actors: list[Any], cpus: float = 0.0, gpus: float = 0.0) -> None:
        """Keep ``actors`` (healthy, idle, of ``key``) for a later job; beyond :func:`max_kept_keys` keys the
        least recently used key's replicas are killed."""
        self._current()
        if self._session is None:
            return
        self._held[key] = self._held.pop(key, []) + list(actors)
        self._needs[key] = (cpus, gpus)
        while len(self._held) > max_kept_keys():
            self._evict(next(iter(self._held)))

    def _evict(self, key: tuple) -> None:
        for actor in self._held.pop(key, []):
            _kill(actor)
        self._needs.pop(key, None)
        if _session() is not None:
            time.sleep(0.05)  # Ray frees a killed actor's resources a moment later

    def clear(self) -> None:
        """Kill every kept replica (of a session still running)."""
        self._current()
        for key in list(self._held):
            self._evict(key)


def _free(resource: str) -> float:
    import ray

    try:
        return float(ray.available_resources().get(resource, 0.0))
    except Exception:  # no Ray: nothing to make room in
        return float("inf")


def _kill(actor: Any) -> None:
    import ray

    with contextlib.suppress(Exception):  # already gone
        ray.kill(actor)


POOL = ReplicaPool()


def release_replicas() -> None:
    """Kill the replicas the pool holds (the pool stays on if it was on)."""
    POOL.clear()
