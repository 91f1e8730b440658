"""Jobs on a remote Ray cluster through Ray's Job Submission API (``--jobs-api http://HOST:8265``).

The job's driver runs *on the cluster* as ``seqbench-ray submit … --address auto``; this
module only submits it, streams its logs, and asks for its status or its end.  What travels:

* a working directory holding only the spec file (``spec.toml``): paths in a spec submitted
  this way are read on the cluster, so give absolute paths on shared storage (``data_root``,
  ``runtime.model_cache``, ``runtime.genome_local_dir``) — a relative ``data_root`` would point
  into the uploaded working directory, and is refused;
* optionally this machine's ``seqbench`` package (``--ship-code``: ``py_modules``), when the
  cluster's image has the dependencies but not this version of seqbench;
* optionally a user runtime environment (``--runtime-env FILE.json``: ``pip``, ``env_vars``,
  ``container`` …), merged over the above.

Job directories on the cluster default to ``$SEQBENCH_JOBS_ROOT`` (``--jobs-root``, default
``~/seqbench-jobs`` on the head node) so that a re-submitted job finds its earlier shards.
Token authentication (``RAY_AUTH_MODE=token`` and ``RAY_AUTH_TOKEN`` or ``~/.ray/auth_token``)
is handled by Ray's client from the environment.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any


class RemoteError(RuntimeError):
    """The cluster refused or lost a job; the message says which and why (one line)."""


TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


#: seconds a submission is retried while the cluster answers "No available agent to submit job, please
#: try again later": a head's dashboard agent registers a few seconds after ``ray start`` returns
AGENT_WAIT_S = 30.0
_NO_AGENT = "no available agent"


def is_jobs_api(address: str | None) -> bool:
    return bool(address) and address.startswith(("http://", "https://"))


def client(address: str):
    """A ``JobSubmissionClient``, or :class:`RemoteError` naming the address and the cause."""
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # ConnectionError, RuntimeError (auth), ValueError
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RemoteError(f"{address}: cannot reach the Ray Jobs API ({msg})") from exc


def build_entrypoint(experiment: str, *, spec_name: str | None, job_dir: str | None, extra: list[str]) -> str:
    import shlex

    args = ["seqbench-ray", "submit", experiment, "--address", "auto"]
    if spec_name:
        args += ["--spec", spec_name]
    if job_dir:
        args += ["--job-dir", job_dir]
    return " ".join(shlex.quote(a) for a in args + extra)


def check_spec_for_cluster(spec_path: Path) -> None:
    """Refuse a spec whose ``data_root`` or ``job_dir`` is relative: it would resolve inside the upload."""
    import tomllib

    from seqbench.spec import SpecError

    raw = tomllib.loads(spec_path.read_text())
    root = raw.get("data_root", ".")
    if not Path(str(root)).expanduser().is_absolute():
        raise SpecError(
            f"{spec_path}: data_root = {root!r} is relative; a spec submitted to a cluster is read there,"
            " so give data_root as an absolute path on storage the cluster sees"
        )
    job_dir = raw.get("job_dir")
    if job_dir is not None and not Path(str(job_dir)).expanduser().is_absolute():
        raise SpecError(
            f"{spec_path}: job_dir = {job_dir!r} is relative; on a cluster it would land inside the job's"
            " uploaded working directory, which Ray deletes: give an absolute path on storage the cluster"
            " sees, or leave it out (--jobs-root)"
        )


def submit_remote(
    address: str,
    experiment: str,
    *,
    spec_path: Path | None,
    job_dir: str | None,
    extra_args: list[str],
    jobs_root: str,
    ship_code: bool,
    runtime_env_file: Path | None,
) -> str:
    """Submit the driver to the cluster; returns the submission id."""
    from seqbench.spec import SpecError

    if spec_path is not None:  # what can be checked here is checked before the cluster is asked
        check_spec_for_cluster(spec_path)
    cl = client(address)
    staging = Path(tempfile.mkdtemp(prefix="seqbench-submit-"))
    try:
        spec_name = None
        if spec_path is not None:
            spec_name = "spec.toml"
            shutil.copyfile(spec_path, staging / spec_name)
        env: dict[str, Any] = {
            "working_dir": str(staging),
            "env_vars": {
                "SEQBENCH_JOBS_ROOT": jobs_root,
                "RAY_USAGE_STATS_ENABLED": "0",
            },
        }
        if ship_code:
            import seqbench

            env["py_modules"] = [str(Path(seqbench.__file__).parent)]
        if runtime_env_file is not None:
            try:
                user = json.loads(Path(runtime_env_file).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise SpecError(f"{runtime_env_file}: not a readable JSON runtime environment ({exc})") from exc
            if not isinstance(user, dict):
                raise SpecError(f"{runtime_env_file}: expected a JSON object (a Ray runtime environment)")
            env_vars = {**env["env_vars"], **user.pop("env_vars", {})}
            env = {**env, **user, "env_vars": env_vars}
        sid = f"seqbench-{experiment}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        deadline = time.monotonic() + AGENT_WAIT_S
        while True:
            try:
                return cl.submit_job(
                    entrypoint=build_entrypoint(experiment, spec_name=spec_name, job_dir=job_dir, extra=extra_args),
                    submission_id=sid,
                    runtime_env=env,
                    metadata={"seqbench": "1", "experiment": experiment},
                )
            except Exception as exc:
                if _NO_AGENT in str(exc).lower() and time.monotonic() < deadline:
                    time.sleep(1.0)  # nothing was submitted; the head's agent is still starting
                    continue
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise RemoteError(f"{address}: the cluster refused the job ({msg})") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def follow(address: str, submission_id: str, write) -> str:
    """Stream the job's logs through ``write(text)`` until it ends; returns its final status."""
    cl = client(address)

    async def tail() -> None:
        async for chunk in cl.tail_job_logs(submission_id):
            write(chunk)

    asyncio.run(tail())
    # the log stream ends with the job; the status may lag it by a moment
    for _ in range(50):
        status = str(cl.get_job_status(submission_id))
        status = status.rsplit(".", 1)[-1]
        if status in TERMINAL:
            return status
        time.sleep(0.2)
    return status


def info(address: str, submission_id: str) -> dict[str, Any]:
    cl = client(address)
    try:
        job = cl.get_job_info(submission_id)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RemoteError(f"{address}: no job {submission_id!r} ({msg})") from exc
    return {
        "submission_id": submission_id,
        "status": str(job.status).rsplit(".", 1)[-1],
        "message": job.message,
        "entrypoint": job.entrypoint,
        "start_time": job.start_time,
        "end_time": job.end_time,
        "metadata": job.metadata,
    }


def stop(address: str, submission_id: str) -> bool:
    info(address, submission_id)  # a clear error for an unknown id
    return bool(client(address).stop_job(submission_id))
