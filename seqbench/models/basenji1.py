"""Basenji1 (Kelley et al. 2018) as Kipoi's ``Basenji`` model: a TensorFlow 1 checkpoint, run through
``tf.compat.v1`` in a private graph (eager execution stays on everywhere else).

Files (Kipoi's ``Basenji/model.yaml``; Zenodo record 1466066), in one folder or in its ``model_files/``:

``model.tf.meta``, ``model.tf.index``, ``model.tf.data-00000-of-00001``
    the checkpoint; input node ``inputs`` float32 ``[2, 131072, 4]`` (one-hot A, C, G, T), output
    node ``preds`` ``[2, 960, 4229]``.  The graph is built for a batch of exactly 2.
``const_feed_dict.pkl``
    a pickled dict of placeholder names -> constant values fed with every call (dropout rates 0,
    ``is_training`` False, ``targets_na`` and ``preds_adhoc`` zeros).  Read through a restricted
    unpickler (:func:`read_const_feed_dict`) that only rebuilds dicts, lists, scalars and NumPy
    arrays; a pickle naming any other global is refused, never executed.
``basenji1_targets.txt``
    the 4,229 tracks, tab-separated, no header: identifier, file, description; row order = track
    index (:func:`read_basenji1_targets`).  Looked for next to the checkpoint or in the folder given.

On the device: uint8 codes ``[2, L]`` are one-hot encoded by a table gather (``N`` -> 0.25 on all
four channels, as in the authors' kipoi environment), mapped onto ``inputs`` when the meta graph is
imported, and only the requested tracks and bins of ``preds`` are gathered before anything is copied
back.  Every ``session.run`` goes through :meth:`Basenji1Model._run` with exactly 2 inputs; a batch
of 1 is padded with an all-``N`` input whose result is dropped.
"""

from __future__ import annotations

import builtins
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.models.base import BASENJI1_GEOMETRY, Geometry, TrackTable, one_hot_table, predict_in_fixed_batches
from seqbench.models.tfhub import ModelLoadError, configure_tensorflow

#: the checkpoint prefix Kipoi's model.yaml downloads (``model.tf.meta``, ``.index``, ``.data-*``)
CHECKPOINT_PREFIX = "model.tf"
CONST_FEED_DICT_FILE = "const_feed_dict.pkl"
TARGETS_FILE = "basenji1_targets.txt"
#: the sub-folder Kipoi's model directories keep their files in
MODEL_FILES_DIR = "model_files"
INPUT_NODE = "inputs"
OUTPUT_NODE = "preds"
#: the graph is built for exactly this many inputs per call
BATCH_SIZE = 2
N_TRACKS = 4229
ZENODO_HINT = "Zenodo record 1466066, as Kipoi's Basenji model.yaml lists them"
TARGETS_COLUMNS = ("identifier", "file", "description")

_EXPECTED_FILES = f"{CHECKPOINT_PREFIX}.meta, {CHECKPOINT_PREFIX}.index and {CHECKPOINT_PREFIX}.data-00000-of-00001"
_DATA_RE = re.compile(re.escape(CHECKPOINT_PREFIX) + r"\.data-(\d{5})-of-(\d{5})$")


# ------------------------------------------------------------------------------ const_feed_dict.pkl


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """The NumPy callables a pickled array, dtype or scalar names (NumPy 1 and 2 module paths)."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer  # pickle protocol 5
    return allowed


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as pickle protocol 2 uses it for ``bytes`` (``encode(text, 'latin1')``), and no
    other codec."""
    if not isinstance(text, str) or encoding.replace("-", "").replace("_", "").lower() not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r}: only latin1 is allowed")
    return text.encode("latin1", errors)


_BUILTINS = {name: getattr(builtins, name) for name in (
    "dict", "list", "tuple", "set", "frozenset", "bool", "int", "float", "complex", "bytes", "bytearray", "str"
)}  # fmt: skip


class _ConstFeedUnpickler(pickle.Unpickler):
    """Rebuilds only containers, scalars and NumPy arrays/dtypes; any other global is refused."""

    _allowed: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        if _ConstFeedUnpickler._allowed is None:
            allowed = _numpy_globals()
            for mod in ("builtins", "__builtin__"):
                allowed.update({(mod, n): f for n, f in _BUILTINS.items()})
            allowed[("_codecs", "encode")] = _latin1_encode
            _ConstFeedUnpickler._allowed = allowed
        try:
            return _ConstFeedUnpickler._allowed[(module, name)]
        except KeyError:
            raise _RefusedGlobal(f"{module}.{name}") from None


