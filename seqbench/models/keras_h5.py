"""Load a full Keras 2 model from an HDF5 (``.h5``) file, with errors a user can act on.

Basenji2's ``model_human.h5`` and Kipoi's Xpresso files are Keras 2 *full-model* HDF5 files
(``model.save(path)`` in Keras 2 / ``tf.keras`` before Keras 3): the root of the file carries
the architecture as JSON (attribute ``model_config``) next to the weights.  Keras 3 no longer
reads every such file, so seqbench reads them with ``tf_keras`` (the Keras 2 API).

Before anything is deserialized the file is opened with h5py and its ``model_config`` walked
for every layer class it uses, so that a class that is neither a Keras layer nor supplied by
the loader is named in the error (instead of Keras' generic "Unknown layer").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from seqbench.models.tfhub import ModelLoadError

#: layer class names that name a model (nested models are walked into, never looked up)
_MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})
#: what every message says the file should be
EXPECTED = "expected a full Keras 2 model saved in HDF5 format (.h5, written by model.save)"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _layer_classes(config: Any) -> Iterator[str]:
    """Every layer ``class_name`` of a Keras model config (nested models and wrappers included).

    Only layers are visited: entries of a ``layers`` list, and a wrapper's ``layer`` (Bidirectional,
    TimeDistributed); initializers, regularizers and constraints also carry a ``class_name`` but are
    not layers.
    """
    if not isinstance(config, dict):
        return
    inner = config.get("config")
    if isinstance(inner, list):  # old Keras (2.0/2.1) wrote a Sequential's config as its list of layers
        inner = {"layers": inner}
    if not isinstance(inner, dict):
        return
    for layer in inner.get("layers", ()) or ():
        if isinstance(layer, dict) and isinstance(layer.get("class_name"), str):
            yield layer["class_name"]
            yield from _layer_classes(layer)
    wrapped = inner.get("layer")
    if isinstance(wrapped, dict) and isinstance(wrapped.get("class_name"), str):
        yield wrapped["class_name"]
        yield from _layer_classes(wrapped)


def _known_layer_classes() -> set[str]:
    """Names ``tf_keras`` deserializes by itself: its public layers, plus what its deserializer registers."""
    import tf_keras

    names = {n for n in dir(tf_keras.layers) if isinstance(getattr(tf_keras.layers, n, None), type)}
    names |= set(_MODEL_CLASSES) | {"TFOpLambda", "SlicingOpLambda"}
    try:  # the complete table (internal module; the public names above are the fallback)
        from tf_keras.src.layers import serialization

        serialization.populate_deserializable_objects()
        names |= set(serialization.LOCAL.ALL_OBJECTS)
    except Exception:  # pragma: no cover - depends on the tf_keras version
        pass
    return names


def _is_known(name: str, known: set[str], custom_objects: dict[str, Any]) -> bool:
    if name in known or name in custom_objects:
        return True
    import tf_keras

    return tf_keras.saving.get_registered_object(name) is not None  # ``@register_keras_serializable``


def _what_it_is(path: str) -> str:
    """A hint for a file that is not HDF5: a Git LFS pointer or a web page saved instead of the model."""
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
    except OSError:
        return ""
    if head.startswith(b"version https://git-lfs"):
        return " (a Git LFS pointer: fetch the real file, e.g. `git lfs pull`)"
    if head[:1] == b"<":
        return " (HTML or XML: a web page saved instead of the model? download it again)"
    if not head:
        return " (it is empty)"
    return ""


def read_model_config(path: str, *, what: str) -> dict[str, Any]:
    """The ``model_config`` JSON of a Keras 2 HDF5 file, after the checks a user can act on."""
    import h5py

    where = f"{what} model file {path}"
    if not os.path.exists(path):
        raise ModelLoadError(f"{where}: no such file; {EXPECTED}")
    if os.path.isdir(path):
        raise ModelLoadError(f"{where} is a directory; {EXPECTED}")
    if not h5py.is_hdf5(path):
        raise ModelLoadError(f"{where} is not an HDF5 file{_what_it_is(path)}; {EXPECTED}")
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            weights_only = "layer_names" in f.attrs or "model_weights" not in f
    except OSError as exc:
        raise ModelLoadError(f"{where}: cannot be read ({_first_line(exc)}); {EXPECTED}") from exc
    if raw is None:
        kind = "holds weights only" if weights_only else "has no model config"
        raise ModelLoadError(
            f"{where} {kind} (no model_config attribute: written by save_weights?); give the full model file"
            f" instead; {EXPECTED}"
        )
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        config = json.loads(str(raw))
    except ValueError as exc:
        raise ModelLoadError(f"{where}: its model_config is not JSON ({_first_line(exc)}); {EXPECTED}") from exc
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelLoadError(f"{where}: its model_config names no model class; {EXPECTED}")
    return config


def check_h5(path: str, custom_objects: dict[str, Any], *, what: str) -> dict[str, Any]:
    """What :func:`load_keras_h5` refuses before loading (the file, its model config, every layer class
    known), without loading weights: run at planning, so a bad file is refused before a job exists.
    Returns the model config."""
    config = read_model_config(path, what=what)
    known = _known_layer_classes()
    for name in dict.fromkeys(_layer_classes(config)):  # first occurrence order, no repeats
        if not _is_known(name, known, custom_objects):
            supplied = ", ".join(custom_objects) if custom_objects else "no custom layers"
            raise ModelLoadError(
                f"{what} model file {path}: uses layer class {name!r}, unknown to seqbench's {what} loader"
                f" (it supplies {supplied}); expected a model built from Keras layers"
                f"{' and ' + supplied if custom_objects else ''}"
            )
    return config


def load_keras_h5(path: str, custom_objects: dict[str, Any], *, what: str) -> Any:
    """``tf_keras.models.load_model(path, custom_objects=..., compile=False)``; every failure is one
    line of :class:`ModelLoadError` naming the file and what was expected.

    ``what`` names the loader in messages (``"basenji2"``, ``"xpresso"``).  Refused before loading:
    a missing path, a directory, a file that is not HDF5, an HDF5 file without a model config
    (weights only), and a model using a layer class that is neither a Keras layer nor one of
    ``custom_objects``.
    """
    check_h5(path, custom_objects, what=what)
    import tf_keras

    try:
        return tf_keras.models.load_model(path, custom_objects=dict(custom_objects), compile=False)
    except Exception as exc:  # Keras raises ValueError, TypeError, KeyError, OSError...
        raise ModelLoadError(
            f"{what} model file {path}: cannot be loaded by tf_keras ({_first_line(exc)}); {EXPECTED}"
        ) from exc
