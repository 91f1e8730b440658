"""Known model kinds and how to load one from a job spec's ``[model]`` (or ``[[models]]``) table.

Real models (weights the user points to with ``model.handle``; see ``docs/models.md``):

* ``enformer`` — Enformer from TF-Hub (default handle ``https://tfhub.dev/deepmind/enformer/1``)
  or a local SavedModel directory; honours ``TFHUB_CACHE_DIR``.  Its 5,313 human tracks are
  described by ``targets_human.txt`` (``model.targets``: a path or URL); without it tracks
  can only be requested by explicit index.
* ``basenji2`` — Basenji2's Keras ``model_human.h5`` (custom layers StochasticShift, GELU), the same
  5,313 human tracks as Enformer (``targets_human.txt``).
* ``basenji1`` — Basenji1 as Kipoi's ``Basenji`` model directory (TF1 checkpoint ``model.tf.*``,
  ``const_feed_dict.pkl``, ``basenji1_targets.txt``); batch size exactly 2.
* ``xpresso`` — Xpresso's Keras h5 (Kipoi ``human_median``); one value per input.

Cost twin: ``enformer-twin`` (``seqbench.models.enformer_twin``), Enformer's architecture with seeded random
weights behind TF-Hub's interface, built into the cache like a planted twin; for benchmarks and GPU
measurements, never a predictor.  ``model.targets`` (Enformer's ``targets_human.txt``) names its tracks.

Planted twins (built by seqbench into its cache, loaded through the same adapter code as the
real kind; synthetic instruments with a known law, never the real model): ``planted``
(Enformer's interface, a TF-Hub SavedModel; the law of ``planted-v1``), ``planted-v2`` (the same
interface; graded motif scores and promoter saturation, a known departure from multiplicativity),
``planted-basenji2`` (Keras h5 with the custom
layers), ``planted-basenji1`` (the Kipoi TF1 checkpoint layout), ``planted-xpresso`` (Keras h5, two
inputs, a scalar).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from seqbench.models.base import (
    BASENJI1_GEOMETRY,
    BASENJI2_GEOMETRY,
    ENFORMER_GEOMETRY,
    XPRESSO_GEOMETRY,
    Geometry,
    TrackRequest,
    TrackTable,
)

ENFORMER_HANDLE = "https://tfhub.dev/deepmind/enformer/1"
ENFORMER_TARGETS_URL = "https://raw.githubusercontent.com/calico/basenji/master/manuscripts/cross2020/targets_human.txt"
ENFORMER_N_TRACKS = 5313
BASENJI1_N_TRACKS = 4229
#: the paper's analyses read the merged ENCODE K562 CAGE track (CNhs12334-6), not FANTOM's 4828
ENFORMER_PREFERRED = {("CAGE", "K562"): 5111}


@dataclass(frozen=True)
class Kind:
    """What seqbench knows of a model kind before loading it."""

    kind: str
    doc: str
    #: the name reports use unless the spec names the model
    default_name: str
    #: declared geometry (checked against a real call at load)
    geometry: Geometry
    #: inputs per device call unless ``model.batch_size`` says otherwise
    batch_size: int
    #: the real kind a planted twin mirrors (None for a real kind)
    twin_of: str | None = None
    #: one-hot value of N on each channel
    neutral_value: float = 0.25


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind("enformer", "Enformer (Avsec et al. 2021) from TF-Hub or a local SavedModel; 5,313 human tracks",
             "Enformer", ENFORMER_GEOMETRY, 8),
        Kind("basenji2", "Basenji2 (Kelley 2020) Keras model_human.h5; 5,313 human tracks", "Basenji2",
             BASENJI2_GEOMETRY, 16),
        Kind("basenji1", "Basenji1 (Kelley et al. 2018) Kipoi directory (TF1 checkpoint); 4,229 tracks; batch 2",
             "Basenji1", BASENJI1_GEOMETRY, 2),
        Kind("xpresso", "Xpresso (Agarwal & Shendure 2020) Keras h5 (Kipoi human_median); one value per input",
             "Xpresso", XPRESSO_GEOMETRY, 128, neutral_value=0.0),
        Kind("planted", "the planted model: synthetic, known biology, Enformer's interface (checks the pipeline)",
             "planted-v1", ENFORMER_GEOMETRY, 8, twin_of="enformer"),
        Kind("planted-v2", "planted model v2: graded motif scores, promoter saturation (not multiplicative);"
             " Enformer's interface", "planted-v2", ENFORMER_GEOMETRY, 8, twin_of="enformer"),
        Kind("planted-basenji2", "planted twin of basenji2: the same h5 format, custom layers and geometry",
             "planted-basenji2-v1", BASENJI2_GEOMETRY, 16, twin_of="basenji2"),
        Kind("planted-basenji1", "planted twin of basenji1: the same TF1 checkpoint layout, geometry and batch 2",
             "planted-basenji1-v1", BASENJI1_GEOMETRY, 2, twin_of="basenji1"),
        Kind("planted-xpresso", "planted twin of xpresso: the same two-input h5 and 10.5-kb scalar geometry",
             "planted-xpresso-v1", XPRESSO_GEOMETRY, 128, twin_of="xpresso", neutral_value=0.0),
        # a cost stand-in, not a planted law: Enformer's architecture, random weights (models.enformer_twin)
        Kind("enformer-twin", "Enformer's architecture with seeded random weights, TF-Hub's interface: a cost stand-in"
             " for benchmarks and GPU measurements, never a predictor", "enformer-twin-v1", ENFORMER_GEOMETRY, 8,
             twin_of="enformer"),
    )
}

MODEL_KINDS = {k: v.doc for k, v in KINDS.items()}

#: a model's name names its folders in a job directory
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class ModelSpec:
    """The ``[model]`` table (or one ``[[models]]`` entry) of a job spec (see ``docs/spec.md``)."""

    kind: str = "planted"
    handle: str | None = None
    targets: str | None = None
    head: str = "human"
    batch_size: int | str | None = None  # None: the kind's default; "auto": from free device memory (GPU)
    geometry: Geometry | None = None  # override the kind's declared geometry (rarely needed)
    name: str | None = None  # None: the kind's default name
    #: per-model track requests (label -> request) that replace the job's for this model
    tracks: tuple[tuple[str, TrackRequest], ...] = ()
    #: receptive-field windows of this model (bp, 0 = whole input) replacing ``ensemble.windows``; None: the job's
    windows: tuple[int, ...] | None = None
    #: device settings (see :mod:`seqbench.models.device`): fp32 / tf32 / bf16; XLA and the device-side cut of
    #: the members (None: on when a GPU is visible)
    precision: str = "fp32"
    xla: bool | None = None
    members_on_device: bool | None = None

    @property
    def info(self) -> Kind:
        return KINDS[self.kind]

    @property
    def display_name(self) -> str:
        return self.name or self.info.default_name

    @property
    def declared_geometry(self) -> Geometry:
        return self.geometry or self.info.geometry

    @property
    def effective_batch_size(self) -> int | str:
        """Inputs per device call: the spec's, ``"auto"`` (resolved when the model is loaded) or the kind's."""
        if self.kind in ("basenji1", "planted-basenji1"):
            return 2  # the graph is built for exactly 2
        return self.batch_size or self.info.batch_size

    def identity(self) -> dict:
        """What names this model in manifests and reports."""
        return {"kind": self.kind, "handle": self.resolved_handle(), "head": self.head}

    def resolved_handle(self) -> str:
        if self.handle:
            return self.handle
        if self.kind == "enformer":
            return ENFORMER_HANDLE
        if self.info.twin_of is not None:
            return f"(built-in {self.info.default_name})"
        return ""


#: URL schemes ``tensorflow_hub.load`` reads (http(s) downloads; the others through tf.io.gfile)
HANDLE_SCHEMES = ("https", "http", "gs", "file", "s3", "hdfs")
TARGETS_SCHEMES = ("https", "http")
TARGETS_COLUMNS = ("identifier", "description")


def _scheme_error(key: str, value: str, known: tuple[str, ...], expected: str) -> str | None:
    """A refusal for ``scheme://...`` with a scheme seqbench cannot read (``htp://``, ``hhtps://``), else None."""
    import difflib

    scheme = value.split("://", 1)[0]
    if scheme.lower() in known:
        return None
    near = difflib.get_close_matches(scheme.lower(), known, n=1, cutoff=0.5)
    hint = f" (did you mean '{near[0]}://'?)" if near else ""
    return f"model.{key} = {value!r}: unknown URL scheme '{scheme}://'{hint}; expected {expected}"


