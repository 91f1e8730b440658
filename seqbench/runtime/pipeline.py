"""The Ray pipeline: shards -> materialization tasks -> model replicas -> parts on disk.

Ray Core, not Ray Data (see docs/architecture.md): a bounded number of shards in flight per
replica, refilled with ``ray.wait``; materialization runs in fractional-CPU tasks so that the
replicas can never starve it (the 2-core deadlock of ray-notes §5); Ray restarts a lost replica
(``max_restarts=-1``) but never re-runs its calls (``max_task_retries=0``): the driver requeues a
shard whose replica, node or object was lost, to any healthy replica, up to
:data:`MAX_SHARD_ATTEMPTS` times; materialization tasks are retried by Ray (``max_retries=3``).
The driver is the only writer of the job directory, so each part appears once, atomically,
before it is recorded.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqbench.models.base import Geometry
from seqbench.models.registry import ModelSpec
from seqbench.sequence.ensemble import Ensemble
from seqbench.spec import RuntimeSpec


class PipelineError(RuntimeError):
    """The pipeline cannot go on (model not loadable, a shard that cannot be built, ...)."""


#: seconds ``init_ray`` waits for a Ray cluster at an address to answer; ``$SEQBENCH_CONNECT_TIMEOUT``
#: (``--connect-timeout``) changes it
CONNECT_TIMEOUT_S = 10.0
#: port of the Ray Client server when a ray:// address names none
RAY_CLIENT_PORT = 10001
_HINT = "start one with 'ray start --head' or drop --address to run locally"


def connect_timeout(value: float | None = None) -> float:
    """``value``, else ``$SEQBENCH_CONNECT_TIMEOUT``, else :data:`CONNECT_TIMEOUT_S` (seconds, > 0)."""
    if value is None:
        raw = os.environ.get("SEQBENCH_CONNECT_TIMEOUT", "").strip()
        if not raw:
            return CONNECT_TIMEOUT_S
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and value > 0):
            raise PipelineError(f"SEQBENCH_CONNECT_TIMEOUT={raw!r}: expected a number of seconds > 0")
    if not (math.isfinite(value) and value > 0):
        raise PipelineError(f"connect timeout {value!r}: expected a number of seconds > 0")
    return float(value)


def check_runtime(runtime: RuntimeSpec) -> None:
    """Refuse runtime settings Ray would reject with a traceback, or wait on forever, before Ray is asked."""
    g = runtime.gpus_per_replica
    if g is None:
        return
    if not math.isfinite(g) or g < 0:
        raise PipelineError(f"runtime.gpus_per_replica = {g:g}: expected 0 (CPU replicas), a fraction of one GPU"
                            " (0.5) or a whole number of GPUs")
    if g > 1 and g != int(g):
        raise PipelineError(f"runtime.gpus_per_replica = {g:g}: above 1 it must be a whole number of GPUs")


def _split_host_port(text: str, default_port: int | None) -> tuple[str, int] | None:
    """``host:port``, ``[v6]:port`` or (with a default port) ``host`` -> (host, port); None if malformed."""
    text = text.strip().rstrip("/")
    if text.startswith("["):  # [v6]:port
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if not sep or (rest and not rest.startswith(":")):
            return None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" not in text:
        host, port_text = text, ""
    else:
        return None
    if not host:
        return None
    if not port_text:
        return (host, default_port) if default_port is not None else None
    try:
        port = int(port_text)
    except ValueError:
        return None
    return (host, port) if 0 < port < 65536 else None


def _ray_address_file() -> str:
    """Where ``ray start`` records the address that ``address="auto"`` connects to."""
    try:
        from ray._common.utils import get_ray_address_file

        return get_ray_address_file(None)
    except Exception:  # a Ray without the helper: its default place
        return os.path.join(os.environ.get("RAY_TMPDIR") or "/tmp", "ray", "ray_current_cluster")


def _running_gcs_addresses() -> set[str]:
    """GCS addresses of Ray processes running on this machine (Ray's own ``auto`` fallback)."""
    try:
        from ray._private.services import find_gcs_addresses

        return set(find_gcs_addresses())
    except Exception:
        return set()


def resolve_auto_address() -> tuple[str, str]:
    """The address ``ray.init(address="auto")`` would use and where it comes from (Ray's order).

    ``$RAY_ADDRESS``; else the address ``ray start`` recorded in ``/tmp/ray/ray_current_cluster``,
    unless exactly one Ray runs on this machine (then that one); else any running local Ray.
    """
    env = os.environ.get("RAY_ADDRESS", "").strip()
    if env and env != "auto":
        return env, "RAY_ADDRESS"
    path = _ray_address_file()
    recorded = None
    with contextlib.suppress(OSError), open(path) as f:
        recorded = f.read().strip() or None
    running = _running_gcs_addresses()
    if recorded and (len(running) != 1 or recorded in running):
        return recorded, path
    if running:
        return sorted(running)[0], "a Ray process running on this machine"
    raise PipelineError(f"--address auto: no Ray cluster found (RAY_ADDRESS is not set, {path} does not exist and no"
                        f" Ray runs on this machine); {_HINT}")


def _tcp_probe(host: str, port: int, deadline: float) -> str | None:
    """None if something accepts TCP at host:port before ``deadline``, else why not.

    Refusals and unreachable networks fail at once; silence is retried in 1 s steps (so Ctrl-C and
    SIGTERM are heard) until the deadline.
    """
    import socket

    t0 = time.monotonic()
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=max(0.05, min(1.0, left))):
                return None
        except socket.gaierror as exc:
            return f"cannot resolve host {host!r}: {exc.strerror or exc}"
        except ConnectionRefusedError:
            return f"connection refused after {time.monotonic() - t0:.1f} s"
        except TimeoutError:
            pass
        except OSError as exc:
            return f"{exc.strerror or type(exc).__name__} after {time.monotonic() - t0:.1f} s"
        if time.monotonic() >= deadline:
            return f"no answer within {time.monotonic() - t0:.1f} s; --connect-timeout waits longer"
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _gcs_probe(host: str, port: int, deadline: float) -> str | None:
    """None if a Ray GCS answers gRPC at host:port before ``deadline``, else why not.

    Something that accepts TCP but is not a GCS (the Ray Client port, the dashboard, another service)
    would make ``ray.init`` retry for many minutes without heeding Ctrl-C; one GCS request with a
    deadline, waited for in Python, tells it in seconds.  Any gRPC answer, even a refusal
    (authentication), counts as a GCS; no answer at all does not.
    """
    try:
        import grpc
        from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc
    except Exception:  # nothing to ask with: the TCP probe has to do
        return None
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    channel = grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)])
    try:
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        t0 = time.monotonic()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return f"it accepts connections but no Ray GCS replied within {time.monotonic() - t0:.1f} s"
            fut = stub.GetClusterId.future(gcs_service_pb2.GetClusterIdRequest(), timeout=left)
            try:
                while True:
                    try:
                        fut.result(timeout=0.5)  # short waits: Ctrl-C is heard
                        return None
                    except grpc.FutureTimeoutError:
                        continue
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                if code == grpc.StatusCode.UNIMPLEMENTED:
                    return "a gRPC server answers but it is not a Ray GCS"
                if code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    return None  # a GCS that refuses this request still answers
            finally:
                fut.cancel()
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    finally:
        channel.close()


