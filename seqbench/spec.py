"""Job specs: TOML in, one validated :class:`JobSpec` out.

The accepted keys are declared once, as data (:data:`SCHEMA`, plus each experiment's
``INPUTS``); messages and tests derive from that table.  Paths: ``data_root`` is resolved
against the spec file's directory; the data paths (``genome.fasta``, experiment inputs) are
resolved against ``data_root`` — the root of the paper's data archive, which holds ``Data/``.

Errors are :class:`SpecError` with one line: the file, the field, what was found and what
was expected (and the closest valid key for a misspelt one).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from seqbench.keys import Key, SpecError, a_type, check_table, closest
from seqbench.models.base import Geometry, TrackRequest
from seqbench.models.registry import KINDS, MODEL_KINDS, NAME_RE, ModelSpec
from seqbench.registry import experiment_names, get_experiment
from seqbench.sequence.ensemble import Ensemble

__all__ = [
    "SCHEMA",
    "JobSpec",
    "Key",
    "RuntimeSpec",
    "SpecError",
    "check_input_files",
    "deep_merge",
    "load_spec",
    "parse_spec",
    "path_keys",
]


SCHEMA: dict[str, Any] = {
    "experiment": Key(str, None, "experiment name (see `seqbench-ray list`)"),
    "seed": Key(
        int, 20230301, "job seed; every shuffle seed derives from it, the construct and the replicate", min=0
    ),
    "job_dir": Key(
        str, None, "job directory, relative to the spec file (default: $SEQBENCH_JOBS_ROOT, else ./seqbench-jobs, then"
        " <experiment>-<spec hash>)"
    ),
    "data_root": Key(str, ".", "root of the paper's data archive (holds Data/); relative to the spec file"),
    "genome": {"fasta": Key(str, "Data/Genome/genome.fa", "genome FASTA (hg38), relative to data_root")},
    "model": {
        "kind": Key(str, "enformer", "model kind (see docs/models.md)", tuple(MODEL_KINDS)),
        "name": Key(str, None, "the model's name in reports and job folders (default: the kind's, e.g. Enformer,"
                    " planted-v1)"),
        "handle": Key(str, None, "the weights: TF-Hub URL or SavedModel directory (enformer), model_human.h5"
                      " (basenji2), Kipoi Basenji directory (basenji1), .h5 (xpresso); default: the kind's"),
        "targets": Key(str, None, "track table (enformer, basenji2: targets_human.txt, path or URL; basenji1:"
                       " basenji1_targets.txt)"),
        "head": Key(str, "human", "output head (enformer)"),
        "batch_size": Key((int, str), None, "inputs per device call (default: the kind's: enformer 8, basenji2 16,"
                          " basenji1 2 always, xpresso 128; \"auto\": the largest power of two up to 64 that fits in"
                          " the GPU's free memory; runtime: not part of the job hash)", min=1),
        "precision": Key(str, "fp32", "device arithmetic: fp32 (TF32 off: a GPU computes what a CPU does), tf32"
                         " (tensor cores on float32 weights), bf16 (models seqbench builds in bfloat16)",
                         ("fp32", "tf32", "bf16")),
        "xla": Key(bool, None, "compile the device readout with XLA (default: on with a GPU; runtime: not hashed)"),
        "members_on_device": Key(bool, None, "send one extended window per construct and cut the strand x shift"
                                 " members on the device (default: on with a GPU; the same values bit for bit;"
                                 " runtime: not hashed)"),
        "sequence_length": Key(int, None, "override the kind's input length (bp)", min=1),
        "bin_size": Key(int, None, "override the kind's bin size (bp)", min=1),
        "offset": Key(int, None, "override the kind's offset of the first output bin (bp)", min=0),
        "n_bins": Key(int, None, "override the kind's number of output bins", min=1),
    },
    "ensemble": {
        "shifts": Key(
            list, [-43, 0, 43], "shifts in bp, whole numbers, distinct (window moved by +s; see docs/geometry.md)",
            item=int,
        ),
        "strands": Key(list, ["+", "-"], "strands evaluated, distinct", choices=("+", "-"), item=str),
        "bin_window": Key(
            list, [-1, 1], "[first, last] bins around the landmark bin that are summed (inclusive; first <= last)",
            item=int, length=2,
        ),
        "windows": Key(
            list, [], "receptive-field restriction: keep only w bp centred on the landmark, N elsewhere; each"
            " window (bp, distinct; 0 = the whole input) is reduced and reported side by side (default: the"
            " whole input only)", item=int, min=0, max=10_000_000,
        ),
    },
    "models": None,  # [[models]]: several models side by side, each a [model] table (+ name, tracks)
    "tracks": None,  # free table: label -> {index = i} | {assay = "CAGE", cell_type = "K562"}
    "runtime": {
        "address": Key(str, None, "Ray address (default: start local Ray)"),
        "replicas": Key(int, 0, "model replicas (0: one per GPU, or 1 without GPUs)", min=0),
        "max_replicas": Key(
            int, 0, "elastic pool: grow up to this many replicas as GPUs join (0: a fixed pool)", min=0
        ),
        "gpus_per_replica": Key(
            (int, float), None,
            "GPUs per replica: 0 (CPU replicas), a fraction of one GPU, or a whole number"
            " (default: 1 if the cluster has GPUs)",
            min=0,
        ),
        "cpus_per_replica": Key((int, float), 0.5, "CPUs reserved per replica (0: none reserved)", min=0),
        "materialize_cpus": Key((int, float), 0.25, "CPUs reserved per materialization task (0: none reserved)", min=0),
        "shard_size": Key(int, 32, "constructs per shard (one Parquet part each)", min=1),
        "max_in_flight": Key(int, 2, "shards queued per replica", min=1),
        "object_store_mb": Key(
            int, 512, "object store size when seqbench starts Ray itself (MB; Ray needs at least 75)", min=75
        ),
        "num_cpus": Key(int, None, "CPUs Ray may use when seqbench starts it (default: all)", min=1),
        "genome_local_dir": Key(
            str, None, "copy the genome once per node into this local directory and read it there"
            " (default: read genome.fasta in place, e.g. on a shared filesystem)"
        ),
        "model_cache": Key(
            str, None, "TF-Hub download cache for the replicas, best on shared storage"
            " (default: $TFHUB_CACHE_DIR, else <seqbench cache>/tfhub)"
        ),
        "prediction_cache": Key(
            str, None, "root of the prediction cache shared by jobs (docs/prediction-cache.md), best on shared"
            " storage on a cluster; \"off\" turns it off (default: $SEQBENCH_PREDICTION_CACHE, else"
            " <seqbench cache>/predictions; runtime: not hashed)"
        ),
    },
    "inputs": None,  # experiment-specific, validated against the experiment's INPUTS
}


@dataclass(frozen=True)
class RuntimeSpec:
    address: str | None = None
    replicas: int = 0
    max_replicas: int = 0
    gpus_per_replica: float | None = None
    cpus_per_replica: float = 0.5
    materialize_cpus: float = 0.25
    shard_size: int = 32
    max_in_flight: int = 2
    object_store_mb: int = 512
    num_cpus: int | None = None
    genome_local_dir: str | None = None
    model_cache: str | None = None
    prediction_cache: str | None = None


@dataclass(frozen=True)
class JobSpec:
    """A validated job spec with paths resolved (absolute)."""

    experiment: str
    seed: int
    job_dir: Path | None
    data_root: Path
    fasta: Path
    model: ModelSpec  # the first of ``models``: its geometry expands the design
    ensemble: Ensemble
    tracks: dict[str, TrackRequest]
    runtime: RuntimeSpec
    inputs: dict[str, Any]
    source: str  # spec file path, or "embedded demo"
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    models: tuple[ModelSpec, ...] = ()
    #: receptive-field windows (bp, 0 = whole input); () = the whole input only
    windows: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.models:
            object.__setattr__(self, "models", (self.model,))

    @property
    def variants(self) -> list[tuple[int, int, str]]:
        """``(model index, window bp or 0, name)`` of every model x window reduced on its own, in order.

        One model and no windows: one variant named after the model (a job as before)."""
        named = bool(self.windows) or any(m.windows for m in self.models)
        out = []
        for i, m in enumerate(self.models):
            for w in (m.windows if m.windows is not None else self.windows) or (0,):
                name = m.display_name if not named else f"{m.display_name}-{'full' if w == 0 else f'w{w}'}"
                out.append((i, w, name))
        return out

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["job_dir"] = str(self.job_dir) if self.job_dir else None
        d["data_root"], d["fasta"] = str(self.data_root), str(self.fasta)
        d["inputs"] = {k: str(v) if isinstance(v, Path) else v for k, v in self.inputs.items()}
        d.pop("raw")
        return json.loads(json.dumps(d, default=str))

    def content_hash(self) -> str:
        """Hash of what determines the predictions (not the runtime layout or the job dir).

        A one-model job without windows hashes as before several models and windows existed."""
        d = self.to_json()
        for k in ("runtime", "job_dir", "source"):
            d.pop(k, None)
        # how many inputs share a device call changes no prediction (tested on CPU): runtime, too
        for m in [d["model"], *d["models"]]:
            for k in ("batch_size", "xla", "members_on_device"):
                m.pop(k, None)
            if m.get("precision") == "fp32":  # the default: hashes as before the setting existed
                m.pop("precision")
            for k in ("name", "tracks", "windows"):
                if m.get(k) is None or (k != "windows" and not m.get(k)):
                    m.pop(k, None)
        if len(d["models"]) == 1:
            d.pop("models")
        if not d["windows"]:
            d.pop("windows")
        d["ensemble"].pop("windows", None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _track_requests(origin: str, table: dict) -> dict[str, TrackRequest]:
    out = {}
    for label, v in table.items():
        if isinstance(v, int) and not isinstance(v, bool):
            out[label] = TrackRequest(index=v)
            continue
        if not isinstance(v, dict):
            raise SpecError(f"{origin}: tracks.{label} must be an index or a table {{assay, cell_type}} or {{index}}")
        extra = set(v) - {"index", "assay", "cell_type"}
        if extra:
            bad = sorted(extra)[0]
            raise SpecError(
                f"{origin}: unknown key tracks.{label}.{bad}{closest(bad, ['index', 'assay', 'cell_type'])}"
            )
        if "index" in v:
            idx = v["index"]
            if isinstance(idx, bool) or not isinstance(idx, int):
                raise SpecError(f"{origin}: tracks.{label}.index = {idx!r} is {a_type(idx)}; expected int")
            out[label] = TrackRequest(index=idx)
        elif "assay" in v and "cell_type" in v:
            out[label] = TrackRequest(assay=str(v["assay"]), cell_type=str(v["cell_type"]))
        else:
            raise SpecError(f"{origin}: tracks.{label} needs index, or both assay and cell_type")
    return out


def _ensemble(origin: str, e: dict[str, Any]) -> Ensemble:
    """The ensemble of a checked ``[ensemble]`` table (element types and choices already checked)."""
    for k in ("shifts", "strands"):
        v = e[k]
        if not v:
            raise SpecError(f"{origin}: ensemble.{k} = []; expected at least one")
        dup = next((x for i, x in enumerate(v) if x in v[:i]), None)
        if dup is not None:
            raise SpecError(f"{origin}: ensemble.{k} = {v!r} repeats {dup!r}; expected distinct values")
    bw = e["bin_window"]
    if bw[0] > bw[1]:
        raise SpecError(f"{origin}: ensemble.bin_window = {bw!r}; expected [first, last] with first <= last")
    return Ensemble(tuple(e["shifts"]), tuple(e["strands"]), (bw[0], bw[1]))


def parse_spec(raw: dict[str, Any], *, origin: str, base_dir: Path, defaults: dict[str, Any] | None = None) -> JobSpec:
    """Validate a spec dict (from TOML) into a :class:`JobSpec`.

    ``defaults`` holds the experiment's defaults for ``tracks`` and ``inputs`` tables (and may
    hold a default ``model``), merged under what the spec gives.
    """
    for k in raw:
        if k not in SCHEMA:
            raise SpecError(f"{origin}: unknown key {k}{closest(k, list(SCHEMA))}")
    if "experiment" not in raw:
        raise SpecError(f"{origin}: missing key experiment (one of: {', '.join(experiment_names())})")
    exp_name = raw["experiment"]
    if not isinstance(exp_name, str):
        raise SpecError(f"{origin}: experiment = {exp_name!r} is {a_type(exp_name)}; expected a string")
    try:
        exp = get_experiment(exp_name)
    except SpecError as exc:
        raise SpecError(f"{origin}: {exc}") from exc
    # precedence, lowest first: the experiment's SPEC_DEFAULTS, the caller's defaults, the spec
    defaults = deep_merge(dict(exp.spec_defaults), defaults or {})
    top = check_table(
        "",
        {k: v for k, v in raw.items() if not isinstance(SCHEMA[k], dict) and SCHEMA[k] is not None},
        {k: v for k, v in SCHEMA.items() if isinstance(v, Key)},
        origin,
    )
    if "model" in raw and "models" in raw:
        raise SpecError(f"{origin}: give either [model] or [[models]], not both")
    tables: dict[str, dict[str, Any]] = {}
    for name in ("genome", "model", "ensemble", "runtime"):
        given = raw.get(name, {})
        if not isinstance(given, dict):
            raise SpecError(f"{origin}: {name} must be a table ([{name}])")
        merged = {**defaults.get(name, {}), **given}
        tables[name] = check_table(f"{name}.", merged, SCHEMA[name], origin)
    for name in ("tracks", "inputs"):
        if name in raw and not isinstance(raw[name], dict):
            raise SpecError(f"{origin}: {name} must be a table ([{name}])")
    tracks_raw = raw.get("tracks", defaults.get("tracks", dict(exp.default_tracks)))
    tracks = _track_requests(origin, tracks_raw)
    inputs_given = {**defaults.get("inputs", {}), **raw.get("inputs", {})}
    inputs = check_table("inputs.", inputs_given, exp.inputs, origin)

    data_root = (base_dir / Path(top["data_root"]).expanduser()).resolve()
    # a path may start with ~ (the user's home); relative paths are relative to data_root
    fasta = (data_root / Path(tables["genome"]["fasta"]).expanduser()).resolve()
    for k in path_keys(exp.inputs, exp.path_inputs):
        if isinstance(inputs[k], str) and inputs[k]:
            inputs[k] = (data_root / Path(inputs[k]).expanduser()).resolve()
        elif isinstance(inputs[k], list):  # a list of files: every element, resolved the same way
            inputs[k] = [(data_root / Path(v).expanduser()).resolve() for v in inputs[k]]

    if "models" in raw:
        entries = raw["models"]
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise SpecError(f"{origin}: models must be an array of tables ([[models]]), at least one")
        base_model = {k: v for k, v in defaults.get("model", {}).items() if k in ("kind",)}
        models = []
        for i, e in enumerate(entries):
            e = dict(e)
            per_tracks = e.pop("tracks", None)
            per_windows = _model_windows(origin, i, e.pop("windows", None))
            if per_tracks is not None and not isinstance(per_tracks, dict):
                raise SpecError(
                    f"{origin}: models[{i}].tracks must be a table of label = index or {{assay, cell_type}}"
                )
            m = check_table(f"models[{i}].", {**base_model, **e}, SCHEMA["model"], origin)
            models.append(replace(_model_spec(origin, f"models[{i}].", m, base_dir, per_tracks), windows=per_windows))
    else:
        models = [_model_spec(origin, "model.", tables["model"], base_dir, None)]
    seen: dict[str, int] = {}
    for i, ms in enumerate(models):
        nm = ms.display_name
        if not NAME_RE.match(nm):
            raise SpecError(f"{origin}: models[{i}].name = {nm!r}; expected letters, digits, '.', '_' or '-'"
                            " (it names the model's folders)")
        if nm in seen:
            raise SpecError(f"{origin}: models[{seen[nm]}] and models[{i}] are both named {nm!r}; give each model a"
                            " distinct name (models[i].name)")
        seen[nm] = i

    e = tables["ensemble"]
    ensemble = _ensemble(origin, e)
    windows = e["windows"]
    dup = next((x for i, x in enumerate(windows) if x in windows[:i]), None)
    if dup is not None:
        raise SpecError(f"{origin}: ensemble.windows = {windows!r} repeats {dup}; expected distinct widths")
    # the geometry is known without loading a model: refuse shifts and bins off its output now
    for i, ms in enumerate(models):
        if ms.info.twin_of is not None and ms.handle and ms.geometry is None:
            continue  # a planted model of the user's: its geometry is read from its files at planning
        known = ms.declared_geometry
        where = f"models[{i}] ({ms.display_name}): " if len(models) > 1 else ""
        try:
            ensemble.for_geometry(known).check_geometry(known)
        except ValueError as exc:
            raise SpecError(f"{origin}: {where}{exc}") from exc
        own = ms.windows is not None
        longest = max(ms.windows if own else windows, default=0)
        if longest > known.sequence_length:
            key = f"models[{i}].windows" if own else "ensemble.windows"
            raise SpecError(
                f"{origin}: {key}: {longest} bp is longer than the input of {ms.display_name}"
                f" ({known.sequence_length:,} bp); expected at most {known.sequence_length:,} (0: the whole input)"
            )
    r = tables["runtime"]
    g = r["gpus_per_replica"]
    if g is not None and g > 1 and g != int(g):
        raise SpecError(
            f"{origin}: runtime.gpus_per_replica = {g!r}; expected 0, a fraction of one GPU (<= 1) or a whole number"
        )
    runtime = RuntimeSpec(**r)
    job_dir = (base_dir / top["job_dir"]).resolve() if top["job_dir"] else None
    return JobSpec(
        experiment=exp_name,
        seed=top["seed"],
        job_dir=job_dir,
        data_root=data_root,
        fasta=fasta,
        model=models[0],
        ensemble=ensemble,
        tracks=tracks,
        runtime=runtime,
        inputs=inputs,
        source=origin,
        raw=raw,
        models=tuple(models),
        windows=tuple(windows),
    )


def _model_windows(origin: str, i: int, raw: Any) -> tuple[int, ...] | None:
    """A ``[[models]]`` entry's own ``windows`` (bp, distinct, 0 = whole input), or None (the job's)."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 0 for w in raw):
        raise SpecError(f"{origin}: models[{i}].windows = {raw!r}; expected a list of widths in bp (whole numbers"
                        " >= 0; 0 = the whole input)")
    dup = next((x for j, x in enumerate(raw) if x in raw[:j]), None)
    if dup is not None:
        raise SpecError(f"{origin}: models[{i}].windows = {raw!r} repeats {dup}; expected distinct widths")
    return tuple(raw)


