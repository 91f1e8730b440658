"""The job directory: everything a job is, on disk (no Ray here).

::

    JOB/
      spec.json          the spec as given (or the embedded default), for the record
      resolved.json      the validated spec with absolute paths
      manifest.json      what was planned: experiment, model, genome, constructs, members,
                         shard size and count, content hash of spec + inputs
      design.parquet     one row per construct: construct_id, key labels
      parts/part-NNNNNN.parquet   prediction rows of shard N (written to parts/_tmp, then renamed;
                         forward passes and prediction-cache hits in the schema metadata);
                         a job of several models or windows: parts/<variant>/part-NNNNNN.parquet
      progress.jsonl     one line per finished shard, appended after its rename
      status.json        planned | running | reducing | failed (+ reason) | cancelled | complete
      tables/ figures/   results of reduce and report
      summary.json report.md   headline figures and the human-readable report
      log.txt

A shard counts as done when its part file exists (the rename is atomic) — for every variant
(model x window) of a job with several; ``progress.jsonl`` only feeds ``status`` (throughput,
ETA).  A job is complete only when every shard is done
and reduce and report have written their results.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PART_PATTERN = "part-{:06d}.parquet"
STATES = ("planned", "running", "reducing", "failed", "cancelled", "complete")


class JobDirError(ValueError):
    """The job directory cannot be used as asked."""


def write_failure(what: str, exc: OSError, *, resume: Path | None = None) -> str:
    """One line for a failed write: what, why (the disk is full, said so), and how to go on."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(exc)
    # pyarrow's strerror is "Error writing bytes to file. Detail: [errno 28] ..."; say it plainly
    why = os.strerror(exc.errno) if exc.errno else (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
    text = f"cannot write {what}: the disk is full ({why})" if full else f"cannot write {what} ({why})"
    if resume is not None:
        text += f"; {'free some space, then ' if full else ''}`seqbench-ray resume {resume}` continues the job"
    return text


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same directory, then rename over ``path``.

    On failure (a full disk, permissions) the temporary file is removed and :class:`JobDirError`
    names ``path``; ``path`` itself is then unchanged.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise JobDirError(f"{path.parent}: {write_failure(path.name, exc)}") from exc


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


@dataclass
class JobDir:
    path: Path

    # ---- paths
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def parts_dir(self) -> Path:
        return self.path / "parts"

    @property
    def progress_path(self) -> Path:
        return self.path / "progress.jsonl"

    @property
    def design_path(self) -> Path:
        return self.path / "design.parquet"

    def part_path(self, shard: int, variant: str | None = None) -> Path:
        return self.variant_parts_dir(variant) / PART_PATTERN.format(shard)

    # ---- creation and state
    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def ensure_writable(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise JobDirError(f"{self.path}: job directory is not writable ({exc.strerror})") from exc

    @contextlib.contextmanager
    def driver_lock(self):
        """Hold ``.driver.lock`` (an exclusive ``flock``) while a driver works on the job.

        A second driver on the same job directory (two ``submit``/``resume``, a retried RayJob
        while the first still runs) is refused with the holder's pid and host instead of both
        writing parts.  The kernel drops the lock when the holder dies, SIGKILL included, so a
        dead driver never blocks a resume.  (``flock`` on NFS is advisory and depends on the
        server; see docs/job-directory.md.)
        """
        import fcntl
        import socket

        self.ensure_writable()
        path = self.path / ".driver.lock"
        f = open(path, "a+")  # noqa: SIM115 - held for the duration of the context
        try:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                raise JobDirError(
                    f"{self.path}: another seqbench driver is working on this job ({holder});"
                    f" wait for it, or stop it with `seqbench-ray cancel {self.path}`"
                ) from None
            f.seek(0)
            f.truncate()
            f.write(f"pid {os.getpid()} on {socket.gethostname()}")
            f.flush()
            yield
        finally:
            f.close()

    def driver_alive(self) -> bool:
        """Whether a driver holds ``.driver.lock`` now (tried without taking it for long: a free lock
        is taken and released at once).  On another host's NFS mount this is only as good as
        ``flock`` there."""
        import fcntl

        path = self.path / ".driver.lock"
        try:
            f = open(path)  # noqa: SIM115 - closed below
        except OSError:
            return False  # never locked (or unreadable): no driver of ours
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            f.close()  # releases a lock taken above
        return False

    def manifest(self) -> dict[str, Any]:
        if not self.path.exists():
            raise JobDirError(f"{self.path}: no such job directory")
        if not self.path.is_dir():
            raise JobDirError(f"{self.path}: is a file; expected a seqbench job directory")
        if not self.manifest_path.is_file():
            raise JobDirError(f"{self.path}: not a seqbench job directory (no manifest.json)")
        try:
            return json.loads(self.manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise JobDirError(
                f"{self.manifest_path}: not valid JSON ({exc.msg}, line {exc.lineno}); the job directory is damaged"
            ) from exc

    def status(self) -> dict[str, Any]:
        if not self.status_path.is_file():
            return {"state": "unknown"}
        try:
            return json.loads(self.status_path.read_text())
        except json.JSONDecodeError:  # cut by a crash during an in-place write (see set_status)
            return {"state": "unknown", "reason": "status.json is damaged"}

    def set_status(self, state: str, **extra: Any) -> None:
        """Write status.json atomically.

        Recording a failure never raises: on a full disk the temporary file may not fit, so
        status.json is then overwritten in place (it already has its blocks), and if even that
        fails it is left as it was; either way the error being recorded reaches the user.
        """
        if state not in STATES:
            raise ValueError(f"unknown job state {state!r}")
        obj = {"state": state, "updated": time.time(), **extra}
        try:
            atomic_write_json(self.status_path, obj)
        except JobDirError:
            if state != "failed":
                raise
            with contextlib.suppress(OSError):
                self.status_path.write_text(json.dumps(obj, indent=2, default=str) + "\n")

    def log(self, message: str) -> None:
        """Append to log.txt, best effort: a full disk must not hide the error being logged."""
        with contextlib.suppress(OSError):
            self.path.mkdir(parents=True, exist_ok=True)
            with open(self.path / "log.txt", "a") as f:
                f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")

    # ---- shards
    def variants(self) -> list[str]:
        """Names of the job's variants (model x window) when it has several, else ``[]`` (one, in parts/)."""
        try:
            names = self.manifest().get("variants") or []
        except JobDirError:
            return []
        return [v["name"] for v in names] if len(names) > 1 else []

    def variant_parts_dir(self, variant: str | None = None) -> Path:
        return self.parts_dir / variant if variant else self.parts_dir

    def done_shards(self, variant: str | None = None) -> set[int]:
        """Shards with a part: of ``variant``, or of every variant when the job has several."""
        if variant is None:
            several = self.variants()
            if several:
                done = self.done_shards(several[0])
                for v in several[1:]:
                    done &= self.done_shards(v)
                return done
        d = self.variant_parts_dir(variant)
        if not d.is_dir():
            return set()
        done = set()
        for p in d.iterdir():
            if p.name.startswith("part-") and p.name.endswith(".parquet"):
                done.add(int(p.name[5:11]))
        return done

    def write_part(self, shard: int, table: pa.Table, variant: str | None = None) -> int:
        """Write shard's rows atomically, then record it in ``progress.jsonl``; returns bytes.

        A failed write (a full disk) raises :class:`JobDirError` naming the job directory and
        the part; the half-written file in ``parts/_tmp`` is removed, so ``parts/`` only ever
        holds complete parts.
        """
        tmp_dir = self.parts_dir / "_tmp"
        final = self.part_path(shard, variant)
        tmp = tmp_dir / f"{variant + '.' if variant else ''}{final.name}.{os.getpid()}"
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            final.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, tmp, compression="zstd", compression_level=9, use_dictionary=["member", "model"])
            os.replace(tmp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            what = f"prediction part {final.relative_to(self.path)}"
            raise JobDirError(f"{self.path}: {write_failure(what, exc, resume=self.path)}") from exc
        size = final.stat().st_size
        line = {"shard": shard, "rows": table.num_rows, "bytes": size, "t": time.time()}
        if variant:
            line["variant"] = variant
        try:
            with open(self.progress_path, "a") as f:
                f.write(json.dumps(line) + "\n")
        except OSError as exc:  # the part itself is complete and counts as done
            raise JobDirError(f"{self.path}: {write_failure(self.progress_path.name, exc, resume=self.path)}") from exc
        return size

    def progress(self) -> list[dict[str, Any]]:
        if not self.progress_path.is_file():
            return []
        out = []
        for line in self.progress_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash mid-append
                continue
        return out

    def ambiguous_bases(self) -> int:
        """IUPAC ambiguity codes in the genome windows read for the job, summed over its parts
        (each part records its shard's count in its Parquet metadata; 0 for parts without it).
        A job of several variants counts its first variant's parts (the same windows, read once)."""
        total = 0
        several = self.variants()
        for f in sorted(self.variant_parts_dir(several[0] if several else None).glob("part-*.parquet")):
            meta = pq.read_schema(f).metadata or {}
            total += int(meta.get(b"seqbench.ambiguous_bases", b"0"))
        return total

    def pass_counts(self) -> tuple[int, int]:
        """``(forward passes, cache hits)`` summed over every part of every variant: what the model
        computed for this job and what the prediction cache (or a repeat inside a shard) served.
        A part without the counts (written before they existed) counts every row as a forward pass."""
        from seqbench.predict import CACHE_HITS_KEY, FORWARD_PASSES_KEY

        several = self.variants()
        passes = hits = 0
        for v in several or [None]:
            for f in sorted(self.variant_parts_dir(v).glob("part-*.parquet")):
                meta = pq.read_metadata(f)
                kv = meta.metadata or {}
                if FORWARD_PASSES_KEY.encode() in kv:
                    passes += int(kv[FORWARD_PASSES_KEY.encode()])
                    hits += int(kv.get(CACHE_HITS_KEY.encode(), b"0"))
                else:
                    passes += int(meta.num_rows)
        return passes, hits

    def read_predictions(self, variant: str | None = None) -> pa.Table:
        """All finished parts (of ``variant``) as one table, as written (the caller checks the row keys)."""
        files = sorted(self.variant_parts_dir(variant).glob("part-*.parquet"))
        if not files:
            raise JobDirError(f"{self.path}: no prediction parts{f' of {variant}' if variant else ''} to reduce")
        table = pa.concat_tables([pq.read_table(f) for f in files])
        return table