def probe_address(address: str, timeout_s: float | None = None) -> str:
    """Check that a Ray cluster answers at ``address`` before ``ray.init`` is asked to connect there.

    ``HOST:PORT`` must accept TCP and answer as a Ray GCS; ``ray://HOST[:PORT]`` must accept TCP (the
    Ray Client server); ``auto`` is resolved the way Ray does (:func:`resolve_auto_address`) and the
    result is checked.  Within ``timeout_s`` (default :func:`connect_timeout`), else
    :class:`PipelineError` in one line naming the address.  Returns the address to connect to
    (``auto`` resolved); other schemes (and ``local``) are returned as they are, unchecked.
    """
    timeout_s = connect_timeout(timeout_s)
    deadline = time.monotonic() + timeout_s
    given = address.strip()
    target, origin = given, None
    if given == "auto":
        target, origin = resolve_auto_address()
    if target == "local":
        return target
    scheme, sep, rest = target.partition("://")
    if sep and scheme != "ray":
        return target  # Ray's business (or the Jobs API's, handled before any driver runs)
    hp = _split_host_port(rest if sep else target, RAY_CLIENT_PORT if sep else None)
    where = f"--address {given}" if origin is None else f"--address auto ({origin}: {target})"
    if hp is None:
        raise PipelineError(f"{where}: expected HOST:PORT, ray://HOST[:PORT] or auto")
    host, port = hp
    why = _tcp_probe(host, port, deadline)
    if why is None and not sep:
        why = _gcs_probe(host, port, deadline)
        if why is not None:
            raise PipelineError(f"{where}: {why}; is it the Ray Client port (then ray://{host}:{port}) or the"
                                f" dashboard (then http://{host}:{port}, the Jobs API)?")
    if why is None:
        return target
    what = "no Ray Client server answers there" if sep else "no Ray cluster answers there"
    if origin is not None and origin != "RAY_ADDRESS" and not origin.startswith("a Ray process"):
        raise PipelineError(f"--address auto: found a stale cluster address {target} in {origin}; nothing listens"
                            f" there ({why}); {_HINT}")
    hint = _HINT if not sep else ("start a cluster with 'ray start --head' (its Ray Client server listens on port"
                                  f" {RAY_CLIENT_PORT}) or drop --address to run locally")
    raise PipelineError(f"{where}: {what} ({why}); {hint}")


