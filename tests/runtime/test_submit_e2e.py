"""End to end: the CLI on the embedded default through local Ray, and determinism across
replica counts and shard sizes (the same rows as a bare in-process loop)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.experiments.multiplicativity import demo as mx_demo
from seqbench.experiments.multiplicativity import design as mx
from seqbench.models.base import ENFORMER_GEOMETRY
from seqbench.spec import deep_merge, parse_spec
from tests.experiments.multiplicativity_truth import implied_statistics, reference_combos, reference_members

pytestmark = pytest.mark.ray


def _cli(args: list[str], cache_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEQBENCH_CACHE_DIR": str(cache_dir), "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run(
        [sys.executable, "-m", "seqbench.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


def test_cli_demo_end_to_end(cache_dir, tmp_path):
    job = tmp_path / "job"
    res = _cli(["submit", "multiplicativity", "--job-dir", str(job), "--quiet"], cache_dir, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "planted-v2" in res.stdout and str(job) in res.stdout

    summary = json.loads((job / "summary.json").read_text())
    assert summary["model"] == "planted-v2" and summary["experiment"] == "multiplicativity"
    # known answers of planted-v2 (saturation: not multiplicative): the statistics its NumPy reference
    # implies for these constructs, fitted by statsmodels; float32 model outputs move them by < 1e-6
    implied = implied_statistics(reference_combos(cache_dir))
    for key, value in implied.items():
        assert summary[key] == pytest.approx(value, abs=1e-5), key
    assert summary["r2_whole_multiplicative"] < 1.0 - 1e-3
    assert summary["r2_background_multiplicative_median"] > summary["r2_background_promoter_median"]
    assert summary["n_constructs"] == 8 * 12 * 4 and summary["n_members"] == 8 * 12 * 4 * 6

    # every planned row exactly once
    manifest = json.loads((job / "manifest.json").read_text())
    parts = sorted((job / "parts").glob("part-*.parquet"))
    assert len(parts) == manifest["n_shards"]
    rows = pd.concat([pq.read_table(p).to_pandas() for p in parts])
    assert len(rows) == manifest["n_members"]
    # every member's CAGE readout is planted-v2's NumPy reference, through Ray, the adapter and TF
    ref = reference_members(cache_dir).merge(rows, on=["construct_id", "member"], suffixes=("_ref", ""))
    assert len(ref) == len(rows)
    np.testing.assert_allclose(ref["cage"], ref["cage_ref"], rtol=2e-6)
    assert not rows.duplicated(["construct_id", "member"]).any()
    assert set(rows["construct_id"]) == set(range(manifest["n_constructs"]))
    assert json.loads((job / "status.json").read_text())["state"] == "complete"

    report = (job / "report.md").read_text()
    assert "planted" in report and "not" in report.lower() and "Enformer" in report
    for fig in (
        "multiplicativity_observed_vs_fitted",
        "multiplicativity_r2_per_background",
        "multiplicativity_enhancer_corr_backgrounds",
    ):
        png = job / "figures" / f"{fig}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # status works on the finished job; report re-runs reduce from the parts alone
    st = _cli(["status", str(job), "--json"], cache_dir, tmp_path)
    assert st.returncode == 0 and json.loads(st.stdout)["state"] == "complete"
    (job / "summary.json").unlink()
    rep = _cli(["report", str(job)], cache_dir, tmp_path)
    assert rep.returncode == 0, rep.stderr[-2000:]
    again = json.loads((job / "summary.json").read_text())
    assert again["r2_whole_multiplicative"] == pytest.approx(summary["r2_whole_multiplicative"], abs=1e-12)

    # a complete job is never computed twice: the same submit (a retried RayJob) prints its result
    before = {p: p.stat().st_mtime_ns for p in job.rglob("*.parquet")}
    dup = _cli(["submit", "multiplicativity", "--job-dir", str(job), "--quiet"], cache_dir, tmp_path)
    assert dup.returncode == 0 and "already complete" in dup.stdout, dup.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in job.rglob("*.parquet")} == before


def _tiny_spec(cache_dir: Path, **runtime):
    layout = ensure_demo(cache_dir)
    raw = deep_merge(
        mx_demo.demo_spec(layout.root),
        {
            "inputs": {"max_promoters": 3, "max_enhancers": 4, "max_backgrounds": 2},
            "runtime": runtime,
        },
    )
    return parse_spec(raw, origin="test", base_dir=cache_dir)


def _rows(job: Path) -> pd.DataFrame:
    rows = pd.concat([pq.read_table(p).to_pandas() for p in sorted((job / "parts").glob("part-*.parquet"))])
    return rows.sort_values(["construct_id", "member"]).reset_index(drop=True)


@pytest.mark.slow
def test_rows_identical_across_replicas_and_shards(cache_dir, tmp_path, local_ray):
    from seqbench.runtime.submit import submit

    a = submit(_tiny_spec(cache_dir, replicas=1, shard_size=5), job_dir=tmp_path / "a", progress=False)
    b = submit(_tiny_spec(cache_dir, replicas=2, shard_size=7), job_dir=tmp_path / "b", progress=False)
    ra, rb = _rows(a.job_dir), _rows(b.job_dir)
    assert len(ra) == 3 * 4 * 2 * 6
    pd.testing.assert_frame_equal(ra, rb, check_exact=True)
    assert a.summary["r2_whole_multiplicative"] == b.summary["r2_whole_multiplicative"]

    # the same rows as the planted model called in a bare loop, without Ray
    from seqbench.genome import Genome
    from seqbench.models.registry import load_model
    from seqbench.predict import materialize_shard, predict_shard

    spec = _tiny_spec(cache_dir)
    genome = Genome(spec.fasta)
    design = mx.expand(spec, genome, ENFORMER_GEOMETRY)
    model = load_model(spec.model)
    ids = list(range(design.n_constructs))
    shard = materialize_shard(0, ids, design.constructs(ids), genome.read_padded, model.geometry, spec.ensemble)
    bare = predict_shard(model, shard, spec.ensemble, {"cage": 0, "dnase": 1}).to_pandas()
    pd.testing.assert_frame_equal(
        ra, bare.sort_values(["construct_id", "member"]).reset_index(drop=True), check_exact=True
    )
    assert np.isfinite(ra["cage"]).all()


@pytest.mark.slow
def test_unfinished_job_continues_with_only_missing_shards(cache_dir, tmp_path, local_ray):
    from seqbench.runtime.jobdir import JobDir, JobDirError
    from seqbench.runtime.submit import submit

    spec = _tiny_spec(cache_dir, shard_size=6)
    first = submit(spec, job_dir=tmp_path / "j", progress=False)
    full = _rows(first.job_dir)
    job = JobDir(first.job_dir)
    kept = {p.name: p.stat().st_mtime_ns for p in job.parts_dir.glob("part-*.parquet")}
    for shard in (1, 3):
        job.part_path(shard).unlink()
    job.set_status("failed", reason="simulated")
    (job.path / "summary.json").unlink()
    again = submit(spec, job_dir=job.path, progress=False)
    pd.testing.assert_frame_equal(_rows(again.job_dir), full, check_exact=True)
    after = {p.name: p.stat().st_mtime_ns for p in job.parts_dir.glob("part-*.parquet")}
    untouched = {k for k in kept if k not in ("part-000001.parquet", "part-000003.parquet")}
    assert all(after[k] == kept[k] for k in untouched)  # finished shards were not recomputed
    assert json.loads((job.path / "status.json").read_text())["state"] == "complete"
    # the same spec again: the finished result, nothing computed; another spec is refused
    assert submit(spec, job_dir=job.path, progress=False).already_complete
    with pytest.raises(JobDirError, match="complete job of another spec"):
        other = deep_merge(mx_demo.demo_spec(ensure_demo(cache_dir).root), {"seed": 7})
        submit(parse_spec(other, origin="test", base_dir=cache_dir), job_dir=job.path, progress=False)
    job.set_status("failed", reason="x")
    with pytest.raises(JobDirError, match="another job"):
        other = deep_merge(mx_demo.demo_spec(ensure_demo(cache_dir).root), {"seed": 7})
        submit(parse_spec(other, origin="test", base_dir=cache_dir), job_dir=job.path, progress=False)


def test_default_job_dir_returns_a_finished_job_instead_of_recomputing(cache_dir, tmp_path, local_ray, monkeypatch):
    from seqbench.runtime.submit import headline_text, submit

    monkeypatch.chdir(tmp_path)
    spec = _tiny_spec(cache_dir, shard_size=12)
    first = submit(spec, progress=False)
    assert first.job_dir.parent == tmp_path / "seqbench-jobs" and not first.already_complete
    mtimes = {p: p.stat().st_mtime_ns for p in first.job_dir.rglob("*.parquet")}
    again = submit(spec, progress=False)
    assert again.already_complete and again.job_dir == first.job_dir
    assert again.summary == json.loads((first.job_dir / "summary.json").read_text())
    assert {p: p.stat().st_mtime_ns for p in first.job_dir.rglob("*.parquet")} == mtimes
    assert "already complete" in headline_text(again)
