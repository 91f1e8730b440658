"""A model that costs nothing, for measuring what the pipeline itself costs (not a benchmark).

:class:`NullModel` has the adapter interface of :mod:`seqbench.models.base` (``name``,
``geometry``, ``tracks``, ``batch_size``, ``neutral_value``, ``predict(codes, bins, tracks)``) and
returns zeros of the right shape without looking at its input.  Its geometry, track table and
batch size are the job's model's (:func:`seqbench.models.registry.describe` and
``ModelSpec.effective_batch_size``), so every shard, member cut and part is exactly what the
real model's job makes; only the forward pass is gone.

How it gets into a Ray replica without a test-only branch in seqbench: :func:`install` replaces
``load_model`` in :mod:`seqbench.runtime.replica` (the name ``ModelReplica`` calls) by
:func:`load_null_model`.  The benchmark runs it in every Ray worker as Ray's
``worker_process_setup_hook`` (``"_null_model.install"``, this folder on the workers'
``PYTHONPATH``), given by :func:`null_ray_init` to the ``ray.init`` that
:func:`seqbench.runtime.pipeline.init_ray` makes, so local Ray starts with seqbench's own settings
and the replica is the production actor, scheduled, fed and drained as in a real job.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


class NullModel:
    """Zeros ``[B, K, T]`` float32 for any input (see the module docstring)."""

    members_on_device = False

    def __init__(self, name: str, geometry, tracks, batch_size: int, neutral_value: float = 0.25) -> None:
        self.name, self.geometry, self.tracks = name, geometry, tracks
        self.batch_size, self.neutral_value = int(batch_size), float(neutral_value)

    def predict(self, codes: np.ndarray, bins: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        return np.zeros((codes.shape[0], bins.shape[1], len(tracks)), dtype=np.float32)


def load_null_model(spec, cache_dir: Path | None = None, *, intra_op_threads: int | None = None) -> NullModel:
    """What :func:`seqbench.models.registry.load_model` would return, minus the model: a :class:`NullModel`
    with the spec's name, geometry, track table and batch size (``intra_op_threads`` has nothing to size)."""
    from seqbench.models.registry import describe

    name, geometry, tracks, _ = describe(spec, cache_dir)
    bs = spec.effective_batch_size
    return NullModel(name, geometry, tracks, spec.info.batch_size if bs == "auto" else int(bs),
                     spec.info.neutral_value)


def install() -> None:
    """Ray worker set-up hook: replicas in this worker load a :class:`NullModel`."""
    import seqbench.runtime.replica as replica

    replica.load_model = load_null_model  # type: ignore[assignment]


@contextlib.contextmanager
def null_ray_init() -> Iterator[None]:
    """Within the block, local Ray started by seqbench runs :func:`install` in every worker.

    ``ray.init`` is wrapped to add the set-up hook to the job's ``runtime_env`` (the other arguments
    are seqbench's own); this folder goes on ``PYTHONPATH`` so that the workers can import it."""
    import ray

    real = ray.init
    old_path = os.environ.get("PYTHONPATH")

    def init(*args, **kwargs):
        env = dict(kwargs.pop("runtime_env", None) or {})
        env["worker_process_setup_hook"] = f"{__name__}.install"
        return real(*args, runtime_env=env, **kwargs)

    paths = [p for p in (old_path or "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), *paths])
    ray.init = init
    try:
        yield
    finally:
        ray.init = real
        if old_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old_path