def init_ray(runtime: RuntimeSpec, connect_timeout_s: float | None = None) -> bool:
    """Connect to ``runtime.address`` or start local Ray; returns True if this call started it.

    An address is checked first (:func:`probe_address`): nothing answering there within
    ``connect_timeout_s`` (default ``$SEQBENCH_CONNECT_TIMEOUT``, else 10 s) is a one-line
    :class:`PipelineError`, where ``ray.init`` alone would retry for many minutes, deaf to Ctrl-C.

    Local Ray runs with usage statistics off, no dashboard, and every Ray process listening on
    127.0.0.1 only: Ray reads ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` when it is imported, so it is
    set here before the first ``import ray`` (a process that imported Ray earlier keeps Ray's
    default, every interface; see docs/security.md).
    """
    check_runtime(runtime)
    timeout_s = connect_timeout(connect_timeout_s)
    if not runtime.address and "ray" not in sys.modules:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_USAGE_STATS_PROMPT_ENABLED", "0")
    if ray.is_initialized():
        return False
    with _keep_sigterm_handler():
        if runtime.address:
            # the checked address: ``auto`` resolved once, so the probe and ray.init see the same cluster
            ray.init(address=probe_address(runtime.address, timeout_s), log_to_driver=False)
            return True
        ray.init(
            address="local",
            num_cpus=runtime.num_cpus,
            object_store_memory=runtime.object_store_mb * 1024 * 1024,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
        )
    _start_watchdog()
    return True


def _start_watchdog() -> None:
    """Have :mod:`seqbench.runtime.watchdog` stop this local Ray session if the driver dies (kill -9
    included), so that no Ray agent outlives it for minutes.  Best effort: Linux only, and it relies on
    Ray's session directory, read from a private attribute (skipped if Ray changes it)."""
    import subprocess

    import ray

    if not Path("/proc").is_dir():
        return
    try:
        session = Path(ray._private.worker.global_worker.node.get_session_dir_path()).name
    except Exception:  # a private API: without it there is simply no watchdog
        return
    subprocess.Popen(
        [sys.executable, "-m", "seqbench.runtime.watchdog", str(os.getpid()), session],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True,
    )