class _RefusedGlobal(pickle.UnpicklingError):
    pass


def read_const_feed_dict(path: str | Path) -> dict[str, Any]:
    """The placeholder name -> constant value dict of Kipoi's ``const_feed_dict.pkl``.

    Read with a restricted unpickler: only dicts, lists, tuples, sets, Python scalars, NumPy arrays,
    dtypes and scalars can be rebuilt, so a pickle that names anything else (``os.system``, a class,
    ``eval``) raises :class:`ModelLoadError` naming the refused global before anything runs.  Python 2
    pickles (Kipoi's were written with protocol 2) are read with ``encoding='latin1'``, as NumPy advises.
    """
    path = Path(path)
    what = f"Basenji1 {CONST_FEED_DICT_FILE} {path}"
    expected = "expected a pickled dict of placeholder names -> constant values (Kipoi's const_feed_dict.pkl)"
    try:
        with open(path, "rb") as f:
            value = _ConstFeedUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise ModelLoadError(f"{what}: no such file; {expected}, {ZENODO_HINT}") from None
    except IsADirectoryError:
        raise ModelLoadError(f"{what} is a directory; {expected}") from None
    except _RefusedGlobal as exc:
        raise ModelLoadError(
            f"{what}: refused to load, it names the global {exc} (only dicts, Python scalars and NumPy arrays"
            f" are allowed; nothing in it was run); {expected}"
        ) from None
    except OSError as exc:
        raise ModelLoadError(f"{what}: cannot be read ({exc.strerror or exc}); {expected}") from exc
    except Exception as exc:  # truncated or corrupt pickles raise many types (EOFError, UnpicklingError...)
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"{what}: not a readable pickle ({why}); {expected}") from exc
    if not isinstance(value, dict):
        raise ModelLoadError(f"{what}: holds a {type(value).__name__}, not a dict; {expected}")
    for key in value:
        if not isinstance(key, str) or not key:
            raise ModelLoadError(f"{what}: key {key!r} is not a placeholder name (a non-empty string); {expected}")
    return value


# ----------------------------------------------------------------------------- basenji1_targets.txt


def read_basenji1_targets(path: str | Path) -> TrackTable:
    """Basenji1's track table: tab-separated, no header, columns identifier, file, description;
    row ``i`` (0-based) describes track ``i``.  Errors name the file, the row (1-based) and the column."""
    path = Path(path)
    what = f"Basenji1 targets {path}"
    expected = "expected basenji1_targets.txt: tab-separated, no header, 3 columns identifier, file, description"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelLoadError(f"{what}: no such file; {expected}") from None
    except IsADirectoryError:
        raise ModelLoadError(f"{what} is a directory; {expected}") from None
    except UnicodeDecodeError as exc:
        raise ModelLoadError(f"{what}: not UTF-8 text (byte {exc.start}); {expected}") from None
    except OSError as exc:
        raise ModelLoadError(f"{what}: cannot be read ({exc.strerror or exc}); {expected}") from exc
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ModelLoadError(f"{what}: the file is empty; {expected}")
    rows = []
    for i, line in enumerate(lines):
        fields = line.split("\t")
        where = f"{what}: row {i + 1}"
        if len(fields) != len(TARGETS_COLUMNS):
            sep = " (comma-separated?)" if len(fields) == 1 and "," in line else ""
            raise ModelLoadError(f"{where} has {len(fields)} column(s){sep}; {expected}")
        for col, (name, field) in enumerate(zip(TARGETS_COLUMNS, fields, strict=True)):
            if name != "file" and not field.strip():
                raise ModelLoadError(f"{where}, column {col + 1} ({name}) is empty; {expected}")
        if i == 0 and tuple(f.strip().lower() for f in fields) == TARGETS_COLUMNS:
            raise ModelLoadError(f"{where} is a header ({line.strip()!r}); {expected} (row i must be track i)")
        rows.append((i, *(f.strip() for f in fields)))
    frame = pd.DataFrame(rows, columns=["index", *TARGETS_COLUMNS])
    return TrackTable(frame)


# ----------------------------------------------------------------------------------------- checkpoint