def check_handle(handle: str) -> None:
    """Refuse at planning what ``tensorflow_hub.load`` would refuse later, inside Ray, when it is cheap to see:
    a URL scheme it cannot read, a missing path, a file, a directory without ``saved_model.pb(txt)``."""
    from seqbench.models.tfhub import ModelLoadError

    expected = "a SavedModel directory or a TF-Hub URL"
    if "://" in handle:
        msg = _scheme_error("handle", handle, HANDLE_SCHEMES, f"{expected} (https://..., gs://...)")
        if msg:
            raise ModelLoadError(msg)
        return
    path = Path(handle)
    if not path.exists():
        raise ModelLoadError(f"model.handle = {handle!r}: no such file or directory; expected {expected}")
    if not path.is_dir():
        hint = ""
        if path.name.endswith((".tar.gz", ".tgz", ".tar")):
            hint = " (an archive: unpack it, e.g. `tar xzf`, and give the folder that holds saved_model.pb)"
        raise ModelLoadError(f"model.handle = {handle!r} is a file; expected {expected}{hint}")
    if not any((path / n).is_file() for n in ("saved_model.pb", "saved_model.pbtxt")):
        inner = sorted(p.parent.name for p in path.glob("*/saved_model.pb*"))
        hint = f"; did you mean its subfolder {inner[0]!r}?" if inner else ""
        raise ModelLoadError(
            f"model.handle = {handle!r} is a directory without saved_model.pb or saved_model.pbtxt;"
            f" expected {expected}{hint}"
        )


