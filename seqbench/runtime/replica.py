"""Model replicas and materialization as Ray units of work.

``ModelReplica`` is a plain class; :mod:`seqbench.runtime.pipeline` turns it into an actor
(one per GPU, or fractional-CPU actors without GPUs).  Its constructor never raises: a model
that cannot be loaded is reported by :meth:`ModelReplica.ready`, so the driver can fail the
job with the loader's message instead of a dead-actor traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from seqbench.cache import ModelCache, open_model_cache
from seqbench.models.base import Geometry
from seqbench.models.registry import ModelSpec, load_model
from seqbench.models.tfhub import ModelLoadError
from seqbench.predict import MaterializedShard, ShardError, materialize_shard, predict_shard
from seqbench.sequence.ensemble import Ensemble


class ModelReplica:
    """One loaded model, or several that read the same inputs (one group of a job); predicts whole shards."""

    def __init__(
        self, model_spec: ModelSpec | list[ModelSpec], cache_dir: str | None, intra_op_threads: int | None = None,
        prediction_cache: str | None = None,
    ):
        self.error: str | None = None
        self.model = None
        self.models: list = []
        #: each model's entries in the prediction cache (None: off, or its weights could not be hashed)
        self.caches: list[ModelCache | None] = []
        specs = list(model_spec) if isinstance(model_spec, list | tuple) else [model_spec]
        try:
            for ms in specs:
                self.models.append(
                    load_model(ms, Path(cache_dir) if cache_dir else None, intra_op_threads=intra_op_threads)
                )
            self.model = self.models[0]
        except ModelLoadError as exc:  # a message for the user, as is
            self.error = str(exc)
        except Exception as exc:  # reported through ready(); the driver fails the job with it
            self.error = f"{type(exc).__name__}: {exc}"
        self._cache_args = (prediction_cache, specs, cache_dir)
        if self.error is None:
            self._open_caches()

    def _open_caches(self) -> None:
        prediction_cache, specs, cache_dir = self._cache_args
        self.caches = [open_model_cache(prediction_cache, ms, m.geometry, cache_dir)
                       for ms, m in zip(specs, self.models, strict=True)]

    def reuse(self) -> str | None:
        """Ready for another job (a replica kept by :mod:`seqbench.runtime.pool`): the prediction-cache
        entries are read again from disk, as a new replica would; returns :meth:`ready`'s answer."""
        if self.error is None:
            self._open_caches()
        return self.error

    def _cache(self, pos: int) -> ModelCache | None:
        return self.caches[pos] if pos < len(self.caches) else None

    def ready(self) -> str | None:
        """None when the model is loaded, else the loading error."""
        return self.error

    def pid(self) -> int:
        return os.getpid()

    def predict(
        self,
        shard: MaterializedShard,
        ensemble: Ensemble,
        tracks: dict[str, int] | list[dict[str, int]],
        variants: list[tuple[int, int, str | None]] | None = None,
    ) -> tuple[int, pa.Table | dict[str | None, pa.Table]]:
        """The shard's rows: one table, or with ``variants`` (model position, window bp or 0, name) one
        table per variant, ``tracks`` then holding each model's label -> index."""
        if self.model is None:
            raise RuntimeError(self.error or "model not loaded")
        if variants is None:
            return shard.shard, predict_shard(self.model, shard, ensemble, tracks,  # type: ignore[arg-type]
                                              cache=self._cache(0))
        out: dict[str | None, pa.Table] = {}
        for pos, window, name in variants:
            out[name] = predict_shard(self.models[pos], shard, ensemble, tracks[pos],  # type: ignore[index]
                                      window=window or None, cache=self._cache(pos))
        return shard.shard, out


_GENOMES: dict[str, object] = {}


def materialize_task(
    shard: int,
    construct_ids: list[int],
    builder,
    fasta: str | None,
    geometry: Geometry,
    ensemble: Ensemble,
    genome_local_dir: str | None = None,
    window_length: int | None = None,
    also: tuple[Geometry, ...] = (),
) -> MaterializedShard:
    """Build a shard's constructs and their extended windows (runs in a CPU task).

    With ``genome_local_dir`` the genome is read from this node's local copy, made by the first
    task on the node that needs it (see :mod:`seqbench.runtime.staging`).
    """
    from seqbench.genome import Genome

    read = count = None
    if fasta is not None and genome_local_dir:
        key = f"{fasta}@{genome_local_dir}"
        if key not in _GENOMES:
            from seqbench.runtime.staging import local_genome

            _GENOMES[key] = Genome(str(local_genome(fasta, genome_local_dir).path), cache_bytes=1 << 30)
        fasta = key
    if fasta is not None:
        genome = _GENOMES.get(fasta)
        if genome is None:  # one Genome (and its chromosome cache) per worker process
            genome = _GENOMES[fasta] = Genome(fasta, cache_bytes=1 << 30)
        read = genome.read_padded  # type: ignore[attr-defined]
        count = genome.ambiguous_count  # type: ignore[attr-defined]
    constructs = []
    for i in construct_ids:
        try:
            constructs.append(builder(i))
        except Exception as exc:  # a bad row found late: name the shard and the construct
            what = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            raise ShardError(f"shard {shard}, construct {i}: {what}") from exc
    return materialize_shard(shard, construct_ids, constructs, read, geometry, ensemble, count_ambiguous=count,
                             window_length=window_length, also=also)
