"""``seqbench-ray``: run in silico experiments on local Ray or a Ray cluster.

Errors a user can fix (a missing file, a bad spec key, a model that does not load) print one
line on stderr and exit with status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

# TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes) would bury the one line of an error;
# a user who wants it sets TF_CPP_MIN_LOG_LEVEL themselves
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

app = typer.Typer(
    name="seqbench-ray",
    help="Run in silico experiments against sequence-to-expression models (Enformer and others) on Ray.\n\n"
    "Without --spec, `submit` runs the embedded default: a synthetic genome and the planted model, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain Click help: flags show as flags (no '<bool>' placeholder), and it reads the same in a pipe
    rich_markup_mode=None,
)

_DEBUG = {"on": False}


def _user_errors() -> tuple[type[BaseException], ...]:
    from seqbench.genome import GenomeError
    from seqbench.inputs.tables import InputError
    from seqbench.models.base import TrackError
    from seqbench.models.tfhub import ModelLoadError
    from seqbench.runtime.jobdir import JobDirError
    from seqbench.runtime.pipeline import JobCancelled, PipelineError
    from seqbench.runtime.remote import RemoteError
    from seqbench.runtime.staging import StagingError
    from seqbench.sequence.codes import SequenceError
    from seqbench.sequence.constructs import ConstructError
    from seqbench.spec import SpecError

    return (
        SpecError, InputError, GenomeError, TrackError, ModelLoadError, JobDirError, PipelineError, ConstructError,
        SequenceError, JobCancelled, RemoteError, StagingError,
        OSError,  # the machine, not the code: a full disk, a permission, a vanished file
    )


def _fail(exc: BaseException) -> None:
    from seqbench.runtime.pipeline import JobCancelled

    if _DEBUG["on"]:
        raise exc
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if type(exc).__module__ == "builtins" and isinstance(exc, OSError) and exc.strerror:
        where = exc.filename or ""
        hint = "; the disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        msg = f"{where}{': ' if where else ''}{exc.strerror}{hint}"
    if isinstance(exc, JobCancelled):  # not an error: the user asked for it
        typer.echo(f"seqbench-ray: {msg}", err=True)
        raise typer.Exit(code=130)
    typer.echo(f"seqbench-ray: error: {msg}", err=True)
    raise typer.Exit(code=2)


_NO_CACHE_HELP = ("Neither read nor add to the prediction cache (runtime.prediction_cache; "
                  "docs/prediction-cache.md): every member is predicted.")
_CONNECT_HELP = ("Seconds to wait for the Ray cluster at --address to answer before giving up "
                 "(default 10, or $SEQBENCH_CONNECT_TIMEOUT).")


def _set_connect_timeout(seconds: float | None) -> None:
    """``--connect-timeout``: through ``$SEQBENCH_CONNECT_TIMEOUT`` to ``init_ray``."""
    if seconds is None:
        return
    if not seconds > 0 or seconds == float("inf"):
        from seqbench.runtime.pipeline import PipelineError

        raise PipelineError(f"--connect-timeout {seconds:g}: expected a number of seconds > 0")
    os.environ["SEQBENCH_CONNECT_TIMEOUT"] = repr(float(seconds))


def _version(value: bool) -> None:
    if value:
        from seqbench import __version__

        typer.echo(f"seqbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors (also after the command).")]
    = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_version)] = False,
) -> None:
    _DEBUG["on"] = _DEBUG["on"] or debug


@app.command()
def submit(
    experiment: Annotated[str, typer.Argument(help="Experiment name (see `seqbench-ray list`).")],
    # readable=False: seqbench reports an unreadable file itself, in one line (not click's usage box)
    spec: Annotated[
        Path | None, typer.Option("--spec", help="Job spec (TOML). Default: the embedded demo.", readable=False)
    ] = None,
    job_dir: Annotated[
        Path | None,
        typer.Option(
            "--job-dir",
            help="Job directory (default from the spec, else seqbench-jobs/<experiment>-<hash>).",
            readable=False,
        ),
    ] = None,
    replicas: Annotated[
        str | None,
        typer.Option("--replicas", help="Model replicas N, or an elastic pool MIN..MAX that grows as GPUs join "
                     "(default: one per GPU, 1 without GPUs)."),
    ] = None,
    address: Annotated[
        str | None, typer.Option("--address", help="Ray address of a running cluster to drive the job from here "
                                 "(auto, HOST:PORT, ray://HOST:PORT; default: start local Ray).")
    ] = None,
    jobs_api: Annotated[
        str | None, typer.Option("--jobs-api", metavar="URL", help="Hand the job to a cluster's Ray Jobs API "
                                 "(http://HOST:8265): its driver runs there, its logs stream here.")
    ] = None,
    connect_timeout: Annotated[
        float | None, typer.Option("--connect-timeout", metavar="SECONDS", help=_CONNECT_HELP)
    ] = None,
    shard_size: Annotated[int | None, typer.Option("--shard-size", help="Constructs per shard.")] = None,
    gpus_per_replica: Annotated[
        float | None,
        typer.Option("--gpus-per-replica", help="GPUs per model replica (default: 1 if the cluster has GPUs now; "
                     "set 1 on an autoscaling cluster that starts without GPU nodes)."),
    ] = None,
    from_job: Annotated[
        Path | None,
        typer.Option("--from", help="Take this experiment's inputs from a finished job's outputs (multiplicativity: "
                     "the candidate selection of an enhancer-knockdown job).", readable=False),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    jobs_root: Annotated[
        str, typer.Option("--jobs-root", help="[Jobs API] where job directories go on the cluster when --job-dir is "
                          "not given.")
    ] = "~/seqbench-jobs",
    ship_code: Annotated[
        bool, typer.Option("--ship-code", help="[Jobs API] upload this machine's seqbench package with the job.")
    ] = False,
    runtime_env: Annotated[
        Path | None,
        typer.Option("--runtime-env", help="[Jobs API] JSON file with a Ray runtime environment (pip, env_vars, "
                     "container...) merged into the job's.", readable=False),
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="[Jobs API] submit and return; do not stream the logs.")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help=_NO_CACHE_HELP)] = False,
) -> None:
    """Plan, predict, reduce and report one experiment; print the headline figures and the job directory.

    With --jobs-api http://HOST:8265 the job is handed to the cluster's Ray Jobs API: its driver runs there,
    its logs stream here (Ctrl-C detaches), and `status` / `cancel` take the printed submission id.
    With --address auto, HOST:PORT or ray://... this process is the driver, attached to that cluster."""
    from seqbench.registry import get_experiment
    from seqbench.spec import SpecError

    try:
        _set_connect_timeout(connect_timeout)
        get_experiment(experiment)  # an unknown name: one line with the closest known one
        _ray_address(address)
        for flag, value in (("--job-dir", job_dir), ("--spec", spec), ("--from", from_job)):
            if value is not None and str(value).strip() in ("", "."):  # click turns '' into Path('.')
                raise SpecError(f"{flag} {str(value)!r}: expected a named path (an empty value or '.' is refused)")
        if jobs_api is not None and address is not None:
            raise SpecError("--address and --jobs-api: give one (--address drives the job from here on that "
                            "cluster; --jobs-api hands it to the cluster)")
        if jobs_api is not None:
            _jobs_api_url(jobs_api)
            extra: list[str] = []
            for flag, value in (("--replicas", replicas), ("--shard-size", shard_size),
                                ("--gpus-per-replica", gpus_per_replica), ("--from", from_job)):
                if value is not None:
                    extra += [flag, str(value)]
            extra += ["--no-cache"] if no_cache else []
            _submit_remote(jobs_api, experiment, spec, job_dir, extra + (["--quiet"] if quiet else []),
                           jobs_root, ship_code, runtime_env, no_wait)
            return
        overrides: dict = {"runtime": {}}
        if replicas is not None:
            overrides["runtime"].update(parse_replicas(replicas))
        if address is not None:
            overrides["runtime"]["address"] = address
        if shard_size is not None:
            overrides["runtime"]["shard_size"] = shard_size
        if gpus_per_replica is not None:
            overrides["runtime"]["gpus_per_replica"] = gpus_per_replica
        if no_cache:
            overrides["runtime"]["prediction_cache"] = "off"
        if from_job is not None:
            from seqbench.runtime.submit import inputs_from_job

            overrides["inputs"] = inputs_from_job(experiment, from_job)
        job_spec = _load(experiment, spec, overrides, quiet)
        from seqbench.runtime.submit import headline_text
        from seqbench.runtime.submit import submit as run

        t0 = time.time()
        result = run(job_spec, job_dir=job_dir, progress=not quiet)
        typer.echo(headline_text(result))
        if not quiet:
            typer.echo(f"done in {time.time() - t0:.0f} s", err=True)
    except _user_errors() as exc:
        _fail(exc)