def _model_spec(
    origin: str, prefix: str, m: dict[str, Any], base_dir: Path, per_tracks: dict | None
) -> ModelSpec:
    """A checked model table (``[model]`` or one ``[[models]]`` entry) -> :class:`ModelSpec`."""
    geo_keys = ("sequence_length", "bin_size", "offset", "n_bins")
    geometry = None
    if any(m[k] is not None for k in geo_keys):
        if not all(m[k] is not None for k in geo_keys):
            raise SpecError(f"{origin}: {prefix[:-1]} geometry overrides need all of {', '.join(geo_keys)}")
        anchor = KINDS[m["kind"]].geometry.anchor
        geometry = Geometry(*(m[k] for k in geo_keys), anchor)
        try:
            geometry.validate()
        except ValueError as exc:
            raise SpecError(f"{origin}: {prefix}{exc}") from exc
    handle = m["handle"]
    if handle and "://" not in handle:
        handle = str((base_dir / Path(handle).expanduser()).resolve())
    targets = m["targets"]
    if targets and "://" not in targets:
        targets = str((base_dir / Path(targets).expanduser()).resolve())
    tracks = tuple(_track_requests(origin, per_tracks).items()) if per_tracks else ()
    bs = m["batch_size"]
    if isinstance(bs, str) and bs != "auto":
        raise SpecError(f"{origin}: {prefix}batch_size = {bs!r}; expected a whole number >= 1 or \"auto\"")
    return ModelSpec(kind=m["kind"], handle=handle, targets=targets, head=m["head"], batch_size=bs,
                     geometry=geometry, name=m["name"], tracks=tracks, precision=m["precision"], xla=m["xla"],
                     members_on_device=m["members_on_device"])



