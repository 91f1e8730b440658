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


def test_gpu_benchmark_refuses_a_machine_it_cannot_measure_in_one_line(tmp_path, cache_dir):
    """Without --smoke on a machine where TensorFlow sees no GPU, or without a package the GPU path
    imports, the script exits 2 with one line before it builds anything (no JSON is written)."""
    out = tmp_path / "gpu.json"
    env = {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir), "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--out", str(out)],
                         cwd=REPO / "benchmarks", env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("gpu.py:")]
    assert len(lines) == 1 and "sees no GPU" in lines[0] and "--smoke" in lines[0], res.stderr[-2000:]
    assert "Traceback" not in res.stderr and not out.exists()

    # a package that is not there (the device image of some hosts has no TensorFlow at all)
    code = ("import sys; sys.path.insert(0, '.'); import gpu\n"
            "gpu.REQUIRED = gpu.REQUIRED + (('seqbench_no_such_module', 'no-such-package'),)\n"
            "raise SystemExit(gpu.main(['--smoke', '--out', sys.argv[1]]))\n")
    res = subprocess.run([sys.executable, "-c", code, str(out)], cwd=REPO / "benchmarks", env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and not out.exists(), res.stderr[-2000:]
    assert res.stderr.strip().startswith("gpu.py: this Python") and "lacks no-such-package" in res.stderr
