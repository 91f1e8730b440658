"""``benchmarks/gpu.py`` runs unattended: its CPU smoke version (the planted model) end to end.

Known answers: tf32 on a CPU changes nothing (parity exactly 0); members cut on the device are
bit-identical to the host cut; every throughput point is positive and the table's best is the
fastest point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_gpu_benchmark_smoke_runs_and_reports(tmp_path, cache_dir):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir), "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--smoke", "--out", str(out)],
                         cwd=REPO / "benchmarks", env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    rec = json.loads(out.read_text())
    assert rec["kind"] == "planted" and rec["device"] == "CPU (no GPU)"
    assert [p["precision"] for p in rec["points"]] == ["fp32", "tf32"]
    assert all(p["sequences_per_s"] > 0 for p in rec["points"])
    assert rec["best"]["sequences_per_s"] == max(p["sequences_per_s"] for p in rec["points"])
    assert rec["parity"] == {"tf32": 0.0}
    assert rec["members_cut"]["bit_identical"] is True
    assert rec["members_cut"]["bytes_to_device_per_member_device_cut"] < rec["members_cut"][
        "bytes_to_device_per_member_host_cut"] / 5
    assert "planted on CPU (no GPU)" in res.stdout  # the table