@contextlib.contextmanager
def _keep_sigterm_handler():
    """Keep seqbench's SIGTERM handler across ``ray.init``.

    A driver that connects to a cluster gets Ray's own handler (``sys.exit(15)``), which would
    turn a Jobs API ``stop`` or a pod's termination into a *failed* job; seqbench's handler
    stops it as *cancelled* and resumable, like Ctrl-C.
    """
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and callable(before):
            signal.signal(signal.SIGTERM, before)


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
    genome_local_dir: str | None = None  # copy the genome once per node (runtime/staging.py)
    model_cache: str | None = None  # TFHUB_CACHE_DIR of the replicas
    #: several models reading the same windows (one group of a job): each replica loads them all and
    #: ``tracks`` is ignored for ``model_tracks`` (label -> index, per model)
    models: list[ModelSpec] | None = None
    model_tracks: list[dict[str, int]] | None = None
    #: (model position, window bp or 0, variant name or None): one part per variant and shard
    variants: list[tuple[int, int, str | None]] | None = None
    #: the input length the design's windows were given for; other geometries the windows must suit
    window_length: int | None = None
    also: tuple[Geometry, ...] = ()
    #: root of the prediction cache the replicas read and add to (None: off; seqbench/cache.py)
    prediction_cache: str | None = None


class JobCancelled(RuntimeError):
    """The job was cancelled (``seqbench-ray cancel``, SIGTERM or Ctrl-C); it can be resumed."""


#: attempts of one shard (replica or node lost, object lost) before the job fails
MAX_SHARD_ATTEMPTS = 4
#: seconds to wait for any replica to come back when none is alive
REPLICA_WAIT_S = 900.0


#: seconds between "waiting for ..." lines in the job log while replicas wait to be placed
WAIT_NOTE_S = 30.0


def describe_resources(resources: dict[str, float]) -> str:
    """``CPU 4, GPU 0, memory 3.2 GiB, object_store_memory 0.3 GiB`` (node and accelerator keys left out)."""
    keys = ["CPU", "GPU"] + sorted(k for k in resources if k not in ("CPU", "GPU"))
    out = []
    for k in keys:
        if k.startswith("node:") or k.startswith("accelerator_type:"):
            continue
        v = float(resources.get(k, 0))
        out.append(f"{k} {v / 2**30:.1f} GiB" if "memory" in k else f"{k} {v:g}")
    return ", ".join(out)


def check_gpu_request(
    cluster_resources: dict[str, float],
    node_resources: list[dict[str, float]],
    gpus_per_replica: float | None,
    can_autoscale: bool,
    replicas: int = 1,
) -> str | None:
    """Why ``replicas`` replicas of ``gpus_per_replica`` GPUs each can never be placed, or None.

    Never, on a cluster that cannot grow (no autoscaler, as on a local Ray that seqbench started):
    no GPU at all, no single node with that many GPUs, or fewer GPU slots on all nodes together than
    replicas.  A cluster that may autoscale could still add GPU nodes: None (the caller waits, and says so).
    """
    g = gpus_per_replica
    if g is not None and (not math.isfinite(g) or g < 0):
        return (f"runtime.gpus_per_replica = {g:g}: expected 0 (CPU replicas), a fraction of one GPU (0.5) or a"
                " whole number of GPUs")
    if not g or can_autoscale:
        return None
    total = float(cluster_resources.get("GPU", 0))
    if total <= 0:
        return (f"runtime.gpus_per_replica = {g:g} but the Ray cluster has no GPU (resources: "
                f"{describe_resources(cluster_resources)}); drop --gpus-per-replica or connect to a cluster with"
                " GPU nodes")
    per_node = [float(n.get("GPU", 0)) for n in node_resources] or [total]
    largest = max(per_node)
    if largest + 1e-9 < g:
        return (f"runtime.gpus_per_replica = {g:g} but no node of the Ray cluster has that many GPUs (the largest"
                f" has {largest:g}; resources: {describe_resources(cluster_resources)}); lower --gpus-per-replica or"
                " connect to a cluster with larger GPU nodes")
    slots = sum(math.floor(n / g + 1e-9) for n in per_node)
    if replicas > slots:
        return (f"{replicas} model replicas of {g:g} GPU each do not fit on the Ray cluster (room for {slots}; "
                f"resources: {describe_resources(cluster_resources)}); lower --replicas")
    return None


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    """Failures of the machinery, not of the shard: the shard is run again elsewhere."""
    import ray.exceptions as rex

    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "ObjectLostError",
             "OwnerDiedError", "NodeDiedError", "WorkerCrashedError", "ObjectReconstructionFailedError")
    return tuple(getattr(rex, n) for n in names if hasattr(rex, n))