def find_checkpoint(model_dir: str | Path) -> Path:
    """The checkpoint prefix ``<folder>/model.tf`` in ``model_dir`` or its ``model_files/`` sub-folder.

    The folder must hold ``model.tf.meta``, ``model.tf.index`` and every data shard
    ``model.tf.data-<shard>-of-<shards>`` (Kipoi's: one, ``-00000-of-00001``); the error names the first
    file missing."""
    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise ModelLoadError(
            f"Basenji1 model directory {model_dir}: no such directory; expected a folder with {_EXPECTED_FILES}"
            f" ({ZENODO_HINT})"
        )
    if not model_dir.is_dir():
        raise ModelLoadError(f"Basenji1 model directory {model_dir} is a file; expected the folder that holds it")
    candidates = [model_dir, model_dir / MODEL_FILES_DIR]
    folder = next((d for d in candidates if d.is_dir() and any(d.glob(f"{CHECKPOINT_PREFIX}.*"))), None)
    if folder is None:
        hint = ""
        if any((d / "model.meta").is_file() for d in candidates):
            hint = " (found model.meta, Kipoi's name for a downloaded copy: rename model.* to model.tf.*)"
        raise ModelLoadError(
            f"Basenji1 model directory {model_dir}: no {CHECKPOINT_PREFIX}.* files in it or in its"
            f" {MODEL_FILES_DIR}/ sub-folder{hint}; expected {_EXPECTED_FILES} ({ZENODO_HINT})"
        )
    prefix = folder / CHECKPOINT_PREFIX
    for suffix in (".meta", ".index"):
        if not (folder / (CHECKPOINT_PREFIX + suffix)).is_file():
            raise ModelLoadError(
                f"Basenji1 checkpoint {prefix}: missing {CHECKPOINT_PREFIX}{suffix}; expected {_EXPECTED_FILES}"
                f" in {folder} ({ZENODO_HINT})"
            )
    shards = [m for p in folder.iterdir() if (m := _DATA_RE.match(p.name))]
    totals = sorted({int(m.group(2)) for m in shards}) or [1]
    if len(totals) > 1:
        raise ModelLoadError(
            f"Basenji1 checkpoint {prefix}: data shards of {len(totals)} different saves"
            f" ({', '.join(f'-of-{n:05d}' for n in totals)}); expected one set, {_EXPECTED_FILES}"
        )
    have = {int(m.group(1)) for m in shards}
    for k in range(totals[0]):
        if k not in have:
            name = f"{CHECKPOINT_PREFIX}.data-{k:05d}-of-{totals[0]:05d}"
            raise ModelLoadError(
                f"Basenji1 checkpoint {prefix}: missing {name}; expected {_EXPECTED_FILES} in {folder} ({ZENODO_HINT})"
            )
    return prefix


def default_targets_path(model_dir: str | Path) -> Path:
    """``basenji1_targets.txt`` in ``model_dir``, else next to the checkpoint (``model_files/``)."""
    model_dir = Path(model_dir)
    for d in (model_dir, model_dir / MODEL_FILES_DIR):
        if (d / TARGETS_FILE).is_file():
            return d / TARGETS_FILE
    return model_dir / TARGETS_FILE