def read_targets(targets: str, preferred: dict[tuple[str, str], int] | None = None) -> TrackTable:
    """``TrackTable.from_targets_file`` with errors that name ``model.targets``, the file and what it lacks."""
    from seqbench.models.tfhub import ModelLoadError

    what = f"model.targets = {targets!r}"
    expected = "expected a tab-separated targets file (targets_human.txt) with columns index, identifier, description"
    if "://" in targets:
        msg = _scheme_error("targets", targets, TARGETS_SCHEMES, "a path or an https:// URL of targets_human.txt")
        if msg:
            raise ModelLoadError(msg)
    else:
        path = Path(targets)
        if not path.exists():
            raise ModelLoadError(f"{what}: no such file or directory; {expected}")
        if path.is_dir():
            raise ModelLoadError(f"{what} is a directory; {expected}")
    try:
        frame = pd.read_csv(targets, sep="\t")
    except pd.errors.EmptyDataError as exc:
        raise ModelLoadError(f"{what}: the file is empty; {expected}") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{what}: cannot be parsed ({first}); {expected}") from exc
    except OSError as exc:  # unreadable, or a URL that cannot be reached (urllib's URLError is an OSError)
        why = exc.strerror or getattr(exc, "reason", None) or exc
        raise ModelLoadError(f"{what}: cannot be read ({why}); {expected}") from exc
    missing = [c for c in TARGETS_COLUMNS if c not in frame.columns]
    if missing:
        if len(frame.columns) == 1 and "," in str(frame.columns[0]):
            raise ModelLoadError(f"{what}: one column {str(frame.columns[0])[:60]!r} (comma-separated?); {expected}")
        raise ModelLoadError(
            f"{what}: lacks column {missing[0]!r} (has {', '.join(map(str, frame.columns[:6]))}"
            f"{', ...' if len(frame.columns) > 6 else ''}); {expected}"
        )
    if frame.empty:
        raise ModelLoadError(f"{what}: has a header but no rows; {expected}")
    if "index" not in frame.columns:
        frame = frame.rename(columns={frame.columns[0]: "index"})
    index = pd.to_numeric(frame["index"], errors="coerce")
    bad = index.isna() | (index % 1 != 0)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise ModelLoadError(
            f"{what}: row {i + 1}, first column (the track index): {str(frame['index'].iloc[i])!r}; expected an integer"
        )
    return TrackTable(frame[["index", *TARGETS_COLUMNS]], preferred)


