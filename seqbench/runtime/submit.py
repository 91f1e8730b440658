"""A job from spec to report: plan, run the pipeline, reduce, report.

``submit`` is what ``seqbench-ray submit`` calls.  It refuses a job directory that holds a
complete job, or a different job (another content hash); given the directory of an
unfinished job with the same spec it computes only the shards without a part.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench import __version__
from seqbench.experiment import write_outputs
from seqbench.genome import Genome
from seqbench.inputs.tables import open_input
from seqbench.models import registry
from seqbench.models.base import TrackError
from seqbench.models.tfhub import ModelLoadError
from seqbench.predict import predictions_frame
from seqbench.registry import get_experiment
from seqbench.report.job import assemble_summary, headline_lines, write_report_md
from seqbench.report.job import label as fill_label
from seqbench.runtime.jobdir import JobDir, JobDirError, atomic_write_json, write_failure
from seqbench.runtime.staging import default_model_cache
from seqbench.spec import JobSpec


def cache_dir() -> Path:
    return Path(os.environ.get("SEQBENCH_CACHE_DIR", Path.home() / ".cache" / "seqbench"))


def prediction_cache_root(spec: JobSpec) -> Path | None:
    """The prediction cache a job reads and adds to (None: off); see :func:`seqbench.cache.resolve_root`."""
    from seqbench.cache import resolve_root

    return resolve_root(spec.runtime.prediction_cache, cache_dir())


def default_job_dir(spec: JobSpec) -> Path:
    """``$SEQBENCH_JOBS_ROOT`` (default ``seqbench-jobs``) ``/<experiment>-<spec hash>``."""
    root = Path(os.environ.get("SEQBENCH_JOBS_ROOT") or "seqbench-jobs").expanduser()
    return root / f"{spec.experiment}-{spec.content_hash()[:8]}"


def inputs_from_job(experiment: str, job_dir: Path) -> dict[str, str]:
    """Spec ``inputs`` that take this experiment's input tables from a finished job (``--from``).

    The experiment declares what it can take, and from which experiment, in ``FROM_JOB``:
    ``{source experiment: {input key: path inside the source job}}``.
    """
    from seqbench.spec import SpecError

    exp = get_experiment(experiment)
    accepted = exp.from_job
    job = JobDir(Path(job_dir).resolve())
    source = job.manifest()["experiment"]  # refuses a directory that is not a job
    if source not in accepted:
        takes = ", ".join(accepted) or "no other job"
        raise SpecError(f"--from {job_dir}: a {source} job; {experiment} takes its inputs from {takes}")
    if job.status().get("state") != "complete":
        raise JobDirError(f"{job.path}: the {source} job is not complete (state: {job.status().get('state')});"
                          " its outputs are not final")
    out = {}
    for key, rel in accepted[source].items():
        path = job.path / rel
        if not path.is_file():
            raise JobDirError(f"{job.path}: the {source} job has no {rel}; re-run `seqbench-ray report {job.path}`")
        out[key] = str(path)
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open_input(path) as f:  # an unreadable input: one-line InputError, not a traceback
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_identity(spec: JobSpec) -> dict[str, Any]:
    """What the inputs are: the FASTA's identity and the tables' contents.

    The FASTA is fingerprinted by :meth:`seqbench.genome.Genome.identity` (its size, its index as
    validated against it, and sampled blocks: cheap for a 3-GB genome; it catches another assembly,
    a re-written file and an index that does not match); tables are small and hashed whole.
    """
    ident: dict[str, Any] = {}
    if Path(spec.fasta).is_file():
        ident["fasta"] = Genome(spec.fasta).identity()
    for k, v in spec.inputs.items():
        if isinstance(v, Path) and v.is_file():
            ident[k] = {"path": str(v), "bytes": v.stat().st_size, "sha256": _sha256(v)}
        elif isinstance(v, Path) and v.is_dir():  # a folder of tables: every file under it, by relative path
            files = sorted(p for p in v.rglob("*") if p.is_file() and not p.name.startswith("."))
            ident[k] = {"path": str(v), "files": {p.relative_to(v).as_posix(): _sha256(p) for p in files}}
    return ident


def job_content_hash(spec: JobSpec, identity: dict[str, Any]) -> str:
    """Hash of spec (science only) + inputs: the same hash means the same predictions."""
    blob = json.dumps({"spec": spec.content_hash(), "inputs": identity}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class JobResult:
    job_dir: Path
    summary: dict[str, Any]
    headline: list[tuple[str, str, Any]]
    model_name: str
    #: the job directory already held this complete job; nothing was computed
    already_complete: bool = False
    #: seconds per phase (ray start, model load, predict, reduce and report, total); None if nothing ran
    timings: dict[str, float] | None = None


class Progress:
    """Progress on the terminal (rich) or as occasional log lines when not a terminal."""

    def __init__(self, total_members: int, done_members: int, enabled: bool):
        self.total, self.done, self.enabled = total_members, done_members, enabled
        self.start = time.time()
        self._bar = None
        self._last_line = 0.0
        self._done_at_begin = done_members
        if enabled:
            print(f"starting Ray and model replicas ({total_members - done_members:,} members to predict)...",
                  file=sys.stderr, flush=True)

    def begin(self, replicas: int) -> None:
        """The replicas are loaded: start the bar (the rate then measures prediction only)."""
        self.start = time.time()
        self._done_at_begin = self.done
        if not (self.enabled and sys.stderr.isatty()):
            if self.enabled:
                print(f"{replicas} replica(s) ready", file=sys.stderr, flush=True)
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn(f"[bold]predicting[/bold] on {replicas} replica(s)"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("members"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("predict", total=self.total, completed=self.done)

    def advance(self, members: int) -> None:
        self.done += members
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif self.enabled and (time.time() - self._last_line > 10 or self.done >= self.total):
            rate = (self.done - self._done_at_begin) / max(time.time() - self.start, 1e-9)
            print(f"predicted {self.done}/{self.total} members ({rate:.1f}/s)", file=sys.stderr, flush=True)
            self._last_line = time.time()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


@dataclass
class ModelPlan:
    """One model of a job, described and with its tracks resolved (nothing loaded)."""

    spec: Any  # seqbench.models.registry.ModelSpec
    name: str
    geometry: Any  # seqbench.models.base.Geometry
    handle: str
    track_table: Any  # seqbench.models.base.TrackTable
    tracks: dict[str, int]  # label -> track index


@dataclass
class Plan:
    """A validated, expanded job: everything needed to run it, nothing written yet."""

    experiment: Any  # the experiment module
    design: Any  # seqbench.experiment.Design
    models: list[ModelPlan]
    #: (model index, window bp or 0, name) of every model x window, as ``JobSpec.variants``
    variants: list[tuple[int, int, str]]

    # the first model: the one whose geometry expanded the design (and a one-model job's only one)
    @property
    def tracks(self) -> dict[str, int]:
        return self.models[0].tracks

    @property
    def model_name(self) -> str:
        return self.models[0].name

    @property
    def geometry(self) -> Any:
        return self.models[0].geometry

    @property
    def handle(self) -> str:
        return self.models[0].handle

    @property
    def track_table(self) -> Any:
        return self.models[0].track_table

    def groups(self) -> list[list[int]]:
        """Model indices that read the same windows (input length and anchor), in order of first model."""
        out: dict[tuple[int, int | None], list[int]] = {}
        for i, m in enumerate(self.models):
            out.setdefault((m.geometry.sequence_length, m.geometry.anchor), []).append(i)
        return list(out.values())


def _plan_model(spec: JobSpec, exp, i: int) -> ModelPlan:
    from seqbench.spec import SpecError

    ms = spec.models[i]
    where = f"models[{i}] ({ms.display_name}): " if len(spec.models) > 1 else ""
    try:
        name, geometry, tracks_table, handle = registry.describe(ms, cache_dir())
    except ModelLoadError as exc:
        raise ModelLoadError(f"{spec.source}: {where}{exc}") from exc
    try:  # members that would read bins off the model's output: refused, never averaged in as 0
        spec.ensemble.for_geometry(geometry).check_geometry(geometry)
    except ValueError as exc:
        raise SpecError(f"{spec.source}: {where}{exc}") from exc
    requests = {**spec.tracks, **dict(ms.tracks)}
    track_idx = {}
    for label, req in requests.items():
        try:
            track_idx[label] = tracks_table.resolve(req)
        except TrackError as exc:
            key = f"models[{i}].tracks.{label}" if label in dict(ms.tracks) else f"tracks.{label}"
            hint = "" if len(spec.models) == 1 else f" (give models[{i}].tracks.{label} for this model)"
            raise TrackError(f"{spec.source}: {where}{key}: {exc}{hint}") from exc
    if exp.extra_tracks is not None:  # tracks the experiment picks from the model's table by its own data
        for label, t in exp.extra_tracks(spec, tracks_table).items():
            track_idx.setdefault(label, int(t))
    if exp.readout is not None and exp.readout not in track_idx:
        raise SpecError(f"{spec.source}: tracks: the experiment reads track label {exp.readout!r}; add it to [tracks]")
    return ModelPlan(ms, name, geometry, handle, tracks_table, track_idx)


def plan_job(spec: JobSpec) -> Plan:
    """Validate inputs, resolve each model's tracks and expand the design (writes nothing).

    The design is expanded once, with the first model's geometry; every model predicts it."""
    from seqbench.spec import check_input_files

    exp = get_experiment(spec.experiment)
    genome = Genome(spec.fasta)
    models = [_plan_model(spec, exp, i) for i in range(len(spec.models))]
    check_input_files(spec)
    design = exp.expand(spec, genome, models[0].geometry)
    variants = [(i, w, models[i].name if len(spec.variants) == 1 else n) for i, w, n in spec.variants]
    return Plan(exp, design, models, variants)


