"""The Ray pipeline: shards -> materialization tasks -> model replicas -> parts on disk.

Ray Core, not Ray Data (see docs/architecture.md): a bounded number of shards in flight per
replica, refilled with ``ray.wait``; materialization runs in fractional-CPU tasks so that the
replicas can never starve it (the 2-core deadlock of ray-notes §5); replicas restart and
retry on failure (``max_restarts=-1, max_task_retries=-1``); the driver is the only writer of
the job directory, so each part appears once, atomically, before it is recorded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seqbench.models.base import Geometry
from seqbench.models.registry import ModelSpec
from seqbench.sequence.ensemble import Ensemble
from seqbench.spec import RuntimeSpec


class PipelineError(RuntimeError):
    """The pipeline cannot go on (model not loadable, a shard that cannot be built, ...)."""


def init_ray(runtime: RuntimeSpec) -> bool:
    """Connect to ``runtime.address`` or start local Ray; returns True if this call started it."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_USAGE_STATS_PROMPT_ENABLED", "0")
    if ray.is_initialized():
        return False
    if runtime.address:
        ray.init(address=runtime.address, log_to_driver=False)
        return True
    ray.init(
        address="local",
        num_cpus=runtime.num_cpus,
        object_store_memory=runtime.object_store_mb * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
    )
    return True


def ray_map(fn: Callable[[Any], Any], items: list[Any], num_cpus: float = 0.5) -> list[Any]:
    """``[fn(x) for x in items]`` as parallel Ray tasks (the reduce's per-group fits)."""
    import ray

    remote = ray.remote(num_cpus=num_cpus)(fn)
    return ray.get([remote.remote(x) for x in items])


@dataclass
class PipelinePlan:
    shards: list[tuple[int, list[int]]]  # (shard id, construct ids)
    builder: Any
    fasta: str | None
    geometry: Geometry
    ensemble: Ensemble
    tracks: dict[str, int]
    model: ModelSpec
    cache_dir: str | None


def run_pipeline(
    plan: PipelinePlan,
    runtime: RuntimeSpec,
    on_part: Callable[[int, Any], None],
    on_start: Callable[[int], None] | None = None,
) -> int:
    """Run every shard of ``plan``; ``on_part(shard, table)`` is called once per finished shard.

    Returns the number of replicas used.
    """
    import ray

    from seqbench.runtime.replica import ModelReplica, materialize_task

    if not plan.shards:
        return 0
    resources = ray.cluster_resources()
    n_gpus = int(resources.get("GPU", 0))
    gpus_per = runtime.gpus_per_replica if runtime.gpus_per_replica is not None else (1 if n_gpus else 0)
    if runtime.replicas:
        n_replicas = runtime.replicas
    elif gpus_per:
        n_replicas = max(1, int(n_gpus // gpus_per))
    else:
        n_replicas = 1
    n_replicas = min(n_replicas, len(plan.shards))
    # CPU replicas: share the node's cores between replicas through TF's own thread pool
    threads = None if gpus_per else max(1, int(resources.get("CPU", 1)) // n_replicas)
    Replica = ray.remote(ModelReplica).options(
        num_cpus=runtime.cpus_per_replica, num_gpus=gpus_per, max_restarts=-1, max_task_retries=-1
    )
    actors = [Replica.remote(plan.model, plan.cache_dir, threads) for _ in range(n_replicas)]
    errors = [e for e in ray.get([a.ready.remote() for a in actors]) if e]
    if errors:
        for a in actors:
            ray.kill(a)
        raise PipelineError(errors[0])
    if on_start:
        on_start(n_replicas)

    materialize = ray.remote(materialize_task).options(num_cpus=runtime.materialize_cpus, max_retries=3)
    builder_ref = ray.put(plan.builder)
    queue = list(plan.shards)
    in_flight: dict[Any, tuple[int, int]] = {}  # ref -> (shard, actor index)
    load = [0] * n_replicas

    def submit(ai: int) -> None:
        shard, ids = queue.pop(0)
        mref = materialize.remote(shard, ids, builder_ref, plan.fasta, plan.geometry, plan.ensemble)
        pref = actors[ai].predict.remote(mref, plan.ensemble, plan.tracks)
        in_flight[pref] = (shard, ai)
        load[ai] += 1

    for _ in range(max(1, runtime.max_in_flight)):
        for ai in range(n_replicas):
            if queue:
                submit(ai)
    try:
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            ref = ready[0]
            shard, ai = in_flight.pop(ref)
            load[ai] -= 1
            try:
                got_shard, table = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                raise PipelineError(f"shard {shard} failed: {str(cause).strip().splitlines()[-1]}") from exc
            assert got_shard == shard
            on_part(shard, table)
            if queue:
                submit(ai)
    finally:
        for ref in in_flight:
            ray.cancel(ref, force=False)
        for a in actors:
            ray.kill(a)
        # give killed actors a moment so a following job on the same Ray sees free resources
        time.sleep(0.05)
    return n_replicas
