"""Golden digests of the embedded defaults: prediction rows and summary.json, for proving a reshape changed nothing.

Usage: python tools/golden_digests.py OUT.json [EXPERIMENT ...]

Runs ``seqbench-ray submit NAME`` for each experiment (default: every registered one) into a fresh
jobs root, then writes, per experiment, the SHA-256 of the prediction rows (sorted by construct and
member, every column as little-endian bytes) and of summary.json with its machine-specific paths
removed.  Compare two such files with ``diff``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

#: summary keys that hold paths of this machine, not results
PATH_KEYS = ("model_handle", "genome", "spec", "timings", "elapsed")
#: row columns that say where a row came from (added with several models per job), not what was predicted
PROVENANCE = ("model", "window")


def rows_digest(job: Path) -> tuple[str, int]:
    table = pq.read_table(job / "parts")
    frame = table.to_pandas().sort_values(["construct_id", "member"], kind="stable").reset_index(drop=True)
    h = hashlib.sha256()
    for col in sorted(c for c in frame.columns if c not in PROVENANCE):
        h.update(col.encode())
        h.update(frame[col].to_numpy().tobytes())
    return h.hexdigest(), len(frame)


def summary_digest(job: Path) -> tuple[str, dict]:
    summary = json.loads((job / "summary.json").read_text())
    for k in PATH_KEYS:
        summary.pop(k, None)
    blob = json.dumps(summary, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest(), summary


def main() -> int:
    out = Path(sys.argv[1])
    names = sys.argv[2:]
    if not names:
        names = ["multiplicativity", "enhancer-knockdown", "enhancer-shift", "promoter-mpra",
                 "saturation-mutagenesis", "promoter-enhancer-mpra"]
    root = Path(tempfile.mkdtemp(prefix="golden-"))
    env = {**os.environ, "SEQBENCH_JOBS_ROOT": str(root)}
    result = {}
    for name in names:
        before = set(root.iterdir())
        # this interpreter, so that PYTHONPATH chooses the checkout measured (an old commit's worktree)
        subprocess.run([sys.executable, "-m", "seqbench.cli", "submit", name], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        (job,) = set(root.iterdir()) - before
        rows, n = rows_digest(job)
        sdig, summary = summary_digest(job)
        result[name] = {"rows_sha256": rows, "n_rows": n, "summary_sha256": sdig, "summary": summary}
        print(name, rows[:16], n, sdig[:16], flush=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