# ---------------------------------------------------------------------------------------------- model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Basenji1Model:
    """Basenji1 from Kipoi's TF1 checkpoint (see the module docstring); implements the Model protocol.

    Parameters
    ----------
    model_dir: the folder with the checkpoint and ``const_feed_dict.pkl`` (or its ``model_files/``).
    name: name printed in every report.
    tracks: the track table; default ``basenji1_targets.txt`` of ``model_dir``.
    geometry: declared geometry; checked against one real call at load time.
    neutral_value: one-hot value of N on each channel (the authors' kipoi environment: 0.25).
    intra_op_threads: CPU threads of the session (default: TensorFlow's choice).
    """

    batch_size: int = BATCH_SIZE

    def __init__(
        self,
        model_dir: str | Path,
        *,
        name: str,
        tracks: TrackTable | None = None,
        geometry: Geometry = BASENJI1_GEOMETRY,
        neutral_value: float = 0.25,
        intra_op_threads: int | None = None,
    ):
        import tensorflow as tf

        configure_tensorflow(intra_op_threads)
        geometry.validate()
        if geometry.scalar:
            raise ModelLoadError(f"model {name}: Basenji1 returns binned tracks; {geometry.describe()} is scalar")
        self.name, self.geometry, self.neutral_value = name, geometry, float(neutral_value)
        self.model_dir = Path(model_dir)
        self.checkpoint = find_checkpoint(self.model_dir)
        self.tracks = tracks if tracks is not None else read_basenji1_targets(default_targets_path(self.model_dir))
        const = read_const_feed_dict(self.checkpoint.parent / CONST_FEED_DICT_FILE)
        L = geometry.sequence_length

        self._graph = tf.Graph()
        with self._graph.as_default():
            # seqbench's own ops live under scopes no TF1 model uses, so importing never renames the model's ops
            with tf.compat.v1.name_scope("seqbench_input/"):
                self._codes = tf.compat.v1.placeholder(tf.uint8, [BATCH_SIZE, L], name="codes")
                self._bins = tf.compat.v1.placeholder(tf.int32, [BATCH_SIZE, None], name="bins")
                self._track_idx = tf.compat.v1.placeholder(tf.int32, [None], name="tracks")
                table = tf.constant(one_hot_table(self.neutral_value), name="one_hot_table")
                onehot = tf.gather(table, tf.cast(self._codes, tf.int32), name="one_hot")  # [2, L, 4]
            meta = f"{self.checkpoint}.meta"
            try:
                saver = tf.compat.v1.train.import_meta_graph(
                    meta, input_map={f"{INPUT_NODE}:0": onehot}, clear_devices=True
                )
            except Exception as exc:  # ValueError (shapes, unknown input), NotFoundError (op not registered)...
                raise ModelLoadError(
                    f"model {name}: cannot import {meta} with its {INPUT_NODE!r} fed [{BATCH_SIZE}, {L}, 4]"
                    f" ({_first_line(exc)}); is it Basenji1's meta graph, and is the declared sequence length right?"
                ) from exc
            if saver is None:
                raise ModelLoadError(f"model {name}: {meta} defines no variables to restore")
            try:
                preds = self._graph.get_tensor_by_name(f"{OUTPUT_NODE}:0")
            except (KeyError, ValueError) as exc:
                raise ModelLoadError(
                    f"model {name}: {meta} has no output node {OUTPUT_NODE!r} (Kipoi's target node)"
                ) from exc
            with tf.compat.v1.name_scope("seqbench_output/"):
                picked = tf.gather(preds, self._track_idx, axis=2)  # [2, n_bins, T]
                self._out = tf.gather(picked, self._bins, batch_dims=1)  # [2, K, T]
                self._preds_shape = tf.shape(preds)
            self._feed = self._const_feeds(const, meta)
        config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
        config.gpu_options.allow_growth = True
        if intra_op_threads:
            config.intra_op_parallelism_threads = int(intra_op_threads)
            config.inter_op_parallelism_threads = 2
        self._session = tf.compat.v1.Session(graph=self._graph, config=config)
        try:
            with self._graph.as_default():  # outside it, the saver would take the eager path
                saver.restore(self._session, str(self.checkpoint))
        except Exception as exc:
            self.close()
            raise ModelLoadError(
                f"model {name}: cannot restore the checkpoint {self.checkpoint} ({_first_line(exc)});"
                f" are {CHECKPOINT_PREFIX}.index and .data-* from the same save as the .meta?"
            ) from exc
        try:
            self._check_geometry()
        except ModelLoadError:
            self.close()
            raise

    def _const_feeds(self, const: dict[str, Any], meta: str) -> dict[Any, np.ndarray]:
        """``const_feed_dict.pkl`` as a feed dict: names get ``:0``, values the placeholder's dtype; entries
        naming no tensor of the graph are skipped (kept in ``skipped_feeds``), ``inputs`` is never fed."""
        feeds: dict[Any, np.ndarray] = {}
        self.skipped_feeds: list[str] = []
        for key, value in const.items():
            tensor_name = key if ":" in key else f"{key}:0"
            if tensor_name.split(":")[0] == INPUT_NODE:
                continue
            try:
                tensor = self._graph.get_tensor_by_name(tensor_name)
            except (KeyError, ValueError):
                self.skipped_feeds.append(key)
                continue
            try:
                array = np.asarray(value, dtype=tensor.dtype.as_numpy_dtype)
            except (TypeError, ValueError) as exc:
                raise ModelLoadError(
                    f"model {self.name}: {CONST_FEED_DICT_FILE} entry {key!r} cannot be fed to {tensor_name}"
                    f" ({tensor.dtype.name}): {_first_line(exc)}"
                ) from exc
            if not tensor.shape.is_compatible_with(array.shape):
                raise ModelLoadError(
                    f"model {self.name}: {CONST_FEED_DICT_FILE} entry {key!r} has shape {array.shape}; {tensor_name}"
                    f" in {meta} expects {tensor.shape}"
                )
            feeds[tensor] = array
        return feeds

    def _run(self, codes2: np.ndarray, bins2: np.ndarray, tracks: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
        """The one ``session.run``: codes uint8 ``[2, L]``, bins int32 ``[2, K]``, tracks int32 ``[T]`` ->
        (float32 ``[2, K, T]``, the shape of the full ``preds``)."""
        if codes2.shape[0] != BATCH_SIZE or bins2.shape[0] != BATCH_SIZE:
            raise AssertionError(f"Basenji1 runs batches of exactly {BATCH_SIZE}, got {codes2.shape[0]}")
        feed = dict(self._feed)
        feed[self._codes] = codes2
        feed[self._bins] = bins2
        feed[self._track_idx] = tracks
        out, shape = self._session.run([self._out, self._preds_shape], feed_dict=feed)
        return np.asarray(out, dtype=np.float32), tuple(int(d) for d in shape)

    def _check_geometry(self) -> None:
        """One real call (also the warm-up): ``preds`` must be ``[2, n_bins, len(tracks)]``."""
        L = self.geometry.sequence_length
        codes = np.full((BATCH_SIZE, L), 4, np.uint8)
        try:
            _, shape = self._run(codes, np.zeros((BATCH_SIZE, 1), np.int32), np.zeros(1, np.int32))
        except Exception as exc:
            raise ModelLoadError(
                f"model {self.name}: a call with input [{BATCH_SIZE}, {L}, 4] failed ({_first_line(exc)})"
            ) from exc
        want = (BATCH_SIZE, self.geometry.n_bins, len(self.tracks))
        if shape != want:
            raise ModelLoadError(
                f"model {self.name}: output {OUTPUT_NODE!r} has shape {shape} for an input [{BATCH_SIZE}, {L}, 4], but"
                f" the declared geometry and track table say {want} (batch {BATCH_SIZE}, n_bins = {want[1]},"
                f" {want[2]} tracks)"
            )

    def predict(self, codes: np.ndarray, bins: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        """Values ``[B, K, T]`` float32 at ``bins`` ``[B, K]`` of ``tracks`` ``[T]`` for inputs ``codes`` ``[B, L]``,
        sent two at a time (an odd last input is paired with an all-N input whose result is dropped)."""
        codes = np.asarray(codes, dtype=np.uint8)
        bins = np.asarray(bins, dtype=np.int32)
        tracks = np.asarray(tracks, dtype=np.int32).reshape(-1)
        L, n_bins = self.geometry.sequence_length, self.geometry.n_bins
        if codes.ndim != 2 or codes.shape[1] != L:
            raise ValueError(f"model {self.name}: codes must be [B, {L}], got {codes.shape}")
        if bins.ndim != 2 or bins.shape[0] != codes.shape[0]:
            raise ValueError(f"model {self.name}: bins must be [{codes.shape[0]}, K], got {bins.shape}")
        if bins.size and (bins.min() < 0 or bins.max() >= n_bins):
            raise ValueError(f"model {self.name}: bins must lie in 0..{n_bins - 1}, got {bins.min()}..{bins.max()}")
        if tracks.size and (tracks.min() < 0 or tracks.max() >= len(self.tracks)):
            raise ValueError(
                f"model {self.name}: tracks must lie in 0..{len(self.tracks) - 1}, got {tracks.min()}..{tracks.max()}"
            )
        # the graph takes exactly 2: an odd last input is paired with an all-N one whose result is dropped
        return predict_in_fixed_batches(lambda c, b: self._run(c, b, tracks)[0], codes, bins, tracks.size, BATCH_SIZE)

    def close(self) -> None:
        """Release the session (and its device memory)."""
        session = getattr(self, "_session", None)
        if session is not None:
            session.close()
            self._session = None
