"""A job reports from its own directory: the inputs reduce reads are copied in at planning.

Known answer: ``seqbench-ray report`` on a copy of a finished job, with its data root deleted,
writes the same summary.json as the job itself; a tampered copy of an input is refused, naming it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.enhancer_knockdown import demo as kd_demo
from seqbench.spec import deep_merge, parse_spec

pytestmark = pytest.mark.ray


def _cli(args: list[str], cache_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir), "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run([sys.executable, "-m", "seqbench.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def test_report_after_the_data_is_gone_gives_the_same_summary(cache_dir, tmp_path, local_ray):
    from seqbench.runtime.submit import submit

    data = tmp_path / "data"
    shutil.copytree(ensure_demo(cache_dir).root, data)
    raw = deep_merge(kd_demo.demo_spec(data), {"inputs": {"shuffles": 2, "max_genes": 3}})
    result = submit(parse_spec(raw, origin="test", base_dir=tmp_path), job_dir=tmp_path / "job", progress=False)
    manifest = json.loads((result.job_dir / "manifest.json").read_text())
    snaps = manifest["input_snapshots"]
    assert set(snaps) >= {"crispri_table", "fulco_effects"}
    assert all((result.job_dir / p).is_file() for p in snaps.values())
    assert manifest["versions"]["numpy"] and manifest["inputs"]["fasta"]["size_bytes"] > 0

    moved = tmp_path / "elsewhere" / "job"
    shutil.copytree(result.job_dir, moved)
    shutil.rmtree(data)
    res = _cli(["report", str(moved)], cache_dir, tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((moved / "summary.json").read_text()) == result.summary

    # a copy changed after planning is refused, by name
    ziga = moved / snaps["crispri_table"]
    ziga.write_text(ziga.read_text().replace("\t", "\t ", 1))
    res = _cli(["report", str(moved)], cache_dir, tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"seqbench-ray: error: {ziga}: inputs.crispri_table changed since the job was planned (its content hash"
        " differs); the job's results would not match its predictions"
    )


def test_report_on_a_folder_that_is_not_a_job(cache_dir, tmp_path):
    res = _cli(["report", str(tmp_path)], cache_dir, tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == f"seqbench-ray: error: {tmp_path}: not a seqbench job directory (no manifest.json)"
