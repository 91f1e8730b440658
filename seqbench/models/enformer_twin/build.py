"""Build the Enformer-architecture cost twin as a SavedModel with TF-Hub Enformer's interface::

    model = tensorflow_hub.load(str(path))
    out = model.model.predict_on_batch(x)   # x: float32 [B, 393216, 4] -> {'human': [B, 896, 5313], 'mouse': ...}

The directory holds the SavedModel, ``assets/targets.txt`` (5,313 rows in Enformer's targets-file layout,
naming tracks by index only: the weights are random, no track measures anything) and, written last,
``seqbench_model.json`` (name, kind, note, config, seed, geometry, FLOP and parameter counts).  It is built
once into ``<cache>/models/enformer-twin-v1/`` by the planted models' atomic cached build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqbench.models.enformer_twin.config import FULL, TwinConfig, flops, parameter_counts

MODEL_NAME = "enformer-twin-v1"
MODEL_KIND = "enformer-twin"
#: bump when the SavedModel's contents or metadata change; older cached builds are rebuilt
FORMAT_VERSION = 1
DEFAULT_SEED = 0
TARGETS_FILE = "assets/targets.txt"
NOTE = (
    "Cost stand-in, not Enformer: Enformer's published architecture (stem, 6-block conv tower, 11 transformer "
    "blocks with relative positions, crop, human and mouse heads) with seeded RANDOM weights, behind TF-Hub "
    "Enformer's interface, so that benchmarks and GPU measurements cost what Enformer costs. Its outputs are "
    "meaningless: never a predictor, never present them as predictions."
)


def twin_metadata(config: TwinConfig = FULL, seed: int = DEFAULT_SEED, dtype: str = "float32") -> dict[str, Any]:
    """The content of ``seqbench_model.json`` (without build details); a bfloat16 build is named ``...-bf16``."""
    g = config.geometry
    heads = dict(config.output_heads)
    parts = flops(config)
    return {
        "format_version": FORMAT_VERSION,
        "name": MODEL_NAME if dtype == "float32" else f"{MODEL_NAME}-bf16",
        "kind": MODEL_KIND,
        "note": NOTE,
        "interface": {
            "load": "tensorflow_hub.load(path).model.predict_on_batch(x)['human']",
            "input": f"float32 [B, {config.sequence_length}, 4] one-hot A,C,G,T",
            "output": {name: f"float32 [B, {config.target_length}, {n}]" for name, n in heads.items()},
        },
        "geometry": {"sequence_length": g.sequence_length, "bin_size": g.bin_size, "offset": g.offset,
                     "n_bins": g.n_bins},
        "config": config.to_json(),
        "seed": seed,
        "flops_per_pass": sum(parts.values()),
        "flops_by_part": parts,
        "parameters": parameter_counts(config),
        **({"dtype": dtype} if dtype != "float32" else {}),
    }


def _write_targets(path: Path, n_tracks: int) -> None:
    """Enformer's targets-file columns; descriptions name no assay, so tracks are asked for by index."""
    lines = ["index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription"]
    lines += [f"{i}\t0\ttwin_{i}\ttwin://{i}\t0\t1\tsum\trandom-weight output {i} (cost stand-in, no biology)"
              for i in range(n_tracks)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_twin_savedmodel(path: Path, config: TwinConfig = FULL, seed: int = DEFAULT_SEED,
                          dtype: str = "float32") -> Path:
    """Build the twin into ``path`` (new or empty): the SavedModel, ``assets/targets.txt`` (one row per
    ``human`` track) and, last, ``seqbench_model.json``.  The root object's ``model.predict_on_batch`` is
    the call (as on TF-Hub's Enformer)."""
    import tensorflow as tf

    from seqbench.models.enformer_twin.network import build_network
    from seqbench.models.planted.build import write_metadata

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    root = tf.Module(name="enformer_twin_root")
    root.model = build_network(config, seed, dtype)
    tf.saved_model.save(root, str(path))
    _write_targets(path / TARGETS_FILE, dict(config.output_heads)["human"])
    write_metadata(path, twin_metadata(config, seed, dtype))
    return path


def is_complete(path: Path, dtype: str = "float32") -> bool:
    """Whether ``path`` holds a complete build of the current published twin (in ``dtype``)."""
    from seqbench.models.planted.build import metadata_matches

    return metadata_matches(path, twin_metadata(dtype=dtype), ("saved_model.pb", TARGETS_FILE))


def ensure_enformer_twin(cache_dir: Path | None = None, dtype: str = "float32") -> Path:
    """Path of the built twin, ``<cache_dir>/models/enformer-twin-v1/`` (``enformer-twin-v1-bf16/`` for
    ``dtype = "bfloat16"``: the same draws in bfloat16, for ``model.precision = "bf16"``), building it if
    needed (about 1 GB of float32 weights; see :func:`seqbench.models.planted.build.ensure_built`)."""
    from seqbench.models.planted.build import ensure_built

    name = MODEL_NAME if dtype == "float32" else f"{MODEL_NAME}-bf16"
    return ensure_built(name, lambda path: build_twin_savedmodel(path, dtype=dtype),
                        lambda path: is_complete(path, dtype), cache_dir)