def _ray_address(address: str | None) -> None:
    """``--address`` is a Ray cluster address, always: refuse a Jobs API URL with the flag that takes it."""
    from seqbench.runtime.remote import is_jobs_api
    from seqbench.spec import SpecError

    if is_jobs_api(address):
        raise SpecError(f"--address {address}: that is a Ray Jobs API address; use --jobs-api {address}"
                        " (submit, status, cancel). --address is a Ray cluster address: auto, HOST:PORT or"
                        " ray://HOST:PORT")


def _only_jobs_api(address: str | None) -> None:
    """``status`` and ``cancel`` read a job's directory, or ask a Jobs API: they never connect to Ray."""
    from seqbench.spec import SpecError

    if address is not None:
        raise SpecError(f"--address {address}: status and cancel take --jobs-api http://HOST:8265 for a job"
                        " submitted to a cluster's Jobs API, or read the job directory itself")


def _jobs_api_url(url: str) -> None:
    from seqbench.runtime.remote import is_jobs_api
    from seqbench.spec import SpecError

    if not is_jobs_api(url):
        raise SpecError(f"--jobs-api {url}: expected the cluster's Ray Jobs API URL, http://HOST:8265"
                        " (a Ray cluster address such as auto or ray://… goes to --address)")


def _submit_remote(address, experiment, spec, job_dir, extra, jobs_root, ship_code, runtime_env, no_wait) -> None:
    from seqbench.runtime import remote

    sid = remote.submit_remote(
        address, experiment, spec_path=spec, job_dir=str(job_dir) if job_dir else None, extra_args=extra,
        jobs_root=jobs_root, ship_code=ship_code, runtime_env_file=runtime_env,
    )
    hints = (f"  seqbench-ray status {sid} --jobs-api {address}\n"
             f"  seqbench-ray cancel {sid} --jobs-api {address}")
    typer.echo(f"submitted {sid} to {address}", err=True)
    if no_wait:
        typer.echo(sid)
        typer.echo(hints, err=True)
        return
    try:
        final = remote.follow(address, sid, lambda text: typer.echo(text, nl=False))
    except KeyboardInterrupt:
        typer.echo(f"\ndetached; {sid} keeps running on the cluster:\n{hints}", err=True)
        raise typer.Exit(code=0) from None
    if final == "SUCCEEDED":
        return
    message = remote.info(address, sid).get("message") or ""
    if final == "STOPPED":
        typer.echo(f"seqbench-ray: {sid} was stopped; resubmitting the same spec continues it", err=True)
        raise typer.Exit(code=130)
    raise remote.RemoteError(f"{sid} ended {final}: {message.strip().splitlines()[-1] if message.strip() else ''}")


