"""Known model kinds and how to load one from a job spec's ``[model]`` table.

* ``enformer`` — Enformer from TF-Hub (default handle ``https://tfhub.dev/deepmind/enformer/1``)
  or a local SavedModel directory; honours ``TFHUB_CACHE_DIR``.  Its 5,313 human tracks are
  described by ``targets_human.txt`` (``model.targets``: a path or URL); without it tracks
  can only be requested by explicit index.
* ``planted`` — the planted model (``docs/planted-model.md``): built by seqbench on first use
  into the cache directory and loaded through the *same* TF-Hub code path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from seqbench.models.base import ENFORMER_GEOMETRY, Geometry, TrackTable

ENFORMER_HANDLE = "https://tfhub.dev/deepmind/enformer/1"
ENFORMER_TARGETS_URL = "https://raw.githubusercontent.com/calico/basenji/master/manuscripts/cross2020/targets_human.txt"
ENFORMER_N_TRACKS = 5313
#: the paper's analyses read the merged ENCODE K562 CAGE track (CNhs12334-6), not FANTOM's 4828
ENFORMER_PREFERRED = {("CAGE", "K562"): 5111}

MODEL_KINDS = {
    "enformer": "Enformer (Avsec et al. 2021) from TF-Hub or a local SavedModel; 5,313 human tracks",
    "planted": "the planted model: synthetic, known biology, Enformer's interface (checks the pipeline)",
}


@dataclass(frozen=True)
class ModelSpec:
    """The ``[model]`` table of a job spec (see ``docs/spec.md``)."""

    kind: str = "planted"
    handle: str | None = None
    targets: str | None = None
    head: str = "human"
    batch_size: int = 8
    geometry: Geometry | None = None  # override the kind's declared geometry (rarely needed)

    def identity(self) -> dict:
        """What names this model in manifests and reports."""
        return {"kind": self.kind, "handle": self.resolved_handle(), "head": self.head}

    def resolved_handle(self) -> str:
        if self.handle:
            return self.handle
        return ENFORMER_HANDLE if self.kind == "enformer" else "(built-in planted-v1)"


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
    frame = pd.DataFrame(
        {
            "index": range(ENFORMER_N_TRACKS),
            "identifier": [f"track_{i}" for i in range(ENFORMER_N_TRACKS)],
            "description": [f"track {i} (no targets file given)" for i in range(ENFORMER_N_TRACKS)],
            "assay": [""] * ENFORMER_N_TRACKS,
        }
    )
    return TrackTable(frame, ENFORMER_PREFERRED)


def planted_model_dir(cache_dir: Path | None = None) -> Path:
    from seqbench.models.planted.build import ensure_planted_model

    return ensure_planted_model(cache_dir)


def describe(spec: ModelSpec, cache_dir: Path | None = None) -> tuple[str, Geometry, TrackTable, str]:
    """(name, geometry, track table, handle) of a model without loading its weights."""
    from seqbench.models.tfhub import ModelLoadError

    handle = spec.handle
    if spec.kind == "planted" and handle and Path(handle).is_dir():
        pass  # a planted model's own check below says what a planted model directory lacks
    elif handle:
        check_handle(handle)
    if spec.kind == "planted":
        path = Path(handle) if handle else planted_model_dir(cache_dir)
        if not (path / "seqbench_model.json").is_file():
            raise ModelLoadError(
                f"model.handle {path}: not a planted model (no seqbench_model.json);"
                " omit model.handle to use the built-in one"
            )
        meta = json.loads((path / "seqbench_model.json").read_text())
        tracks = TrackTable.from_targets_file(str(path / "assets" / "targets.txt"))
        g = meta["geometry"]
        geometry = spec.geometry or Geometry(g["sequence_length"], g["bin_size"], g["offset"], g["n_bins"])
        return meta.get("name", "planted-v1"), geometry, tracks, str(path)
    if spec.kind == "enformer":
        handle = spec.resolved_handle()
        return "Enformer", spec.geometry or ENFORMER_GEOMETRY, enformer_tracks(spec.targets), handle
    raise ValueError(f"model.kind: unknown kind {spec.kind!r}; known kinds: {', '.join(MODEL_KINDS)}")


def load_model(spec: ModelSpec, cache_dir: Path | None = None, *, intra_op_threads: int | None = None):
    """Load the model a spec names (TensorFlow is imported here, not before)."""
    from seqbench.models.tfhub import HubModel

    name, geometry, tracks, handle = describe(spec, cache_dir)
    return HubModel(
        handle,
        name=name,
        geometry=geometry,
        tracks=tracks,
        head=spec.head,
        neutral_value=0.25,
        batch_size=spec.batch_size,
        intra_op_threads=intra_op_threads,
    )


def with_handle(spec: ModelSpec, handle: str) -> ModelSpec:
    return replace(spec, handle=handle)