def _refuse_foreign_dir(job: JobDir) -> None:
    if job.path.exists() and not job.path.is_dir():
        raise JobDirError(f"{job.path}: is a file; expected a new or empty directory, or a seqbench job directory")
    if job.path.exists() and not job.exists() and any(p.name != ".driver.lock" for p in job.path.iterdir()):
        raise JobDirError(f"{job.path}: exists and is not an empty directory or a seqbench job")


def _changes(manifest: dict[str, Any], spec: JobSpec, identity: dict[str, Any]) -> str:
    """What differs between a job's planning and now, in words."""
    what = []
    if manifest.get("spec_hash") not in (None, spec.content_hash()):
        what.append("the spec")
    old = manifest.get("inputs", {})
    for k in sorted(set(old) | set(identity)):
        if old.get(k) != identity.get(k):
            what.append("the FASTA" if k in ("fasta", "fasta_fai_sha256") else f"inputs.{k}")
    return ", ".join(what) or "the spec or inputs"


def submit(spec: JobSpec, *, job_dir: Path | None = None, progress: bool = True) -> JobResult:
    """Run a new job, or continue an unfinished one planned from the same spec and inputs.

    A complete job is never computed again: when the directory holds the same job, finished,
    its result is returned (``already_complete``), so a repeated ``make demo`` or a retried
    RayJob shows the result instead of failing; a complete job of another spec is refused.
    """
    job = JobDir(Path(job_dir or spec.job_dir or default_job_dir(spec)).resolve())
    identity = input_identity(spec)
    content_hash = job_content_hash(spec, identity)
    _refuse_foreign_dir(job)
    if job.exists():
        same = job.manifest().get("content_hash") == content_hash
        if job.status().get("state") == "complete":
            # the same job, finished: its result, computed once (a repeated `make demo`, a retried RayJob)
            if same and (job.path / "summary.json").is_file():
                return finished_result(job)
            raise JobDirError(
                f"{job.path}: holds a complete job"
                f"{'' if same else f' of another spec ({_changes(job.manifest(), spec, identity)} differ)'};"
                f" use `seqbench-ray report {job.path}` to re-run the reduce, or choose another --job-dir"
            )
        if not same:
            raise JobDirError(
                f"{job.path}: holds another job ({_changes(job.manifest(), spec, identity)} differ);"
                " choose another --job-dir"
            )
    return _execute(spec, job, identity, content_hash, progress)