def enformer_tracks(targets: str | None) -> TrackTable:
    """Enformer's track table from ``targets_human.txt`` (path or URL), or index-only without it."""
    if targets:
        return read_targets(targets, ENFORMER_PREFERRED)
    return _index_only(ENFORMER_N_TRACKS, ENFORMER_PREFERRED)


def planted_model_dir(cache_dir: Path | None = None) -> Path:
    from seqbench.models.planted.build import ensure_planted_model

    return ensure_planted_model(cache_dir)


def twin_dir(kind: str, cache_dir: Path | None = None, precision: str = "fp32") -> Path:
    """The built planted twin of ``kind`` in the cache (built on first use); ``precision = "bf16"``: the build in
    bfloat16 (kinds in :data:`BF16_KINDS`)."""
    if kind == "planted":
        return planted_model_dir(cache_dir)
    if kind == "planted-v2":
        from seqbench.models.planted.build_v2 import ensure_planted_v2_model

        return ensure_planted_v2_model(cache_dir)
    if kind == "planted-basenji2":
        from seqbench.models.planted.twins import ensure_basenji2_twin

        return ensure_basenji2_twin(cache_dir)
    if kind == "planted-xpresso":
        from seqbench.models.planted.twins import ensure_xpresso_twin

        return ensure_xpresso_twin(cache_dir)
    if kind == "planted-basenji1":
        from seqbench.models.planted.twin_basenji1 import ensure_basenji1_twin

        return ensure_basenji1_twin(cache_dir)
    if kind == "enformer-twin":
        from seqbench.models.enformer_twin.build import ensure_enformer_twin

        return ensure_enformer_twin(cache_dir, "bfloat16" if precision == "bf16" else "float32")
    raise ValueError(f"no planted twin for kind {kind!r}")


#: the weight file of each Keras kind, when model.handle names its folder
H5_NAMES = {"basenji2": "model_human.h5", "xpresso": "model.h5"}


def _h5_path(spec: ModelSpec, base: Path) -> Path:
    """The ``.h5`` a Keras kind loads: ``model.handle`` itself, or the expected file inside that folder."""
    from seqbench.models.tfhub import ModelLoadError

    real = spec.info.twin_of or spec.kind
    want = H5_NAMES[real]
    if base.is_dir():
        if (base / want).is_file():
            return base / want
        h5s = sorted(p.name for p in base.glob("*.h5"))
        if real == "xpresso" and len(h5s) == 1:  # Zenodo's names carry the epoch and loss
            return base / h5s[0]
        found = f" (it holds {', '.join(h5s[:3])})" if h5s else ""
        raise ModelLoadError(f"model.handle = {str(base)!r}: a folder without {want}{found}; expected the {real}"
                             f" Keras .h5 file or a folder holding {want}")
    if not base.exists():
        raise ModelLoadError(f"model.handle = {str(base)!r}: no such file or directory; expected the {real} Keras"
                             " .h5 file")
    return base


def _need_handle(spec: ModelSpec) -> None:
    from seqbench.models.tfhub import ModelLoadError

    if spec.kind in ("basenji2", "basenji1", "xpresso") and not spec.handle:
        what = {"basenji2": "model_human.h5", "basenji1": "the Kipoi Basenji model directory",
                "xpresso": "the Xpresso .h5 (Kipoi human_median)"}[spec.kind]
        raise ModelLoadError(f"model.kind = {spec.kind!r} needs model.handle: the path of {what}"
                             " (see docs/models.md for where to get it)")


def _index_only(n: int, preferred: dict | None = None) -> TrackTable:
    frame = pd.DataFrame(
        {
            "index": range(n),
            "identifier": [f"track_{i}" for i in range(n)],
            "description": [f"track {i} (no targets file given)" for i in range(n)],
            "assay": [""] * n,
        }
    )
    return TrackTable(frame, preferred)


