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


def enformer_tracks(targets: str | None) -> TrackTable:
    """Enformer's track table from ``targets_human.txt`` (path or URL), or index-only without it."""
    if targets:
        return TrackTable.from_targets_file(targets, ENFORMER_PREFERRED)
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
    if handle and "://" not in handle and not Path(handle).exists():
        raise ModelLoadError(
            f"model.handle = {handle!r}: no such file or directory; expected a SavedModel directory or a TF-Hub URL"
        )
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