def finished_result(job: JobDir) -> JobResult:
    """The result of a complete job, from its summary.json."""
    exp = get_experiment(job.manifest()["experiment"])
    summary = json.loads((job.path / "summary.json").read_text())
    try:
        spec = load_job_spec(job)
    except Exception:  # the headline's labels only: the stored summary is the result
        spec = None
    name = summary.get("model") or ", ".join(summary.get("models", [])) or "?"
    return JobResult(job.path, summary, headline_of(exp, summary, spec), name, already_complete=True)


def resume(
    job_dir: Path, *, replan: bool = False, progress: bool = True, runtime_overrides=None, model_overrides=None
) -> JobResult:
    """Continue a job from its directory: only shards without a part are computed.

    Refuses when the spec or the inputs changed since planning, unless ``replan``: then the old
    parts are moved to ``parts.replaced-<time>/`` and the job is planned again from scratch.
    """
    job = JobDir(Path(job_dir).resolve())
    manifest = job.manifest()
    spec = load_job_spec(job, runtime_overrides=runtime_overrides, model_overrides=model_overrides)
    if job.status().get("state") == "complete":
        raise JobDirError(f"{job.path}: the job is complete; nothing to resume (`seqbench-ray report` re-runs reduce)")
    identity = input_identity(spec)
    content_hash = job_content_hash(spec, identity)
    if manifest.get("content_hash") != content_hash:
        if not replan:
            raise JobDirError(
                f"{job.path}: {_changes(manifest, spec, identity)} changed since the job was planned;"
                " resume --replan starts it over with the current inputs"
            )
        stamp = time.strftime("%Y%m%d-%H%M%S")
        if job.parts_dir.exists():
            os.replace(job.parts_dir, job.path / f"parts.replaced-{stamp}")
        for p in (job.manifest_path, job.design_path, job.progress_path):
            if p.exists():
                os.replace(p, p.with_name(f"{p.name}.replaced-{stamp}"))
        job.log(f"replanned: {_changes(manifest, spec, identity)} changed; old parts kept in parts.replaced-{stamp}")
    return _execute(spec, job, identity, content_hash, progress)


