"""The job directory without Ray: atomic parts, progress records, the exactly-once check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from seqbench.runtime.jobdir import JobDir, JobDirError
from seqbench.runtime.submit import check_row_keys


def _table(ids, members=2):
    ids = np.repeat(np.asarray(ids, np.int64), members)
    return pa.table({"construct_id": ids, "member": np.tile(np.arange(members, dtype=np.uint8), len(ids) // members),
                     "cage": np.ones(len(ids), np.float32)})


def test_parts_are_atomic_and_recorded(tmp_path):
    job = JobDir(tmp_path / "j")
    job.write_part(3, _table([6, 7]))
    job.write_part(0, _table([0, 1]))
    assert job.done_shards() == {0, 3}
    assert not list((job.parts_dir / "_tmp").iterdir())  # nothing left half-written
    assert [p["shard"] for p in job.progress()] == [3, 0] and job.progress()[0]["rows"] == 4
    # a line cut by a crash mid-append does not break the record
    with open(job.progress_path, "a") as f:
        f.write('{"shard": 9, "ro')
    assert len(job.progress()) == 2
    got = job.read_predictions().to_pandas().sort_values(["construct_id", "member"])
    assert got["construct_id"].tolist() == [0, 0, 1, 1, 6, 6, 7, 7]


def test_row_key_check():
    manifest = {"n_constructs": 3, "ensemble": {"members": ["+:0", "-:0"]}}
    ok = pd.DataFrame({"construct_id": [0, 0, 1, 1, 2, 2], "member": [0, 1, 0, 1, 0, 1]})
    check_row_keys(JobDir(Path("/x")), ok, manifest)
    with pytest.raises(JobDirError, match="1 planned row keys missing, 0 duplicated, 0 not planned"):
        check_row_keys(JobDir(Path("/x")), ok.iloc[1:], manifest)
    dup = pd.concat([ok, ok.iloc[:1]])
    with pytest.raises(JobDirError, match="0 planned row keys missing, 1 duplicated"):
        check_row_keys(JobDir(Path("/x")), dup, manifest)
    stray = pd.concat([ok, pd.DataFrame({"construct_id": [3], "member": [0]})])
    with pytest.raises(JobDirError, match="1 not planned"):
        check_row_keys(JobDir(Path("/x")), stray, manifest)


def test_driver_lock_refuses_a_second_driver_and_frees_on_exit(tmp_path):
    import subprocess
    import sys

    from seqbench.runtime.jobdir import JobDir, JobDirError

    job = JobDir(tmp_path / "job")
    # a second process holds the lock (flock locks are per open file: another process is the real case)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from seqbench.runtime.jobdir import JobDir\n"
         "from pathlib import Path\n"
         f"with JobDir(Path({str(job.path)!r})).driver_lock():\n"
         "    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = rf"another seqbench driver is working on this job \(pid {holder.pid} "
        with pytest.raises(JobDirError, match=busy), job.driver_lock():
            pass
    finally:
        holder.kill()  # SIGKILL: the kernel drops the lock with the process
        holder.wait()
    with job.driver_lock():
        assert f"pid {__import__('os').getpid()}" in (job.path / ".driver.lock").read_text()


def test_inputs_from_a_knockdown_job(tmp_path):
    import json

    from seqbench.runtime.submit import inputs_from_job
    from seqbench.spec import SpecError

    job = tmp_path / "kd"
    (job / "tables").mkdir(parents=True)
    (job / "manifest.json").write_text(json.dumps({"experiment": "enhancer-knockdown"}))
    (job / "status.json").write_text(json.dumps({"state": "running"}))
    with pytest.raises(JobDirError, match="is not complete"):
        inputs_from_job("multiplicativity", job)
    (job / "status.json").write_text(json.dumps({"state": "complete"}))
    with pytest.raises(JobDirError, match="has no tables/in_silico_candidate_locs.tsv"):
        inputs_from_job("multiplicativity", job)
    table = job / "tables" / "in_silico_candidate_locs.tsv"
    table.write_text("x\n")
    assert inputs_from_job("multiplicativity", job) == {"candidates": str(table.resolve())}
    with pytest.raises(SpecError, match="enhancer-shift takes its inputs from no other job"):
        inputs_from_job("enhancer-shift", job)
    (job / "manifest.json").write_text(json.dumps({"experiment": "promoter-mpra"}))
    with pytest.raises(SpecError, match="promoter-mpra job; multiplicativity takes its inputs from enhancer-knockdown"):
        inputs_from_job("multiplicativity", job)
    with pytest.raises(JobDirError, match="not a seqbench job directory"):
        inputs_from_job("multiplicativity", tmp_path)


@pytest.mark.parametrize("state", ["planned", "running", "reducing"])
def test_status_says_interrupted_whenever_no_driver_holds_the_lock(tmp_path, state):
    import json

    from typer.testing import CliRunner

    from seqbench.cli import app

    job = JobDir(tmp_path / "j")
    job.path.mkdir()
    manifest = {"experiment": "multiplicativity", "model": {"name": "planted-v1"}, "n_shards": 2, "n_members": 12}
    job.manifest_path.write_text(json.dumps(manifest))
    job.set_status(state, shards_done=0, n_shards=2, pid=999_999_999, host="elsewhere")

    def shown() -> dict:
        res = CliRunner().invoke(app, ["status", str(job.path), "--json"])
        assert res.exit_code == 0, res.output
        return json.loads(res.output)

    # a driver on another host (its pid means nothing here) that holds the lock: still working
    with job.driver_lock():
        assert job.driver_alive() and shown()["state"] == state
    # the lock is free: nothing works on the job, whatever status.json says
    assert not job.driver_alive()
    info = shown()
    assert info["state"] == "interrupted" and state in info["reason"]
    assert ("report" if state == "reducing" else "resume") in info["reason"]


def test_ambiguous_bases_are_summed_over_the_parts(tmp_path):
    job = JobDir(tmp_path / "j")
    job.write_part(0, _table([0, 1]).replace_schema_metadata({"seqbench.ambiguous_bases": "7"}))
    job.write_part(1, _table([2, 3]).replace_schema_metadata({"seqbench.ambiguous_bases": "5"}))
    job.write_part(2, _table([4]))  # a part written without the count
    assert job.ambiguous_bases() == 12
