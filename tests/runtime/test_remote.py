"""Jobs API submission (``--jobs-api http://HOST:8265``): the pieces, and a real round trip (slow)."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqbench.demo.synthetic import ensure_demo
from seqbench.runtime.remote import build_entrypoint, check_spec_for_cluster, is_jobs_api
from seqbench.spec import SpecError


def _cli(args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "seqbench.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def test_addresses_and_entrypoint():
    assert is_jobs_api("http://127.0.0.1:8265") and is_jobs_api("https://h:443")
    assert not is_jobs_api("auto") and not is_jobs_api("ray://h:10001") and not is_jobs_api(None)
    ep = build_entrypoint("multiplicativity", spec_name="spec.toml", job_dir="/shared/jobs/a b",
                          extra=["--replicas", "1..4"])
    assert shlex.split(ep) == ["seqbench-ray", "submit", "multiplicativity", "--address", "auto", "--spec",
                               "spec.toml", "--job-dir", "/shared/jobs/a b", "--replicas", "1..4"]


def test_a_relative_data_root_is_refused_before_submission(tmp_path):
    spec = tmp_path / "job.toml"
    spec.write_text('experiment = "multiplicativity"\ndata_root = "data"\n')
    with pytest.raises(SpecError, match="data_root = 'data' is relative"):
        check_spec_for_cluster(spec)
    # through the CLI: refused before any connection (nothing listens on port 9)
    res = _cli(["submit", "multiplicativity", "--spec", str(spec), "--jobs-api", "http://127.0.0.1:9"])
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "is relative" in res.stderr, res.stderr
    spec.write_text('experiment = "multiplicativity"\ndata_root = "/shared/archive"\n')
    check_spec_for_cluster(spec)
    # a relative job_dir would land in the uploaded working directory, which Ray deletes
    spec.write_text('experiment = "multiplicativity"\ndata_root = "/shared/archive"\njob_dir = "jobs/a"\n')
    with pytest.raises(SpecError, match="job_dir = 'jobs/a' is relative; on a cluster it would land inside"):
        check_spec_for_cluster(spec)


def test_paper_scale_specs_name_no_relative_job_dir():
    """jobs/*.toml leave job_dir to --job-dir / $SEQBENCH_JOBS_ROOT: a relative one lands inside jobs/ locally."""
    import tomllib

    root = Path(__file__).resolve().parents[2] / "jobs"
    specs = sorted(root.glob("*.toml")) + sorted((root / "examples").glob("*.toml"))
    assert len(specs) >= 8
    for path in specs:
        job_dir = tomllib.loads(path.read_text()).get("job_dir")
        assert job_dir is None or Path(job_dir).is_absolute(), path


def test_an_unreachable_jobs_api_is_one_line_exit_2(tmp_path):
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for args in (["submit", "multiplicativity"], ["status", "seqbench-x"], ["cancel", "seqbench-x"]):
        res = _cli([*args, "--jobs-api", f"http://127.0.0.1:{port}"], timeout=120)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot reach the Ray Jobs API" in lines[0], res.stderr


def test_a_submission_is_retried_while_the_heads_agent_starts(tmp_path, monkeypatch):
    """Ray answers "No available agent ... try again later" for a few seconds after ``ray start``: the
    submission is tried again (nothing was submitted); any other refusal, or one past the wait, is one line."""
    from seqbench.runtime import remote

    class Client:
        def __init__(self, refusals: list[str]):
            self.refusals, self.calls = refusals, 0

        def submit_job(self, **kwargs):
            self.calls += 1
            if self.refusals:
                raise RuntimeError(self.refusals.pop(0))
            return kwargs["submission_id"]

    monkeypatch.setattr(remote.time, "sleep", lambda _s: None)
    no_agent = "Request failed with status code 500: No available agent to submit job, please try again later."
    args = {"spec_path": None, "job_dir": None, "extra_args": [], "jobs_root": str(tmp_path), "ship_code": False,
            "runtime_env_file": None}
    cl = Client([no_agent, no_agent])
    monkeypatch.setattr(remote, "client", lambda _address: cl)
    sid = remote.submit_remote("http://127.0.0.1:8265", "multiplicativity", **args)
    assert sid.startswith("seqbench-multiplicativity-") and cl.calls == 3

    cl = Client(["Request failed with status code 400: bad runtime_env", no_agent])
    with pytest.raises(remote.RemoteError, match=r"the cluster refused the job \(Request failed with status code 400"):
        remote.submit_remote("http://127.0.0.1:8265", "multiplicativity", **args)
    assert cl.calls == 1

    monkeypatch.setattr(remote, "AGENT_WAIT_S", 0.0)  # past the wait: the agent's refusal is the answer
    cl = Client([no_agent] * 5)
    with pytest.raises(remote.RemoteError, match="No available agent"):
        remote.submit_remote("http://127.0.0.1:8265", "multiplicativity", **args)
    assert cl.calls == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.ray
def test_jobs_api_round_trip_logs_status_and_cancel(cache_dir, tmp_path):
    """A real Ray head with its Jobs API: submit streams the driver's logs and ends with its result;
    status reads the job; cancel stops a second job, which the same submission then finishes."""
    from tests.conftest import stop_shared_ray

    stop_shared_ray()  # a head of its own, on a machine not also running the session's Ray and kept replicas
    ray_bin = Path(sys.executable).with_name("ray")
    layout = ensure_demo(cache_dir)
    dash, gcs = _free_port(), _free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
           "SEQBENCH_CACHE_DIR": str(cache_dir),
           # token authentication on, as on any real cluster (docs/security.md); client and head share the token
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    temp = Path(f"/tmp/sbray-{os.getpid()}")  # short: Ray's socket paths have a length limit
    start = subprocess.run(
        [str(ray_bin), "start", "--head", f"--port={gcs}", f"--dashboard-port={dash}", "--include-dashboard=true",
         "--dashboard-host=127.0.0.1", "--num-cpus=2", "--object-store-memory=300000000", f"--temp-dir={temp}",
         "--disable-usage-stats"],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert start.returncode == 0, start.stderr[-3000:]
    address = f"http://127.0.0.1:{dash}"
    try:
        spec = tmp_path / "job.toml"
        spec.write_text(
            'experiment = "multiplicativity"\n'
            f'data_root = "{layout.root}"\n'
            '[model]\nkind = "planted"\n'
            '[tracks]\ncage = {assay = "CAGE", cell_type = "K562"}\n'
            '[inputs]\nmax_promoters = 2\nmax_enhancers = 3\nmax_backgrounds = 2\n'
            '[runtime]\nshard_size = 3\n'
        )
        job = tmp_path / "job"
        # without the token the cluster refuses, in one line, and nothing is submitted
        no_token = _cli(["submit", "multiplicativity", "--spec", str(spec), "--job-dir", str(job), "--jobs-api",
                         address], env={**env, "RAY_AUTH_TOKEN": "0" * 32})
        assert no_token.returncode == 2 and no_token.stderr.count("\n") == 1, no_token.stderr
        assert not job.exists()
        res = _cli(["submit", "multiplicativity", "--spec", str(spec), "--job-dir", str(job), "--jobs-api", address],
                   env=env)
        assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-3000:])
        assert "submitted seqbench-multiplicativity-" in res.stderr
        assert "job directory:" in res.stdout and "replica(s) ready" in res.stdout  # the driver's own lines
        assert json.loads((job / "status.json").read_text())["state"] == "complete"
        sid = res.stderr.split("submitted ", 1)[1].split()[0]
        st = _cli(["status", sid, "--jobs-api", address, "--json"], env=env)
        assert st.returncode == 0 and json.loads(st.stdout)["status"] == "SUCCEEDED"

        # a second job, cancelled while it runs, is resumable by submitting it again
        job2 = tmp_path / "job2"
        body = spec.read_text().replace("max_backgrounds = 2", "max_backgrounds = 4").replace(
            "shard_size = 3", "shard_size = 2")
        spec.write_text(body)
        res = _cli(["submit", "multiplicativity", "--spec", str(spec), "--job-dir", str(job2), "--jobs-api", address,
                    "--no-wait"], env=env)
        assert res.returncode == 0, res.stderr
        sid2 = res.stdout.strip()
        deadline = time.time() + 240
        while time.time() < deadline and not list((job2 / "parts").glob("part-*.parquet")):
            time.sleep(0.5)
        stop = _cli(["cancel", sid2, "--jobs-api", address], env=env)
        assert stop.returncode == 0 and "STOPPED" in stop.stdout, (stop.stdout, stop.stderr)
        state = json.loads((job2 / "status.json").read_text())["state"]
        assert state in ("cancelled", "complete")
        again = _cli(["submit", "multiplicativity", "--spec", str(spec), "--job-dir", str(job2), "--jobs-api",
                      address], env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert json.loads((job2 / "status.json").read_text())["state"] == "complete"
    finally:
        subprocess.run([str(ray_bin), "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def test_each_flag_means_one_thing():
    """--address is a Ray cluster address (ray.init); --jobs-api the Jobs API: a URL in the wrong flag is
    refused with the flag that takes it, before anything connects."""
    res = _cli(["submit", "multiplicativity", "--address", "http://127.0.0.1:9"])
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "seqbench-ray: error: --address http://127.0.0.1:9: that is a Ray Jobs API address; use --jobs-api"
        " http://127.0.0.1:9 (submit, status, cancel). --address is a Ray cluster address: auto, HOST:PORT or"
        " ray://HOST:PORT"
    )
    res = _cli(["submit", "multiplicativity", "--jobs-api", "auto"])
    assert res.returncode == 2 and "--jobs-api auto: expected the cluster's Ray Jobs API URL" in res.stderr
    res = _cli(["status", "some-id", "--address", "http://127.0.0.1:9"])
    assert res.returncode == 2 and "status and cancel take --jobs-api" in res.stderr