def path_keys(schema: dict[str, Key], path_inputs: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Input keys naming files or folders: declared ``path=True`` or listed in ``path_inputs``."""
    return [k for k, key in schema.items() if key.path or k in path_inputs]


def check_input_files(spec: JobSpec) -> None:
    """Every file named inside a list-valued path input exists (``SpecError`` naming the key and element).

    Pure apart from ``stat``: reads no file.  A single-file input is left to the experiment's
    reader, which names what the file should hold; a list of files is checked here, element by
    element, so that a missing one is refused before anything runs, not skipped or found late.
    """
    exp = get_experiment(spec.experiment)
    for k in path_keys(dict(exp.inputs), exp.path_inputs):
        value = spec.inputs.get(k)
        if not isinstance(value, list):
            continue
        for i, v in enumerate(value):
            if not Path(v).exists():
                raw = spec.raw.get("inputs", {}).get(k)
                given = raw[i] if isinstance(raw, list) and i < len(raw) else str(v)
                raise SpecError(
                    f"{spec.source}: inputs.{k}[{i}] = {given!r}: no such file or directory ({v});"
                    " expected an existing file or folder (relative to data_root)"
                )


def load_spec(path: str | Path, *, overrides: dict[str, Any] | None = None) -> JobSpec:
    """Read and validate a TOML job spec file."""
    path = Path(path)
    if path.is_dir():
        raise SpecError(f"{path}: is a directory; expected a TOML spec file")
    if not path.is_file():
        raise SpecError(f"{path}: spec file not found")
    try:
        text = path.read_bytes().decode()
    except OSError as exc:
        raise SpecError(f"{path}: spec file cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not a UTF-8 text file ({exc.reason})") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: TOML syntax error: {exc}") from exc
    raw = deep_merge(raw, overrides or {})
    return parse_spec(raw, origin=str(path), base_dir=path.parent.resolve())


def deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
