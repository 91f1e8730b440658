"""The job directory: everything a job is, on disk (no Ray here).

::

    JOB/
      spec.json          the spec as given (or the embedded default), for the record
      resolved.json      the validated spec with absolute paths
      manifest.json      what was planned: experiment, model, genome, constructs, members,
                         shard size and count, content hash of spec + inputs
      design.parquet     one row per construct: construct_id, key labels
      parts/part-NNNNNN.parquet   prediction rows of shard N (written to parts/_tmp, then renamed)
      progress.jsonl     one line per finished shard, appended after its rename
      status.json        planned | running | reducing | failed (+ reason) | cancelled | complete
      tables/ figures/   results of reduce and report
      summary.json report.md   headline figures and the human-readable report
      log.txt

A shard counts as done when its part file exists (the rename is atomic); ``progress.jsonl``
only feeds ``status`` (throughput, ETA).  A job is complete only when every shard is done
and reduce and report have written their results.
"""

from __future__ import annotations

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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same directory, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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

    def part_path(self, shard: int) -> Path:
        return self.parts_dir / PART_PATTERN.format(shard)

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

    def manifest(self) -> dict[str, Any]:
        if not self.manifest_path.is_file():
            raise JobDirError(f"{self.path}: not a seqbench job directory (no manifest.json)")
        return json.loads(self.manifest_path.read_text())

    def status(self) -> dict[str, Any]:
        if not self.status_path.is_file():
            return {"state": "unknown"}
        return json.loads(self.status_path.read_text())

    def set_status(self, state: str, **extra: Any) -> None:
        if state not in STATES:
            raise ValueError(f"unknown job state {state!r}")
        atomic_write_json(self.status_path, {"state": state, "updated": time.time(), **extra})

    def log(self, message: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / "log.txt", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")

    # ---- shards
    def done_shards(self) -> set[int]:
        if not self.parts_dir.is_dir():
            return set()
        done = set()
        for p in self.parts_dir.iterdir():
            if p.name.startswith("part-") and p.name.endswith(".parquet"):
                done.add(int(p.name[5:11]))
        return done

    def write_part(self, shard: int, table: pa.Table) -> int:
        """Write shard's rows atomically, then record it in ``progress.jsonl``; returns bytes."""
        tmp_dir = self.parts_dir / "_tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        final = self.part_path(shard)
        tmp = tmp_dir / f"{final.name}.{os.getpid()}"
        pq.write_table(table, tmp, compression="zstd", compression_level=9, use_dictionary=["member"])
        os.replace(tmp, final)
        size = final.stat().st_size
        with open(self.progress_path, "a") as f:
            f.write(json.dumps({"shard": shard, "rows": table.num_rows, "bytes": size, "t": time.time()}) + "\n")
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

    def read_predictions(self) -> pa.Table:
        """All finished parts as one table (deduplicated on (construct_id, member) as a safety net)."""
        files = sorted(self.parts_dir.glob("part-*.parquet"))
        if not files:
            raise JobDirError(f"{self.path}: no prediction parts to reduce")
        table = pa.concat_tables([pq.read_table(f) for f in files])
        return table
