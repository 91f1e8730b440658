"""Staging: the genome and the model where the workers read them, fetched once.

Every worker node needs the genome (materialization tasks read it) and the model (replicas
load it).  Two rules:

* **Genome.**  Read in place from a path every node sees (a shared filesystem), or, with
  ``runtime.genome_local_dir``, copied *once per node* to that local directory and read
  there.  The copy is made by the first task on a node that needs it, under a node-local
  lock, written under a temporary name and renamed, and keyed by the FASTA index's hash,
  so a node that joins mid-job stages itself and another assembly never reuses a stale copy.
* **Model.**  A TF-Hub URL is downloaded into ``runtime.model_cache`` (``TFHUB_CACHE_DIR``;
  put it on shared storage) by one staging task before any replica starts; replicas then
  find it there.  On a cache that is not shared, each *node* downloads once (TF-Hub's own
  lock file serializes the replicas of a node); never once per replica.  A local SavedModel
  path is checked, not copied.  ``seqbench-ray stage`` does both ahead of a run.

Functions here run in any process (driver, task, actor); the Ray fan-out lives in
:func:`stage_on_nodes`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqbench.models.registry import ModelSpec


class StagingError(RuntimeError):
    """The genome or the model could not be staged; the message names the path and why."""


def default_model_cache(cache_dir: Path) -> Path:
    """``$TFHUB_CACHE_DIR``, else ``<seqbench cache>/tfhub``."""
    return Path(os.environ.get("TFHUB_CACHE_DIR") or cache_dir / "tfhub")


@contextlib.contextmanager
def _file_lock(path: Path):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # blocks: the other process is copying the same file
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _fai_key(fasta: Path) -> str:
    fai = Path(f"{fasta}.fai")
    if not fai.is_file():
        raise StagingError(f"{fasta}: no FASTA index ({fai.name}); run `seqbench-ray prepare` or `stage` first")
    return hashlib.sha256(fai.read_bytes()).hexdigest()[:12]


@dataclass(frozen=True)
class GenomeCopy:
    path: Path  # the node-local FASTA
    copied: bool  # True if this call made the copy
    bytes: int
    seconds: float


def local_genome(fasta: str | Path, local_dir: str | Path) -> GenomeCopy:
    """This node's copy of ``fasta`` (and its ``.fai``) under ``local_dir``, made if missing.

    The copy lives in ``local_dir/<stem>-<fai sha256[:12]>/``; it is complete when both files
    exist with the source's sizes (they are renamed into place FASTA first, index last).
    Concurrent callers on one node wait on a lock; exactly one copies.
    """
    src = Path(fasta)
    key = _fai_key(src)
    dest_dir = Path(local_dir) / f"{src.stem}-{key}"
    dest, dest_fai = dest_dir / src.name, dest_dir / f"{src.name}.fai"
    size = src.stat().st_size

    def complete() -> bool:
        return dest_fai.is_file() and dest.is_file() and dest.stat().st_size == size

    t0 = time.time()
    if complete():
        return GenomeCopy(dest, False, size, 0.0)
    try:
        with _file_lock(Path(local_dir) / ".stage.lock"):
            if complete():  # another process on this node finished it while we waited
                return GenomeCopy(dest, False, size, time.time() - t0)
            dest_dir.mkdir(parents=True, exist_ok=True)
            for s, d in ((src, dest), (Path(f"{src}.fai"), dest_fai)):
                tmp = d.with_name(f".{d.name}.tmp-{os.getpid()}")
                shutil.copy2(s, tmp)  # copy2 keeps mtimes: the index stays newer than the FASTA
                os.replace(tmp, d)
    except OSError as exc:
        raise StagingError(
            f"{local_dir}: cannot copy the genome {src.name} to this node's local disk ({exc.strerror or exc})"
        ) from exc
    return GenomeCopy(dest, True, size, time.time() - t0)


def stage_model(model: ModelSpec, cache_dir: str | Path, model_cache: str | Path | None) -> dict[str, Any]:
    """Make the model loadable without a download: fetch a TF-Hub URL into ``model_cache``
    (once: TF-Hub skips a cached module), build the planted model, or check a local path.

    Returns ``{"handle", "local_path", "downloaded"}``.  Raises :class:`StagingError`.
    """
    from seqbench.models.registry import describe

    handle = model.resolved_handle()
    if model.kind != "enformer":
        # a planted twin is built into the cache once; a real Basenji/Xpresso file is checked where it is
        from seqbench.models.tfhub import ModelLoadError

        try:
            _name, _g, _t, path = describe(model, Path(cache_dir))
        except ModelLoadError as exc:
            raise StagingError(str(exc)) from exc
        return {"handle": handle or path, "local_path": path, "downloaded": False}
    if "://" not in handle:
        if not (Path(handle) / "saved_model.pb").is_file():
            raise StagingError(f"model.handle {handle}: not a SavedModel directory (no saved_model.pb)")
        return {"handle": handle, "local_path": handle, "downloaded": False}
    cache = Path(model_cache) if model_cache else default_model_cache(Path(cache_dir))
    os.environ["TFHUB_CACHE_DIR"] = str(cache)
    import tensorflow_hub as hub

    before = set(cache.iterdir()) if cache.is_dir() else set()
    try:
        path = hub.resolve(handle)
    except Exception as exc:  # URLError, OSError, tarfile errors...
        from seqbench.models.tfhub import TFHUB_HINT

        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StagingError(f"model handle {handle}: cannot download into {cache} ({msg}); {TFHUB_HINT}") from exc
    if not (Path(path) / "saved_model.pb").is_file():
        raise StagingError(f"model handle {handle}: the download in {path} is not a SavedModel")
    after = set(cache.iterdir())
    return {"handle": handle, "local_path": str(path), "downloaded": bool(after - before)}


def stage_genome_task(fasta: str, local_dir: str) -> dict[str, Any]:
    """Body of the per-node staging task: copy the genome if this node lacks it."""
    import socket

    c = local_genome(fasta, local_dir)
    return {"node": socket.gethostname(), "path": str(c.path), "copied": c.copied, "bytes": c.bytes,
            "seconds": round(c.seconds, 2)}


def stage_on_nodes(fasta: str, local_dir: str, *, num_cpus: float = 0.1) -> list[dict[str, Any]]:
    """Copy the genome to every alive node now (one task pinned to each node); Ray must be initialised."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(stage_genome_task)
    refs = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        strategy = NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
        refs.append(task.options(num_cpus=num_cpus, scheduling_strategy=strategy).remote(fasta, local_dir))
    return ray.get(refs)