def _cause(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return text[-1] if text else type(cause).__name__


def run_pipeline(
    plan: PipelinePlan,
    runtime: RuntimeSpec,
    on_part: Callable[[int, Any], None],
    on_start: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_event: Callable[[str], None] | None = None,
) -> int:
    """Run every shard of ``plan``; ``on_part(shard, table)`` is called once per finished shard (with
    ``plan.variants``: ``on_part(shard, {variant name: table})``).

    Scheduling: each replica holds at most ``runtime.max_in_flight`` shards.  A shard whose
    replica (or node, or input object) is lost goes back to the queue and runs on whichever
    replica is healthy; the lost replica is restarted by Ray and gets work again once it answers
    ``ready``.  A shard that fails by itself (a construct that cannot be built, a model error)
    stops the job: nothing new is started, the shards in flight finish and are written, then
    :class:`PipelineError` names the shard.  ``should_stop()`` is polled about once a second;
    when it returns True the job stops the same way and :class:`JobCancelled` is raised.
    ``on_event(text)`` hears of each recovery (a replica lost or back, a shard run again), for the log.

    Returns the number of replicas used.
    """
    import ray

    from seqbench.runtime.pool import POOL, pool_enabled, pool_key
    from seqbench.runtime.replica import ModelReplica, materialize_task

    check_runtime(runtime)
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
    # a request no node can ever meet fails now, not after REPLICA_WAIT_S of silence; a cluster that
    # seqbench did not start may have an autoscaler (then the wait below says what it waits for)
    can_autoscale = bool(runtime.address)
    if gpus_per:
        nodes = [n.get("Resources") or {} for n in ray.nodes() if n.get("Alive")]
        problem = check_gpu_request(resources, nodes, gpus_per, can_autoscale, n_replicas)
        if problem:
            raise PipelineError(problem)
    # elastic pool: replicas beyond the minimum are created at once but not waited for; each
    # starts work when Ray places it (a GPU node that joins mid-job, or the autoscaler's)
    n_max = max(n_replicas, min(runtime.max_replicas or 0, len(plan.shards)))
    # CPU replicas: share the node's cores between replicas through TF's own thread pool
    threads = None if gpus_per else max(1, int(resources.get("CPU", 1)) // n_replicas)
    # retries are the driver's (it requeues a lost shard to any healthy replica); Ray restarts actors
    env = {"TFHUB_CACHE_DIR": plan.model_cache} if plan.model_cache else {}
    specs = plan.models or [plan.model]
    for ms in specs:
        if "://" in ms.resolved_handle():
            # one download into the (shared) cache before any replica starts, not one per replica
            from seqbench.runtime.staging import stage_model

            stage = ray.remote(stage_model).options(num_cpus=min(runtime.materialize_cpus, 0.25), max_retries=0)
            try:
                ray.get(stage.remote(ms, plan.cache_dir, plan.model_cache))
            except ray.exceptions.RayTaskError as exc:
                raise PipelineError(_cause(exc)) from None
    model_arg = list(specs) if plan.models else plan.model
    tracks_arg = plan.model_tracks if plan.variants is not None else plan.tracks
    Replica = ray.remote(ModelReplica).options(
        num_cpus=runtime.cpus_per_replica, num_gpus=gpus_per, max_restarts=-1, max_task_retries=0,
        runtime_env={"env_vars": env} if env else None,
    )
    # warm replicas of an earlier job of this driver, when the pool is on (seqbench.runtime.pool)
    key = (pool_key(specs, plan.cache_dir, threads, plan.prediction_cache,
                    {"num_cpus": runtime.cpus_per_replica, "num_gpus": gpus_per, "env": tuple(sorted(env.items()))})
           if pool_enabled() else None)
    # as many as the job can use, elastic extras included: kept ones left aside would hold the GPUs
    # that new extras wait for
    kept = (POOL.take(key, n_max, runtime.cpus_per_replica, gpus_per, runtime.materialize_cpus)
            if key is not None else [])
    kept, kept_extra = kept[:n_replicas], kept[n_replicas:]
    # the minimum first, placed and loaded, and only then the elastic extras: created together, an
    # extra could take the GPU a minimum replica needs and leave the job waiting for nothing
    actors = kept + [Replica.remote(model_arg, plan.cache_dir, threads, plan.prediction_cache)
                     for _ in range(n_replicas - len(kept))]
    lost = _lost_worker_errors()
    note = on_event or (lambda _text: None)
    errors: list[str] = []
    cancelled = False
    waiting = [a.reuse.remote() for a in kept] + [a.ready.remote() for a in actors[len(kept):]]
    t_wait = time.time()
    next_note = t_wait + WAIT_NOTE_S
    try:
        while waiting and not errors:
            ready, waiting = ray.wait(waiting, num_returns=len(waiting), timeout=1.0)
            errors += [e for e in ray.get(ready) if e]
            now = time.time()
            if waiting and should_stop is not None and should_stop():
                cancelled = True
                break
            if waiting and now - t_wait > REPLICA_WAIT_S:
                have = ray.cluster_resources().get("GPU", 0)
                errors.append(f"{n_replicas} model replica(s) of {gpus_per or 0:g} GPU each could not start within"
                              f" {REPLICA_WAIT_S:.0f} s (the cluster has {have:g} GPU(s)); lower --replicas")
            elif waiting and now >= next_note:
                next_note = now + WAIT_NOTE_S
                have = ray.cluster_resources().get("GPU", 0)
                if gpus_per and have < gpus_per * n_replicas:
                    note(f"waiting for a GPU node: {now - t_wait:.0f} s so far ({len(waiting)} of {n_replicas}"
                         f" replica(s) of {gpus_per:g} GPU each not placed; the cluster has {have:g} GPU(s))")
                else:
                    note(f"waiting for {len(waiting)} of {n_replicas} model replica(s) to start:"
                         f" {now - t_wait:.0f} s so far")
    except lost as exc:
        errors = [f"a model replica died while loading the model ({_cause(exc)})"]
    except BaseException:  # Ctrl-C, SIGTERM: no replica is left behind on a shared cluster
        for a in actors + kept_extra:
            ray.kill(a)
        raise
    if errors or cancelled:
        for a in actors + kept_extra:
            ray.kill(a)
        if cancelled:
            raise JobCancelled("cancelled")
        raise PipelineError(errors[0])
    actors += kept_extra + [Replica.remote(model_arg, plan.cache_dir, threads, plan.prediction_cache)
                            for _ in range(n_max - n_replicas - len(kept_extra))]
    if on_start:
        on_start(n_replicas)

    materialize = ray.remote(materialize_task).options(num_cpus=runtime.materialize_cpus, max_retries=3)
    builder_ref = ray.put(plan.builder)
    queue = collections.deque(plan.shards)
    attempts: collections.Counter[int] = collections.Counter()
    in_flight: dict[Any, tuple[int, list[int], int]] = {}  # predict ref -> (shard, ids, actor)
    probes: dict[Any, int] = {}  # ready ref -> actor being probed (after a loss, or not yet placed)
    healthy = [True] * n_replicas + [False] * (n_max - n_replicas)
    load = [0] * n_max
    extra = set(range(n_replicas, n_max))  # elastic replicas that have never answered yet
    for ai in extra:  # kept extras answer at once (and re-read the prediction cache), new ones once loaded
        probes[(actors[ai].reuse if ai < n_replicas + len(kept_extra) else actors[ai].ready).remote()] = ai
    per_actor = max(1, runtime.max_in_flight)
    failure: str | None = None
    stopping = False
    finished = False  # every shard done, no failure: the healthy replicas may go to the pool
    last_alive = time.time()

    def fill() -> None:
        for ai in range(n_max):
            while queue and healthy[ai] and load[ai] < per_actor and not stopping:
                shard, ids = queue.popleft()
                attempts[shard] += 1
                mref = materialize.remote(
                    shard, ids, builder_ref, plan.fasta, plan.geometry, plan.ensemble, plan.genome_local_dir,
                    plan.window_length, plan.also,
                )
                pref = actors[ai].predict.remote(mref, plan.ensemble, tracks_arg, plan.variants)
                in_flight[pref] = (shard, ids, ai)
                load[ai] += 1

    fill()
    try:
        while in_flight or (queue and not stopping):
            if not stopping and should_stop is not None and should_stop():
                stopping, failure = True, failure or "cancelled"
            waiting = list(in_flight) + list(probes)
            if not waiting:  # every replica lost and not yet back
                raise PipelineError("no model replica is alive")
            ready, _ = ray.wait(waiting, num_returns=1, timeout=1.0)
            if not ready:
                if not any(healthy) and time.time() - last_alive > REPLICA_WAIT_S:
                    raise PipelineError(f"no model replica came back within {REPLICA_WAIT_S:.0f} s")
                continue
            ref = ready[0]
            if ref in probes:
                ai = probes.pop(ref)
                try:
                    err = ray.get(ref)
                except lost:
                    probes[actors[ai].ready.remote()] = ai  # still restarting; ask again
                    continue
                if err and ai in extra:  # a replica that joined late cannot load: go on without it
                    note(f"replica {ai} could not load the model and is dropped: {err}")
                    extra.discard(ai)
                    continue
                if err:
                    raise PipelineError(err)
                healthy[ai] = True
                last_alive = time.time()
                note(f"replica {ai} joined" if ai in extra else f"replica {ai} is back")
                extra.discard(ai)
                fill()
                continue
            shard, ids, ai = in_flight.pop(ref)
            load[ai] -= 1
            try:
                got_shard, table = ray.get(ref)
            except lost as exc:
                # the replica, its node or the shard's input was lost: run the shard again
                if attempts[shard] >= MAX_SHARD_ATTEMPTS:
                    stopping = True
                    failure = failure or f"shard {shard} failed {attempts[shard]} times: {_cause(exc)}"
                    continue
                queue.appendleft((shard, ids))
                note(f"shard {shard} lost on replica {ai} ({type(exc).__name__}); it runs again")
                if healthy[ai]:
                    healthy[ai] = False
                    note(f"replica {ai} lost; shards go to the other replicas until Ray restarts it")
                    probes[actors[ai].ready.remote()] = ai
                if not any(healthy):
                    last_alive = time.time()
                fill()
                continue
            except ray.exceptions.RayTaskError as exc:
                stopping = True
                cause = _cause(exc)  # a ShardError already names the shard and the construct
                named = cause.startswith(f"shard {shard},")
                failure = failure or (cause if named else f"shard {shard} failed: {cause}")
                continue
            if got_shard != shard:
                raise PipelineError(f"replica returned shard {got_shard} for shard {shard}")
            on_part(shard, table)
            last_alive = time.time()
            fill()
        finished = not failure and not in_flight and not queue
    finally:
        for ref in list(in_flight) + list(probes):
            ray.cancel(ref, force=False)
        keep = [a for ai, a in enumerate(actors) if finished and key is not None and healthy[ai]]
        for a in actors:
            if not any(a is k for k in keep):
                ray.kill(a)
        if keep:
            POOL.give(key, keep, runtime.cpus_per_replica, gpus_per)
        # give killed actors a moment so a following job on the same Ray sees free resources
        time.sleep(0.05)
    if failure == "cancelled":
        raise JobCancelled("cancelled")
    if failure:
        raise PipelineError(failure)
    return n_replicas


def stage_on_cluster(runtime, fasta: str, local_dir: str) -> list[dict[str, Any]]:
    """:func:`stage_on_nodes` on the cluster at ``runtime.address`` (connected here, and left again)."""
    import ray

    from seqbench.runtime.staging import stage_on_nodes

    started = init_ray(runtime)
    try:
        return stage_on_nodes(fasta, local_dir)
    finally:
        if started:
            ray.shutdown()