def describe(spec: ModelSpec, cache_dir: Path | None = None) -> tuple[str, Geometry, TrackTable, str]:
    """(name, declared geometry, track table, handle) of a model without loading its weights
    (a planted twin is built into the cache once)."""
    from seqbench.models.tfhub import ModelLoadError

    if spec.kind not in KINDS:
        raise ValueError(f"model.kind: unknown kind {spec.kind!r}; known kinds: {', '.join(KINDS)}")
    _need_handle(spec)
    check_device_settings(spec)
    handle = spec.handle
    twin = spec.info.twin_of is not None
    if spec.kind == "enformer" and handle:
        check_handle(handle)
    if twin:
        path = Path(handle) if handle else twin_dir(spec.kind, cache_dir, spec.precision)
        if handle and not path.exists():
            raise ModelLoadError(f"model.handle = {handle!r}: no such file or directory; omit model.handle to use"
                                 " the built-in twin")
        meta_file = path / "seqbench_model.json"
        if not meta_file.is_file():
            raise ModelLoadError(
                f"model.handle {path}: not a planted model (no seqbench_model.json);"
                " omit model.handle to use the built-in one"
            )
        meta = json.loads(meta_file.read_text())
        if meta.get("kind", "planted") != spec.kind:
            raise ModelLoadError(f"model.handle {path}: a {meta.get('kind')!r} model, not {spec.kind!r}")
        built = meta.get("dtype", "float32")
        if spec.kind in BF16_KINDS and (built == "bfloat16") != (spec.precision == "bf16"):
            raise ModelLoadError(f"model.handle {path}: a {built} build, but model.precision = {spec.precision!r};"
                                 " expected a bfloat16 build for 'bf16' and a float32 one otherwise (omit"
                                 " model.handle to use the built-in one)")
        if spec.kind == "enformer-twin" and spec.targets:  # Enformer's own targets_human.txt names its tracks
            tracks = read_targets(spec.targets, ENFORMER_PREFERRED)
        else:
            tracks = _twin_tracks(spec.kind, path)
        g = meta["geometry"]
        declared = Geometry(g["sequence_length"], g["bin_size"], g["offset"], g["n_bins"], g.get("anchor"))
        return spec.name or meta.get("name", spec.info.default_name), spec.geometry or declared, tracks, str(path)
    name, geometry = spec.display_name, spec.declared_geometry
    if spec.kind == "enformer":
        return name, geometry, enformer_tracks(spec.targets), spec.resolved_handle()
    assert handle is not None
    if spec.kind == "basenji2":
        from seqbench.models.basenji2 import custom_objects
        from seqbench.models.keras_h5 import check_h5

        h5 = _h5_path(spec, Path(handle))
        check_h5(str(h5), custom_objects(), what="basenji2")  # a layer the file needs and seqbench lacks: now
        tracks = read_targets(spec.targets, ENFORMER_PREFERRED) if spec.targets else _basenji2_default_tracks(h5)
        return name, geometry, tracks, str(h5)
    if spec.kind == "xpresso":
        from seqbench.models.keras_h5 import check_h5
        from seqbench.models.xpresso import xpresso_tracks

        h5 = _h5_path(spec, Path(handle))
        check_h5(str(h5), {}, what="xpresso")
        return name, geometry, xpresso_tracks(), str(h5)
    # basenji1
    from seqbench.models.basenji1 import find_checkpoint, read_basenji1_targets

    model_dir = Path(handle)
    find_checkpoint(model_dir)  # names the missing file
    if spec.targets:
        tracks = read_basenji1_targets(spec.targets)
    else:
        found = [p for p in (model_dir / "basenji1_targets.txt", model_dir / "model_files" / "basenji1_targets.txt")
                 if p.is_file()]
        tracks = read_basenji1_targets(str(found[0])) if found else _index_only(BASENJI1_N_TRACKS)
    return name, geometry, tracks, str(model_dir)