def request_cancel(job_dir: Path) -> dict[str, Any]:
    """Ask the driver of a running job to stop (it polls for ``cancel.request`` about once a second)."""
    job = JobDir(Path(job_dir).resolve())
    job.manifest()  # refuses a directory that is not a job
    status = job.status()
    if status.get("state") != "running":
        raise JobDirError(f"{job.path}: the job is not running (state: {status.get('state')})")
    job.path.joinpath(CANCEL_REQUEST).write_text(json.dumps({"t": time.time(), "by_pid": os.getpid()}))
    return status


CANCEL_REQUEST = "cancel.request"


def _execute(spec: JobSpec, job: JobDir, identity: dict[str, Any], content_hash: str, progress: bool) -> JobResult:
    # validate everything we can before the job directory exists: a refused job leaves nothing
    plan = plan_job(spec)
    with job.driver_lock():
        if job.exists() and job.status().get("state") == "complete" and (job.path / "summary.json").is_file():
            return finished_result(job)  # another driver finished it while this one planned
        return _execute_locked(spec, job, identity, content_hash, progress, plan)


def _execute_locked(
    spec: JobSpec, job: JobDir, identity: dict[str, Any], content_hash: str, progress: bool, plan: Plan
) -> JobResult:
    from seqbench.runtime.pipeline import JobCancelled, PipelinePlan, init_ray, ray_map

    design, track_idx, geometry, tracks_table = plan.design, plan.tracks, plan.geometry, plan.track_table
    n = design.n_constructs
    ens = spec.ensemble
    several = len(plan.variants) > 1
    # members of each variant's model (an anchored or scalar model evaluates fewer, see Ensemble.for_geometry)
    v_members = [ens.for_geometry(plan.models[i].geometry).members for i, _w, _n in plan.variants]
    # shards are fixed at planning, whatever the runtime says now
    S = int(job.manifest()["shard_size"]) if job.exists() else spec.runtime.shard_size
    n_shards = (n + S - 1) // S
    if not job.exists():
        atomic_write_json(job.path / "spec.json", spec.raw)
        atomic_write_json(job.path / "resolved.json", spec.to_json())
        design.table.to_parquet(job.design_path.with_suffix(".tmp"), index=False)
        os.replace(job.design_path.with_suffix(".tmp"), job.design_path)
        manifest = {
            "seqbench_version": __version__,
            "experiment": spec.experiment,
            "content_hash": content_hash,
            "spec_hash": spec.content_hash(),
            "created": time.time(),
            "model": _model_record(plan.models[0]),
            "genome": str(spec.fasta),
            "spec_source": spec.source,
            "spec_base_dir": str(Path(spec.source).resolve().parent) if spec.source != "embedded demo" else None,
            "tracks": {label: {"index": i, "description": tracks_table.name(i)} for label, i in track_idx.items()},
            "ensemble": {
                "strands": list(ens.strands),
                "shifts": list(ens.shifts),
                "bin_window": list(ens.bin_window),
                "members": [f"{s}:{sh:+d}" for s, sh in ens.members],
            },
            "n_constructs": n,
            "n_members": n * sum(len(m) for m in v_members),
            "shard_size": S,
            "n_shards": n_shards,
            "inputs": identity,
            "input_snapshots": snapshot_inputs(spec, job.path),
            "versions": library_versions(),
        }
        if several:
            manifest["models"] = [_model_record(m) for m in plan.models]
            manifest["variants"] = [
                {"name": name, "model": plan.models[i].name, "model_index": i, "window": w,
                 "members": [f"{s}:{sh:+d}" for s, sh in members]}
                for (i, w, name), members in zip(plan.variants, v_members, strict=True)
            ]
        atomic_write_json(job.manifest_path, manifest)
        job.set_status("planned", shards_done=0, n_shards=n_shards)
        job.log(f"planned {n} constructs, {manifest['n_members']} members, {n_shards} shards"
                f"{f', {len(plan.variants)} variants' if several else ''} ({spec.source})")

    cancel_file = job.path / CANCEL_REQUEST
    cancel_file.unlink(missing_ok=True)
    root = prediction_cache_root(spec)
    done = job.done_shards()
    names = [name if several else None for _i, _w, name in plan.variants]
    shard_ids = {k: list(range(k * S, min(n, (k + 1) * S))) for k in range(n_shards)}
    timings: dict[str, float] = {}
    t0 = time.time()
    started = False
    try:
        if n == 0:  # an experiment that runs no model (its design has no constructs): no Ray, no replicas
            job.log("no constructs: no forward passes, Ray not started; reducing the inputs alone")
            result = reduce_and_report(job, spec)
            timings["reduce and report"] = timings["total"] = time.time() - t0
            result.timings = timings
            atomic_write_json(job.path / "timings.json", timings)
            return result
        started = init_ray(spec.runtime)
        timings["ray start"] = time.time() - t0
        job.set_status("running", shards_done=len(done), n_shards=n_shards, pid=os.getpid(), host=os.uname().nodename)
        job.log(f"prediction cache: {root}" if root else "prediction cache: off")
        total = n * sum(len(m) for m in v_members)
        done_members = sum(len(shard_ids[k]) * len(m) for v, m in zip(names, v_members, strict=True)
                           for k in job.done_shards(v))
        bar = Progress(total, done_members, progress)
        replicas = 0
        t_ready = [0.0]
        for group in plan.groups():
            g_variants = [(group.index(i), w, names[vi]) for vi, (i, w, _n) in enumerate(plan.variants) if i in group]
            g_names = [v[2] for v in g_variants]
            missing = {k: [v for v in g_names if not job.part_path(k, v).exists()] for k in range(n_shards)}
            pending = [(k, shard_ids[k]) for k in range(n_shards) if missing[k]]
            first = plan.models[group[0]]
            pplan = PipelinePlan(
                shards=pending,
                builder=design.build,
                fasta=str(spec.fasta),
                geometry=first.geometry,
                ensemble=ens,
                tracks=first.tracks,
                model=first.spec,
                cache_dir=str(cache_dir()),
                genome_local_dir=spec.runtime.genome_local_dir,
                model_cache=spec.runtime.model_cache or str(default_model_cache(cache_dir())),
                models=[plan.models[i].spec for i in group] if several else None,
                model_tracks=[plan.models[i].tracks for i in group] if several else None,
                variants=g_variants if several else None,
                window_length=geometry.sequence_length,
                also=tuple(plan.models[i].geometry for i in group[1:]),
                prediction_cache=str(root) if root else None,
            )
            try:
                replicas = max(replicas, _run_group(job, spec, pplan, bar, timings, t0, t_ready, missing,
                                                    [plan.models[i].name for i in group], cancel_file))
            except BaseException:
                bar.close()
                raise
        bar.close()
        timings["predict"] = time.time() - (t_ready[0] or t0)
        passes, hits = job.pass_counts()
        job.log(f"prediction finished: {len(job.done_shards())}/{n_shards} shards, {replicas} replica(s);"
                f" {passes:,} forward passes, {hits:,} members from the prediction cache")
        t1 = time.time()
        result = reduce_and_report(job, spec, map_fn=ray_map)
        timings["reduce and report"] = time.time() - t1
        timings["total"] = time.time() - t0
        result.timings = timings
        atomic_write_json(job.path / "timings.json", timings)
        job.log("elapsed " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    except (JobCancelled, KeyboardInterrupt) as exc:
        reason = "cancelled" if isinstance(exc, JobCancelled) else "interrupted"
        job.set_status("cancelled", reason=reason, shards_done=len(job.done_shards()), n_shards=n_shards)
        job.log(f"{reason}; resume with `seqbench-ray resume {job.path}`")
        cancel_file.unlink(missing_ok=True)
        raise JobCancelled(f"{job.path}: {reason} after {len(job.done_shards())}/{n_shards} shards;"
                           f" `seqbench-ray resume {job.path}` continues it") from None
    except BaseException as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        job.set_status("failed", reason=reason, shards_done=len(job.done_shards()), n_shards=n_shards)
        job.log(f"failed: {reason}\n{traceback.format_exc()}")
        raise
    finally:
        if started and not _keeps_ray():
            import ray

            ray.shutdown()
    return result


def _keeps_ray() -> bool:
    """Whether a local Ray this job started stays up after it: the replica pool holds its replicas for the
    driver's next job (seqbench.runtime.pool; Ray shuts down when the process exits)."""
    from seqbench.runtime.pool import POOL, pool_enabled

    return pool_enabled() and len(POOL) > 0


def _model_record(m: ModelPlan) -> dict[str, Any]:
    """A model as the manifest records it (what names it, where its weights are, its geometry, its tracks)."""
    return {
        **m.spec.identity(),
        "name": m.name,
        "resolved_handle": m.handle,
        "geometry": m.geometry.__dict__,
        "tracks": {label: {"index": i, "description": m.track_table.name(i)} for label, i in m.tracks.items()},
    }


def _run_group(job: JobDir, spec: JobSpec, pplan, bar: Progress, timings: dict[str, float], t0: float,
               t_ready: list[float], missing: dict[int, list], model_names: list[str],
               cancel_file: Path) -> int:
    """Predict the pending shards of one group of models (one input length) and write their parts."""
    from seqbench.runtime.pipeline import run_pipeline

    if not pplan.shards:
        return 0

    def on_start(r: int) -> None:
        if not t_ready[0]:
            t_ready[0] = time.time()
            timings["model load"] = t_ready[0] - t0 - timings["ray start"]
            bar.begin(r)
        job.log(f"{r} replica(s) of {', '.join(model_names)} started; {len(pplan.shards)} shards to run")

    def on_part(shard: int, table) -> None:
        tables = table if isinstance(table, dict) else {None: table}
        for variant, t in tables.items():
            if variant in missing[shard]:  # a part written before an interruption is kept as it is
                job.write_part(shard, t, variant)
                bar.advance(t.num_rows)

    return run_pipeline(pplan, spec.runtime, on_part, on_start=on_start, should_stop=cancel_file.exists,
                        on_event=job.log)


def reduce_and_report(job: JobDir, spec: JobSpec, *, map_fn=None) -> JobResult:
    """Reduce the stored predictions and write tables, figures, summary.json and report.md.

    Reduce reads the job's own copies of its input tables (``inputs/``, made at planning), so the
    same job gives the same summary after its data has moved or changed.
    """
    from seqbench.experiment import sequential_map

    exp = get_experiment(spec.experiment)
    manifest = job.manifest()
    missing = manifest["n_shards"] - len(job.done_shards())
    if missing:
        raise JobDirError(f"{job.path}: {missing} of {manifest['n_shards']} shards have no prediction part yet")
    spec = with_snapshot_inputs(spec, job, manifest)
    job.set_status("reducing", shards_done=manifest["n_shards"], n_shards=manifest["n_shards"])
    design = pd.read_parquet(job.design_path)
    variants = manifest.get("variants") or []
    t0 = time.time()
    ambiguous = job.ambiguous_bases()
    if ambiguous:
        job.log(f"the genome windows read held {ambiguous:,} IUPAC ambiguity codes; they were encoded as N")
    if len(variants) > 1:
        return _reduce_variants(job, spec, exp, manifest, design, variants, ambiguous, map_fn or sequential_map, t0)
    preds = _empty_predictions(manifest) if manifest["n_shards"] == 0 else predictions_frame(job.read_predictions())
    check_row_keys(job, preds, manifest)  # before anything is dropped: duplicates are an error
    results = exp.reduce(_reduce_input(preds), design, spec, map_fn=map_fn or sequential_map)
    model_name = manifest["model"]["name"]
    own, tables, figures = write_outputs(exp, results, job.path, model_name=model_name, spec=spec)
    summary = assemble_summary(spec.experiment, manifest, own, ambiguous)
    atomic_write_json(job.path / "summary.json", summary)
    headline = headline_of(exp, summary, spec)
    write_report_md(job.path, exp, summary, headline, tables, figures, manifest)
    job.log(f"reduce and report took {time.time() - t0:.1f} s")
    job.set_status("complete", shards_done=manifest["n_shards"], n_shards=manifest["n_shards"])
    return JobResult(job.path, summary, headline, model_name)


def _empty_predictions(manifest: dict[str, Any]) -> pd.DataFrame:
    """The rows of a job without constructs: none, with the columns a part would have."""
    cols = {"construct_id": np.int64, "member": np.uint8, "landmark_bin": np.int16}
    frame = pd.DataFrame({c: pd.Series(dtype=t) for c, t in cols.items()})
    for label in manifest.get("tracks", {}):
        frame[label] = pd.Series(dtype=np.float32)
    return frame


#: row columns that name where a row came from, not what was predicted: not handed to reduce
PROVENANCE_COLUMNS = ("model", "window")


def _reduce_input(preds: pd.DataFrame) -> pd.DataFrame:
    """The rows as experiments' reduce expects them: keys, member, landmark bin and track values."""
    return preds.drop(columns=[c for c in PROVENANCE_COLUMNS if c in preds.columns])


#: where a job of several variants keeps each variant's tables, figures, summary and report
VARIANTS_DIR = "variants"


def _reduce_variants(job: JobDir, spec: JobSpec, exp, manifest: dict[str, Any], design: pd.DataFrame,
                     variants: list[dict[str, Any]], ambiguous: int, map_fn, t0: float) -> JobResult:
    """Reduce and report each variant on its own (``variants/<name>/``), then compare them side by side."""
    from seqbench.report.compare import comparison_frame, write_comparison_figure
    from seqbench.report.job import write_comparison_report
    from seqbench.report.tables import write_frames

    summaries: dict[str, dict[str, Any]] = {}
    by_variant: dict[str, Any] = {}
    n = int(manifest["n_constructs"])
    for v in variants:
        name = v["name"]
        preds = (_empty_predictions(manifest) if manifest["n_shards"] == 0
                 else predictions_frame(job.read_predictions(name)))
        check_row_keys(job, preds, manifest, members=v["members"], variant=name)
        results = exp.reduce(_reduce_input(preds), design, spec, map_fn=map_fn)
        if exp.combine is not None:
            by_variant[name] = results
        out_dir = job.path / VARIANTS_DIR / name
        own, tables, figures = write_outputs(exp, results, out_dir, model_name=name, spec=spec)
        record = manifest["models"][v["model_index"]]
        sub = {**manifest, "model": record, "tracks": record["tracks"],
               "ensemble": {**manifest["ensemble"], "members": v["members"]}, "n_members": n * len(v["members"])}
        summary = assemble_summary(spec.experiment, sub, own, ambiguous)
        summary = {**summary, "variant": name, "window": int(v.get("window") or 0)}
        atomic_write_json(out_dir / "summary.json", summary)
        write_report_md(out_dir, exp, summary, headline_of(exp, summary, spec), tables, figures, sub)
        summaries[name] = summary
    heads = [(k, t) for k, t, _v in headline_of(exp, {}, spec)]
    frame = comparison_frame(variants, summaries, heads)
    tables = write_frames({"models_compared": frame}, job.path / "tables", csv=True)
    figure = write_comparison_figure(frame, heads, job.path / "figures" / "models_compared.png",
                                     title=f"{exp.title}: {', '.join(frame['variant'])}")
    figures = [figure] if figure else []
    combined_summary = None
    if exp.combine is not None and exp.write_combined is not None:  # statistics across the variants
        combined = exp.combine(by_variant, variants, spec)
        written = exp.write_combined(combined, job.path, title=f"{exp.title}: {', '.join(frame['variant'])}")
        tables += [p for p in written if p.suffix != ".png"]
        figures += [p for p in written if p.suffix == ".png"]
        combined_summary = combined.summary()
    summary = {
        "experiment": spec.experiment,
        "models": [m["name"] for m in manifest["models"]],
        "variants": summaries,
        "genome": manifest["genome"],
        "spec": manifest["spec_source"],
        "n_constructs": manifest["n_constructs"],
        "n_members": manifest["n_members"],
        "genome_ambiguous_bases": int(ambiguous),
    }
    if combined_summary is not None:
        summary["combined"] = combined_summary
    atomic_write_json(job.path / "summary.json", summary)
    headline = headline_of(exp, summary, spec)
    write_comparison_report(job.path, exp, summary, frame, heads, tables, figures, manifest)
    job.log(f"reduce and report of {len(variants)} variants took {time.time() - t0:.1f} s")
    job.set_status("complete", shards_done=manifest["n_shards"], n_shards=manifest["n_shards"])
    return JobResult(job.path, summary, headline, ", ".join(summary["models"]))


def headline_of(exp, summary: dict[str, Any], spec: JobSpec | None) -> list[tuple[str, str, Any]]:
    """(key, label, value) of the experiment's headline; labels filled from the spec's inputs.

    A job of several variants: every headline figure once per variant, ``[variant]`` after the label."""
    inputs = spec.inputs if spec is not None else None
    per = summary.get("variants")
    if isinstance(per, dict):
        return [(k, f"{fill_label(text, inputs)} [{name}]", s.get(k)) for name, s in per.items()
                for k, text in exp.headline]
    return [(k, fill_label(text, inputs), summary.get(k)) for k, text in exp.headline]


def check_row_keys(job: JobDir, preds: pd.DataFrame, manifest: dict[str, Any], *,
                   members: list[str] | None = None, variant: str | None = None) -> None:
    """Every planned (construct_id, member) key exactly once (of ``variant``, whose model evaluates
    ``members``): the job's exactly-once contract."""
    n = int(manifest["n_constructs"])
    m = len(members if members is not None else manifest["ensemble"]["members"])
    key = preds["construct_id"].to_numpy(np.int64) * m + preds["member"].to_numpy(np.int64)
    counts = np.bincount(key[(key >= 0) & (key < n * m)], minlength=n * m)
    stray = int(((key < 0) | (key >= n * m)).sum())
    missing, extra = int((counts == 0).sum()), int((counts > 1).sum())
    if stray or missing or extra:
        raise JobDirError(
            f"{job.path}: prediction rows{f' of {variant}' if variant else ''} break the plan: {missing} planned"
            f" row keys missing, {extra} duplicated,"
            f" {stray} not planned (expected {n * m} rows, one per construct and member)"
        )


def headline_text(result: JobResult) -> str:
    return headline_lines(result.model_name, result.headline, result.job_dir,
                          already_complete=result.already_complete, timings=result.timings)


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape the numbers (for the manifest)."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version(), "seqbench": __version__}
    for dist in ("numpy", "pandas", "pyarrow", "tensorflow", "tensorflow-hub", "tf-keras", "ray", "pyfaidx",
                 "scipy", "statsmodels", "scikit-learn", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


#: where a job keeps its copies of the input tables reduce reads
SNAPSHOT_DIR = "inputs"


def snapshot_inputs(spec: JobSpec, job_path: Path) -> dict[str, str]:
    """Copy every input file or folder the spec names into ``JOB/inputs/<key>/`` (at planning).

    Returns ``{input key: path relative to the job}``.  Plain copies, not links: a later in-place
    edit of the original cannot reach the job's copy.  The genome is not copied (reduce never reads
    it; its identity is in the manifest).
    """
    out: dict[str, str] = {}
    for k, v in spec.inputs.items():
        if not isinstance(v, Path) or not (v.is_file() or v.is_dir()):
            continue
        dest = job_path / SNAPSHOT_DIR / k / v.name
        tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if v.is_dir():
                shutil.copytree(v, tmp, ignore=shutil.ignore_patterns(".*"))
            else:
                shutil.copy2(v, tmp)
            os.replace(tmp, dest)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
            raise JobDirError(f"{job_path}: {write_failure(f'the copy of inputs.{k} ({v})', exc)}") from exc
        out[k] = dest.relative_to(job_path).as_posix()
    return out


def with_snapshot_inputs(spec: JobSpec, job: JobDir, manifest: dict[str, Any]) -> JobSpec:
    """``spec`` with every input that the job copied at planning pointing at the copy.

    A copy is checked against the content hash recorded at planning (a changed copy is refused,
    naming it).  A job planned before copies existed reads the original inputs, refused when they
    changed since planning."""
    snaps = manifest.get("input_snapshots")
    recorded = manifest.get("inputs", {})
    inputs = dict(spec.inputs)
    for k, v in spec.inputs.items():
        if snaps is not None and k in snaps:
            path = job.path / snaps[k]
            if not path.exists():
                raise JobDirError(f"{path}: the job's copy of inputs.{k} is missing; the job directory is incomplete")
        elif isinstance(v, Path) and k in recorded:
            path = v
        else:
            continue
        if recorded.get(k) and _identity_of(path) != _strip_path(recorded[k]):
            raise JobDirError(
                f"{path}: inputs.{k} changed since the job was planned (its content hash differs);"
                " the job's results would not match its predictions"
            )
        inputs[k] = path
    return dataclasses.replace(spec, inputs=inputs)


def _identity_of(path: Path) -> dict[str, Any]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        return {"files": {p.relative_to(path).as_posix(): _sha256(p) for p in files}}
    if not path.is_file():
        return {}
    return {"bytes": path.stat().st_size, "sha256": _sha256(path)}


def _strip_path(ident: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ident.items() if k != "path"}


#: model keys that change how a job runs, never what it computes (outside the content hash)
RUNTIME_MODEL_KEYS = frozenset({"batch_size"})


def load_job_spec(
    job: JobDir, runtime_overrides: dict[str, Any] | None = None, model_overrides: dict[str, Any] | None = None
) -> JobSpec:
    """The spec a job was planned with (for report/resume); ``runtime_overrides`` (replicas, GPUs,
    address) and ``model_overrides`` (only :data:`RUNTIME_MODEL_KEYS`) may change how it runs,
    never what it computes."""
    from seqbench.spec import deep_merge, parse_spec

    raw = json.loads((job.path / "spec.json").read_text())
    if runtime_overrides:
        raw = deep_merge(raw, {"runtime": runtime_overrides})
    if model_overrides:
        bad = set(model_overrides) - RUNTIME_MODEL_KEYS
        if bad:
            raise JobDirError(f"{job.path}: model.{sorted(bad)[0]} changes the predictions; it cannot change on resume")
        if isinstance(raw.get("models"), list):  # several models: each takes the override
            raw = {**raw, "models": [deep_merge(m, model_overrides) for m in raw["models"]]}
        else:
            raw = deep_merge(raw, {"model": model_overrides})
    manifest = job.manifest()
    base = Path(manifest.get("spec_base_dir") or job.path)
    return parse_spec(raw, origin=str(job.path / "spec.json"), base_dir=base.resolve())