def parse_replicas(text: str) -> dict[str, int]:
    """``"4"`` -> a fixed pool of 4; ``"1..8"`` -> start with 1, grow to 8 as GPUs join."""
    from seqbench.spec import SpecError

    lo, sep, hi = text.partition("..")
    try:
        n_min, n_max = int(lo), int(hi) if sep else 0
    except ValueError:
        raise SpecError(f"--replicas {text!r}: expected N or MIN..MAX (for example 4 or 1..8)") from None
    if n_min < 1 or (sep and n_max < n_min):
        raise SpecError(f"--replicas {text!r}: expected 1 <= MIN <= MAX")
    return {"replicas": n_min, "max_replicas": n_max}


def _load(experiment: str, spec: Path | None, overrides: dict, quiet: bool):
    from seqbench.registry import get_experiment
    from seqbench.spec import SpecError, deep_merge, load_spec, parse_spec

    if spec is not None:
        job_spec = load_spec(spec, overrides=overrides)
        if job_spec.experiment != experiment:
            raise SpecError(f"{spec}: experiment = {job_spec.experiment!r}, but the command asked for {experiment!r}")
        return job_spec
    from seqbench.demo.synthetic import ensure_demo
    from seqbench.runtime.submit import cache_dir

    if not quiet:
        typer.echo("embedded default: synthetic genome + planted model (not Enformer); preparing...", err=True)
    layout = ensure_demo(cache_dir())
    raw = deep_merge(get_experiment(experiment).demo_spec(layout.root), overrides)
    return parse_spec(raw, origin="embedded demo", base_dir=Path.cwd())