def _basenji2_default_tracks(h5: Path) -> TrackTable:
    """``targets_human.txt`` beside the h5 if there is one, else index-only 5,313 tracks."""
    beside = h5.parent / "targets_human.txt"
    if beside.is_file():
        return read_targets(str(beside), ENFORMER_PREFERRED)
    return _index_only(ENFORMER_N_TRACKS, ENFORMER_PREFERRED)


def _twin_tracks(kind: str, path: Path) -> TrackTable:
    if kind in ("planted", "planted-v2", "planted-basenji2", "enformer-twin"):
        name = "targets_human.txt" if kind == "planted-basenji2" else "assets/targets.txt"
        return TrackTable.from_targets_file(str(path / name))
    if kind == "planted-basenji1":
        from seqbench.models.basenji1 import read_basenji1_targets

        return read_basenji1_targets(str(path / "basenji1_targets.txt"))
    return TrackTable.from_targets_file(str(path / "targets.txt"))


#: kinds whose models seqbench builds in bfloat16 on request (a restored SavedModel or h5 keeps its dtype)
BF16_KINDS: frozenset[str] = frozenset({"enformer-twin"})
#: kinds whose adapter has the device path (XLA, members cut on the device)
DEVICE_PATH_KINDS = ("enformer", "basenji2")


def check_device_settings(spec: ModelSpec) -> None:
    """Refuse device settings a kind cannot honour (a one-line :class:`ModelLoadError`)."""
    from seqbench.models.tfhub import ModelLoadError

    real = spec.info.twin_of or spec.kind
    if spec.precision == "bf16" and spec.kind not in BF16_KINDS:
        known = ", ".join(sorted(BF16_KINDS)) or "none yet"
        raise ModelLoadError(f"model.precision = 'bf16': kind {spec.kind!r} is loaded with the weights' own dtype"
                             f" (float32); bf16 needs a model seqbench builds in bfloat16 (kinds: {known});"
                             " use 'tf32' for tensor cores on float32 weights")
    if real not in DEVICE_PATH_KINDS and (spec.xla or spec.members_on_device):
        raise ModelLoadError(f"model.xla / model.members_on_device: kind {spec.kind!r} has no device path"
                             f" (kinds with one: {', '.join(DEVICE_PATH_KINDS)}); leave them unset")


def load_model(spec: ModelSpec, cache_dir: Path | None = None, *, intra_op_threads: int | None = None):
    """Load the model a spec names (TensorFlow is imported here, not before)."""
    name, geometry, tracks, handle = describe(spec, cache_dir)
    real = spec.info.twin_of or spec.kind
    bs = spec.effective_batch_size
    check_device_settings(spec)
    device = {"precision": spec.precision, "xla": spec.xla, "members_on_device": spec.members_on_device,
              "default_batch_size": spec.info.batch_size}
    if real in ("xpresso", "basenji1") and bs == "auto":
        bs = spec.info.batch_size
    if real == "enformer":
        from seqbench.models.tfhub import HubModel

        return HubModel(handle, name=name, geometry=geometry, tracks=tracks, head=spec.head,
                        neutral_value=spec.info.neutral_value, batch_size=bs, intra_op_threads=intra_op_threads,
                        **device)
    if real == "basenji2":
        from seqbench.models.basenji2 import Basenji2Model

        h5 = handle if not Path(handle).is_dir() else str(Path(handle) / H5_NAMES["basenji2"])
        return Basenji2Model(h5, name=name, tracks=tracks, geometry=geometry, batch_size=bs,
                             neutral_value=spec.info.neutral_value, intra_op_threads=intra_op_threads, **device)
    if real == "xpresso":
        from seqbench.models.xpresso import XpressoModel

        h5 = handle if not Path(handle).is_dir() else str(_h5_path(spec, Path(handle)))
        return XpressoModel(h5, name=name, tracks=tracks, batch_size=bs, intra_op_threads=intra_op_threads)
    from seqbench.models.basenji1 import Basenji1Model

    return Basenji1Model(handle, name=name, tracks=tracks, geometry=geometry, neutral_value=spec.info.neutral_value,
                         intra_op_threads=intra_op_threads)


def with_handle(spec: ModelSpec, handle: str) -> ModelSpec:
    return replace(spec, handle=handle)