@app.command()
def resume(
    job_dir: Annotated[Path, typer.Argument(help="Job directory of an unfinished job.")],
    replan: Annotated[bool, typer.Option("--replan", help="Start over if the spec or inputs changed since "
                                         "planning (old parts are kept aside).")] = False,
    replicas: Annotated[str | None, typer.Option("--replicas", help="Model replicas N, or MIN..MAX.")] = None,
    address: Annotated[str | None, typer.Option("--address", help="Ray address of a running cluster.")] = None,
    connect_timeout: Annotated[
        float | None, typer.Option("--connect-timeout", metavar="SECONDS", help=_CONNECT_HELP)
    ] = None,
    gpus_per_replica: Annotated[float | None, typer.Option("--gpus-per-replica", help="GPUs per model replica "
                                                           "(changes how the job runs, not its results).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Inputs per device call (changes how the "
                                                   "job runs, not its results).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help=_NO_CACHE_HELP)] = False,
) -> None:
    """Continue a failed, cancelled or interrupted job: only shards without a part are computed.

    Options that change how the job runs but not what it computes (--replicas, --gpus-per-replica,
    --batch-size, --address) may differ from the first run; the shard size is fixed at planning."""
    from seqbench.runtime.submit import headline_text
    from seqbench.runtime.submit import resume as run

    overrides: dict = {}
    model: dict = {}
    try:
        _set_connect_timeout(connect_timeout)
        if replicas is not None:
            overrides.update(parse_replicas(replicas))
    except _user_errors() as exc:
        _fail(exc)
    if address is not None:
        overrides["address"] = address
    if gpus_per_replica is not None:
        overrides["gpus_per_replica"] = gpus_per_replica
    if batch_size is not None:
        model["batch_size"] = batch_size
    if no_cache:
        overrides["prediction_cache"] = "off"
    try:
        result = run(job_dir, replan=replan, progress=not quiet, runtime_overrides=overrides,
                     model_overrides=model)
        typer.echo(headline_text(result))
    except _user_errors() as exc:
        _fail(exc)


@app.command()
def cancel(
    job_dir: Annotated[Path, typer.Argument(help="Job directory of a running job (or, with --jobs-api, "
                                             "its submission id).")],
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the job to stop (0: don't wait).")] = 60,
    jobs_api: Annotated[str | None, typer.Option("--jobs-api", metavar="URL", help="The Ray Jobs API "
                                                 "(http://HOST:8265) the job was submitted to.")] = None,
    address: Annotated[str | None, typer.Option("--address", hidden=True)] = None,
) -> None:
    """Stop a running job cleanly (shards in flight are finished and written); it stays resumable."""
    from seqbench.runtime.jobdir import JobDir
    from seqbench.runtime.submit import request_cancel

    try:
        from seqbench.runtime import remote

        _only_jobs_api(address)
        if jobs_api is not None:
            _jobs_api_url(jobs_api)
            address = jobs_api
            sid = str(job_dir)
            remote.stop(address, sid)
            deadline = time.time() + wait
            state = remote.info(address, sid)["status"]
            while wait and time.time() < deadline and state not in remote.TERMINAL:
                time.sleep(0.5)
                state = remote.info(address, sid)["status"]
            typer.echo(f"{sid}: {state}" + ("; resubmitting the same spec continues it" if state == "STOPPED" else ""))
            return
        request_cancel(job_dir)
        job = JobDir(job_dir)
        deadline = time.time() + wait
        while wait and time.time() < deadline and job.status().get("state") == "running":
            time.sleep(0.5)
        state = job.status().get("state")
        if state == "running":
            typer.echo(f"cancel requested; the job is still stopping (check `seqbench-ray status {job_dir}`)")
        else:
            typer.echo(f"{job_dir}: {state}; `seqbench-ray resume {job_dir}` continues it")
    except _user_errors() as exc:
        _fail(exc)


@app.command()
def plan(
    experiment: Annotated[str, typer.Argument(help="Experiment name (see `seqbench-ray list`).")],
    spec: Annotated[Path | None, typer.Option("--spec", help="Job spec (TOML). Default: the embedded demo.",
                                              readable=False)] = None,
    throughput: Annotated[float | None, typer.Option("--throughput", help="Forward passes per second per GPU "
                                                     "(default: the model's documented estimate).")] = None,
    gpus: Annotated[int, typer.Option("--gpus", help="GPUs the job will use.")] = 1,
    efficiency: Annotated[float, typer.Option("--efficiency", help="Fraction of the ideal rate achieved.")] = 0.9,
    shard_size: Annotated[int | None, typer.Option("--shard-size", help="Constructs per shard.")] = None,
    from_job: Annotated[
        Path | None,
        typer.Option("--from", help="Take this experiment's inputs from a finished job's outputs (as submit "
                     "--from).", readable=False),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Plan a job run with --no-cache (no cache check).")]
    = False,
    cache_check: Annotated[int, typer.Option("--cache-check", min=1, help="Constructs materialized and hashed to "
                                             "count what the prediction cache saves; above it an evenly spaced "
                                             "sample, scaled up.")] = 20_000,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """What a job will run and cost: constructs, members, forward passes, shards, GPU-hours, wall time, and
    the forward passes the prediction cache saves.

    Validates the spec and inputs and expands the design (no Ray, no model weights); with the cache on,
    materializes and hashes every construct (or a sample, --cache-check) to count the members it holds."""
    from seqbench.estimate import estimate
    from seqbench.runtime.submit import plan_job
    from seqbench.spec import SpecError

    try:
        overrides: dict = {"runtime": {}}
        if shard_size is not None:
            overrides["runtime"]["shard_size"] = shard_size
        if no_cache:
            overrides["runtime"]["prediction_cache"] = "off"
        if from_job is not None:
            from seqbench.runtime.submit import inputs_from_job

            overrides["inputs"] = inputs_from_job(experiment, from_job)
        job_spec = _load(experiment, spec, overrides, quiet=True)
        p = plan_job(job_spec)
        ests = []
        for i, m in enumerate(p.models):
            n_windows = sum(1 for v in job_spec.variants if v[0] == i)
            members = job_spec.ensemble.for_geometry(m.geometry).n_members * n_windows
            try:
                ests.append(estimate(p.design.n_constructs, members, job_spec.runtime.shard_size, m.spec.kind,
                                     throughput=throughput, gpus=gpus, efficiency=efficiency, handle=m.handle))
            except ValueError as exc:
                raise SpecError(str(exc)) from exc
        saves = _plan_cache(job_spec, p, cache_check)
        if as_json:
            out = {"experiment": experiment, "constructs": p.design.n_constructs, "models": []}
            for m, est, sv in zip(p.models, ests, saves, strict=True):
                rec = {"name": m.name, "members": est.passes, "forward_passes": est.passes, "gpu_hours": est.gpu_hours}
                if sv is not None:
                    rec.update(forward_passes=sv.computed, cache_saves=sv.saved, cache_held=sv.held,
                               repeated=sv.members - sv.distinct, cache_other_tracks=sv.other_tracks,
                               cache_sampled=sv.sampled)
                out["models"].append(rec)
            typer.echo(json.dumps(out, indent=2))
            return
        names = ", ".join(m.name for m in p.models)
        typer.echo(f"{experiment} on {names} ({job_spec.source})")
        for m, est, sv in zip(p.models, ests, saves, strict=True):
            pad = "  " if len(p.models) > 1 else ""
            if len(p.models) > 1:
                typer.echo(f"  {m.name} ({m.spec.kind}, {m.geometry.describe()}):")
            for line in est.lines():
                typer.echo(f"  {pad}{line}")
            for line in sv.lines() if sv is not None else ["prediction cache:  off"]:
                typer.echo(f"  {pad}{line}")
        if len(p.models) > 1:
            typer.echo(f"  all models: {sum(e.passes for e in ests):,} forward passes,"
                       f" {sum(e.gpu_hours for e in ests):,.1f} GPU-hours (run one group of models after another)")
    except _user_errors() as exc:
        _fail(exc)


def _plan_cache(job_spec, p, max_constructs: int) -> list:
    """Per model of the plan ``p``: what the prediction cache saves (:mod:`seqbench.cache_savings`), or None (off)."""
    import numpy as np

    from seqbench.cache import open_model_cache
    from seqbench.cache_savings import CacheModel, cache_savings
    from seqbench.genome import Genome
    from seqbench.runtime.submit import cache_dir, prediction_cache_root

    root = prediction_cache_root(job_spec)
    out: list = [None] * len(p.models)
    if root is None or p.design.n_constructs == 0:
        return out
    genome = Genome(job_spec.fasta)
    for group in p.groups():
        models, where = [], []
        for i in group:
            m = p.models[i]
            cache = open_model_cache(root, m.spec, m.geometry, cache_dir())
            if cache is None:
                continue
            windows = tuple(w for vi, w, _n in job_spec.variants if vi == i)
            models.append(CacheModel(m.geometry, windows, np.asarray(list(m.tracks.values()), np.int32), cache))
            where.append(i)
        if not models:
            continue
        found = cache_savings(p.design.n_constructs, p.design.build, genome.read_padded, job_spec.ensemble, models,
                              window_length=p.geometry.sequence_length, max_constructs=max_constructs,
                              shard_size=job_spec.runtime.shard_size)
        for i, sv in zip(where, found, strict=True):
            out[i] = sv
    return out


@app.command()
def stage(
    experiment: Annotated[str, typer.Argument(help="Experiment name (see `seqbench-ray list`).")],
    spec: Annotated[Path | None, typer.Option("--spec", help="Job spec (TOML). Default: the embedded demo.",
                                              readable=False)] = None,
    address: Annotated[str | None, typer.Option("--address", help="Ray address of the cluster whose nodes get the "
                                                "genome copy (runtime.genome_local_dir); default: this machine.")]
    = None,
    connect_timeout: Annotated[
        float | None, typer.Option("--connect-timeout", metavar="SECONDS", help=_CONNECT_HELP)
    ] = None,
) -> None:
    """Prepare a job's genome and model ahead of a run: index the FASTA, download the model once into
    runtime.model_cache (TF-Hub) or build/check it, and copy the genome to every node's
    runtime.genome_local_dir if the spec sets one. Safe to repeat: what is in place is kept."""
    from seqbench.genome import Genome
    from seqbench.runtime.pipeline import stage_on_cluster
    from seqbench.runtime.staging import default_model_cache, local_genome, stage_model
    from seqbench.runtime.submit import cache_dir

    try:
        _set_connect_timeout(connect_timeout)
        overrides: dict = {"runtime": {"address": address}} if address else {}
        job_spec = _load(experiment, spec, overrides, quiet=True)
        t0 = time.time()
        Genome(job_spec.fasta)  # validates, and writes the .fai once if it is missing
        typer.echo(f"genome: {job_spec.fasta} (indexed)")
        rt = job_spec.runtime
        cache = rt.model_cache or str(default_model_cache(cache_dir()))
        for ms in job_spec.models:
            m = stage_model(ms, cache_dir(), cache)
            how = "downloaded into" if m["downloaded"] else "ready at"
            typer.echo(f"model {ms.display_name}: {m['handle']} {how} {m['local_path']}")
        if rt.genome_local_dir:
            if rt.address:
                copies = stage_on_cluster(rt, str(job_spec.fasta), rt.genome_local_dir)
            else:
                c = local_genome(job_spec.fasta, rt.genome_local_dir)
                copies = [{"node": os.uname().nodename, "path": str(c.path), "copied": c.copied}]
            for c in copies:
                typer.echo(f"genome copy on {c['node']}: {c['path']} ({'copied' if c['copied'] else 'already there'})")
        typer.echo(f"staged in {time.time() - t0:.1f} s")
    except _user_errors() as exc:
        _fail(exc)


@app.command("list")
def list_() -> None:
    """Experiments (built-in and plug-ins, with where each comes from) and model kinds seqbench knows."""
    from seqbench.models.registry import MODEL_KINDS
    from seqbench.registry import all_experiments

    typer.echo("experiments:")
    for name, exp in all_experiments():
        if isinstance(exp, Exception):
            typer.echo(f"  {name:<22} (cannot be loaded: {exp})")
        else:
            typer.echo(f"  {name:<22} {exp.title}  [{exp.source}]")
    typer.echo("models:")
    for kind, text in MODEL_KINDS.items():
        typer.echo(f"  {kind:<22} {text}")


@app.command()
def status(
    job_dir: Annotated[Path, typer.Argument(help="Job directory (or, with --jobs-api, a submission id).")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    jobs_api: Annotated[str | None, typer.Option("--jobs-api", metavar="URL", help="The Ray Jobs API "
                                                 "(http://HOST:8265) the job was submitted to.")] = None,
    address: Annotated[str | None, typer.Option("--address", hidden=True)] = None,
) -> None:
    """State of a job: shards done / planned, rows, throughput, ETA, failure reason."""
    from seqbench.runtime.jobdir import JobDir

    try:
        from seqbench.runtime import remote

        _only_jobs_api(address)
        if jobs_api is not None:
            _jobs_api_url(jobs_api)
            address = jobs_api
            info = remote.info(address, str(job_dir))
            if as_json:
                typer.echo(json.dumps(info, indent=2, default=str))
                return
            typer.echo(f"{info['submission_id']} on {address}: {info['status']}")
            if info.get("message"):
                typer.echo(f"  {str(info['message']).strip().splitlines()[-1]}")
            typer.echo(f"  entrypoint: {info['entrypoint']}")
            return
        job = JobDir(job_dir)
        manifest = job.manifest()
        st = job.status()
        done = job.done_shards()
        prog = job.progress()
        rows = sum(p["rows"] for p in prog)
        info = {
            "job_dir": str(job.path.resolve()),
            "experiment": manifest["experiment"],
            "model": manifest["model"]["name"],
            "state": st.get("state"),
            "reason": st.get("reason"),
            "shards_done": len(done),
            "n_shards": manifest["n_shards"],
            "rows": rows,
            "n_members": manifest["n_members"],
        }
        info["forward_passes"], info["cache_hits"] = job.pass_counts()
        if st.get("state") in ("planned", "running", "reducing") and not job.driver_alive():
            # no driver holds the job's lock (it was killed, or its machine went away): whatever the
            # last state written, nothing is working on the job
            info["state"] = "interrupted"
            who = f"driver process {st['pid']} on {st.get('host', '?')}" if st.get("pid") else "its driver"
            info["reason"] = (f"{who} is gone while {st.get('state')}; `seqbench-ray resume {job_dir}` continues"
                              if st.get("state") != "reducing" else
                              f"{who} is gone while reducing; `seqbench-ray report {job_dir}` finishes it")
        if len(prog) >= 2:
            span = prog[-1]["t"] - prog[0]["t"]
            rate = sum(p["rows"] for p in prog[1:]) / span if span > 0 else None
            info["members_per_s"] = rate
            if rate and info["state"] == "running":
                info["eta_s"] = (manifest["n_members"] - rows) / rate
        if as_json:
            typer.echo(json.dumps(info, indent=2))
            return
        typer.echo(f"{info['job_dir']}: {info['experiment']} on {info['model']}")
        typer.echo(f"  state: {info['state']}" + (f" ({info['reason']})" if info.get("reason") else ""))
        typer.echo(f"  shards: {info['shards_done']}/{info['n_shards']} done; rows {rows:,}/{info['n_members']:,}")
        typer.echo(f"  forward passes: {info['forward_passes']:,}; from the prediction cache: {info['cache_hits']:,}")
        if info.get("members_per_s"):
            typer.echo(f"  throughput: {info['members_per_s']:.1f} members/s")
        if info.get("eta_s") is not None:
            typer.echo(f"  eta: {info['eta_s']:.0f} s")
    except _user_errors() as exc:
        _fail(exc)


@app.command()
def report(job_dir: Annotated[Path, typer.Argument(help="Job directory with all prediction parts.")]) -> None:
    """Re-run reduce and report from the stored predictions."""
    from seqbench.runtime.jobdir import JobDir
    from seqbench.runtime.submit import headline_text, load_job_spec, reduce_and_report

    try:
        job = JobDir(job_dir.resolve())
        job.manifest()  # a folder that is not a job: said so, not "spec.json: No such file"
        spec = load_job_spec(job)
        result = reduce_and_report(job, spec)
        typer.echo(headline_text(result))
    except _user_errors() as exc:
        _fail(exc)


@app.command()
def prepare(
    experiments: Annotated[list[str] | None, typer.Argument(help="Experiments whose demo inputs to build "
                                                            "(default: all).", show_default=False)] = None,
) -> None:
    """Build the planted model, the synthetic genome and the demo inputs of the named experiments (default:
    every registered one) into the cache (SEQBENCH_CACHE_DIR), so that later runs start at once."""
    from seqbench.demo.synthetic import ensure_demo
    from seqbench.models.planted.build import ensure_planted_model
    from seqbench.models.planted.build_v2 import ensure_planted_v2_model
    from seqbench.registry import experiment_names, get_experiment
    from seqbench.runtime.submit import cache_dir

    try:
        chosen = [get_experiment(name) for name in (experiments or experiment_names())]
        typer.echo(f"planted model: {ensure_planted_model(cache_dir())}")
        typer.echo(f"planted-v2:    {ensure_planted_v2_model(cache_dir())}")
        layout = ensure_demo(cache_dir())
        typer.echo(f"demo genome:   {layout.fasta}")
        for exp in chosen:
            exp.demo_spec(layout.root)
            typer.echo(f"demo inputs:   {exp.name}")
    except _user_errors() as exc:
        _fail(exc)


design_app = typer.Typer(
    rich_markup_mode=None,
    help="Write common designs as construct tables for `seqbench-ray submit constructs --spec` "
    "(docs/experiments/constructs.md).",
    no_args_is_help=True,
)
app.add_typer(design_app, name="design")


def _write_design(table, out: Path) -> None:
    from seqbench.files import atomic_write
    from seqbench.inputs.tables import InputError

    if out.is_dir() or not str(out).strip():
        raise InputError(f"--out {str(out)!r}: {'is a directory' if out.is_dir() else 'empty'}; expected a file path"
                         " for the construct table")

    atomic_write(out, lambda tmp: table.to_csv(tmp, sep="\t", index=False))
    typer.echo(f"{out}: {len(table):,} constructs")


@design_app.command("tiles")
def design_tiles(
    genes: Annotated[Path, typer.Option("--genes", help="TSV with columns gene, chrom, tss (0-based) and "
                                        "optionally strand.")],
    out: Annotated[Path, typer.Option("--out", help="Construct table to write (TSV).")],
    flank: Annotated[int, typer.Option("--flank", help="Scan +/- this many bp around each TSS.", min=1)] = 50_000,
    tile: Annotated[int, typer.Option("--tile", help="Tile width (bp).", min=1)] = 5_000,
    replicates: Annotated[int, typer.Option("--replicates", help="Seeded shuffles per tile.", min=1)] = 10,
    kind: Annotated[str, typer.Option("--kind", help="Shuffle kind: mono or di.")] = "mono",
    fasta: Annotated[Path | None, typer.Option("--fasta", help="Genome FASTA: leave out tiles that run off a "
                                               "chromosome.")] = None,
) -> None:
    """Tile necessity (CREME-style): every tile within +/-flank of each TSS shuffled, read at the TSS."""
    from seqbench.experiments.constructs.sweeps import tile_scan
    from seqbench.inputs.tables import InputError, read_table, require_int_column

    try:
        frame = read_table(genes, ("gene", "chrom", "tss"), what="genes table")
        require_int_column(frame, "tss", genes)
        lengths = None
        if fasta is not None:
            from seqbench.genome import Genome

            lengths = Genome(fasta).lengths
            for i, chrom in enumerate(frame["chrom"].astype(str)):
                if chrom not in lengths:
                    raise InputError(f"{genes}: row {i + 1}, column 'chrom': {chrom!r} is not in {fasta}")
        try:
            table = tile_scan(frame, flank=flank, tile=tile, replicates=replicates, kind=kind, lengths=lengths)
        except ValueError as exc:
            where = f"{genes}: " if str(exc).startswith("row ") else "design tiles: "
            raise InputError(f"{where}{exc}") from exc
        _write_design(table, out)
    except _user_errors() as exc:
        _fail(exc)


@design_app.command("distances")
def design_distances(
    tss: Annotated[str, typer.Option("--tss", help="The TSS read, CHROM:POS (0-based).")],
    element: Annotated[str, typer.Option("--element", help="The element moved, CHROM:START-END (0-based, "
                                         "half-open, on the TSS's chromosome).")],
    distances: Annotated[str, typer.Option("--distances", help="Signed distances (bp) of the insertion point "
                                           "from the TSS, comma-separated, e.g. -20000,-10000,10000,20000.")],
    out: Annotated[Path, typer.Option("--out", help="Construct table to write (TSV).")],
    name: Annotated[str, typer.Option("--name", help="Name prefix of the constructs.")] = "element",
    keep_native: Annotated[bool, typer.Option("--keep-native", help="Leave the native copy in place (default: "
                                              "masked with N).")] = False,
) -> None:
    """One element inserted at each distance from a TSS, compared with the locus without it."""
    import re

    from seqbench.experiments.constructs.sweeps import distance_sweep
    from seqbench.inputs.tables import InputError

    try:
        m_tss = re.fullmatch(r"([^:]+):(\d+)", tss.strip())
        m_el = re.fullmatch(r"([^:]+):(\d+)-(\d+)", element.strip())
        if not m_tss:
            raise InputError(f"--tss {tss!r}: expected CHROM:POS, e.g. chr1:215232")
        if not m_el:
            raise InputError(f"--element {element!r}: expected CHROM:START-END, e.g. chr1:209478-209978")
        if m_el.group(1) != m_tss.group(1):
            raise InputError(f"--element {element!r}: on another chromosome than --tss {tss!r}")
        try:
            ds = [int(x) for x in distances.split(",") if x.strip()]
        except ValueError:
            raise InputError(f"--distances {distances!r}: expected comma-separated integers") from None
        try:
            table = distance_sweep(chrom=m_tss.group(1), tss=int(m_tss.group(2)),
                                   element=(int(m_el.group(2)), int(m_el.group(3))), distances=ds, name=name,
                                   remove_native=not keep_native)
        except ValueError as exc:
            raise InputError(f"design distances: {exc}") from exc
        _write_design(table, out)
    except _user_errors() as exc:
        _fail(exc)


cache_app = typer.Typer(
    rich_markup_mode=None,
    help="The prediction cache shared by jobs (runtime.prediction_cache; docs/prediction-cache.md).",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")
_ROOT_HELP = "Cache root (default: $SEQBENCH_PREDICTION_CACHE, else <seqbench cache>/predictions)."


def _cache_root(root: Path | None) -> Path:
    from seqbench.cache import resolve_root
    from seqbench.runtime.submit import cache_dir
    from seqbench.spec import SpecError

    found = resolve_root(str(root) if root is not None else None, cache_dir())
    if found is None:
        raise SpecError("the prediction cache is off ($SEQBENCH_PREDICTION_CACHE=off); give --root DIR")
    return found


@cache_app.command("verify")
def cache_verify(
    root: Annotated[Path | None, typer.Option("--root", help=_ROOT_HELP, readable=False)] = None,
    fix: Annotated[bool, typer.Option("--fix", help="Rewrite parts without their corrupt rows and remove "
                                      "unreadable parts (atomically); jobs recompute those members.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Read every entry of the cache and check it: exit 1 if a row fails its check or a part cannot be read
    (0 after --fix repaired everything)."""
    from seqbench.cache import verify

    try:
        rep = verify(_cache_root(root), fix=fix)
    except _user_errors() as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(rep.as_dict(), indent=2))
    else:
        typer.echo(f"{rep.root}: {rep.models} model(s), {rep.parts:,} parts, {rep.entries:,} good entries;"
                   f" {rep.corrupt_rows:,} corrupt rows, {rep.bad_parts:,} unreadable parts")
        for line in rep.problems:
            typer.echo(f"  {line}")
        if fix and rep.corrupt:
            typer.echo(f"fixed: {rep.fixed_parts} part(s) rewritten, {rep.removed_parts} removed")
    if rep.corrupt and not fix:
        raise typer.Exit(code=1)


@cache_app.command("info")
def cache_info(
    root: Annotated[Path | None, typer.Option("--root", help=_ROOT_HELP, readable=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Models in the cache: key, name, parts, distinct entries, bytes."""
    from seqbench.cache import info

    try:
        where = _cache_root(root)
        rows = info(where)
    except _user_errors() as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps({"root": str(where), "models": rows}, indent=2))
        return
    typer.echo(f"{where}: {len(rows)} model(s)")
    for r in rows:
        name = r["model"].get("name", "?")
        typer.echo(f"  {r['model_key']}  {name}: {r['entries']:,} entries in {r['parts']:,} parts,"
                   f" {r['bytes'] / 2**20:.1f} MiB")


@cache_app.command("clear")
def cache_clear(
    root: Annotated[Path | None, typer.Option("--root", help=_ROOT_HELP, readable=False)] = None,
    model_key: Annotated[list[str] | None, typer.Option("--model-key", help="Only this model's entries "
                                                        "(repeatable; see `cache info`).")] = None,
) -> None:
    """Remove cached predictions (every model's, or those of --model-key); never needed for correctness."""
    from seqbench.cache import clear

    try:
        where = _cache_root(root)
        n = clear(where, model_key or ())
    except _user_errors() as exc:
        _fail(exc)
    typer.echo(f"{where}: removed {n} model(s)")


def _terminate(signum, frame) -> None:  # SIGTERM: stop like Ctrl-C, the job stays resumable
    raise KeyboardInterrupt


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    # one job per process: replicas kept for a next job ($SEQBENCH_KEEP_REPLICAS) would only keep Ray up
    from seqbench.runtime.pool import keep_replicas

    keep_replicas(False)
    # --debug anywhere on the line (`seqbench-ray submit X --debug` as well as before the command)
    if "--debug" in sys.argv[2:]:
        sys.argv.remove("--debug")
        _DEBUG["on"] = True
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("seqbench-ray: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
