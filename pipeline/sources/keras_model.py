"""Keras model files as the source: load them safely, name their tensors, run them.

Runs in the TensorFlow worker (it imports ``keras``). Files are ``.keras`` archives of
Keras 3, or ``.h5`` files that Keras 3 can still read (Keras 2 / tf.keras 2 included).

- **Safe loading.** ``keras.saving.load_model(path, safe_mode=True, compile=False)`` by
  default: a ``Lambda`` layer's Python code is never run unless the caller (the config key
  ``safe_mode: false``, the command line's ``--unsafe-load``) allows it.
- **Names** follow the config's ``node:index`` rule. An input is ``"<input layer>:0"``; an
  output is ``"<layer>:<k>"``, where ``k`` is the index of that tensor among the outputs of
  the layer that produced it (``lstm:0``, ``lstm:1``, ``lstm:2`` for an LSTM's sequence, ``h``
  and ``c`` with ``return_state=True``).
- **Keras 2 ``hard_sigmoid``.** Keras 2 computed ``clip(0.2 x + 0.5, 0, 1)``, Keras 3
  computes ``clip(x / 6 + 0.5, 0, 1)`` under the same name, so Keras 3 runs a Keras 2 file
  with a function the model was never trained with. A model is what it computed when it was
  trained: the activations of a file written by Keras 2 that say ``hard_sigmoid`` are set to
  ``keras2_hard_sigmoid`` on loading, so both the reference (``run_keras``) and the export
  compute the Keras 2 function.
- **Keras 2 recurrent configs** hold ``time_major: false``, which Keras 3 rejects; such
  files load with Keras 3's layers taking that key (``time_major=True`` is refused).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np

from pipeline.errors import SourceError

logger = logging.getLogger(__name__)

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ACTIVATION_ATTRIBUTES = ("activation", "recurrent_activation")


def keras2_hard_sigmoid(x: Any) -> Any:
    """Keras 2's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (Keras 3 uses ``x / 6``)."""
    return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def load_keras_model(path: str, safe_mode: bool = True) -> keras.Model:
    """Load the Keras model at ``path`` without compiling it; see the module docstring.

    Keras tells its formats apart by the suffix only; a file with another suffix (the
    ``format: keras`` override) is read by its content: a zip archive is a ``.keras`` file,
    an HDF5 file an ``.h5``.
    """
    source = Path(path)
    if not source.is_file():
        raise SourceError(f"Keras model {path} does not exist or is not a file")
    if source.suffix in KERAS_SUFFIXES:
        return _load(source, path, safe_mode)
    suffix = _suffix_from_content(source)
    with tempfile.TemporaryDirectory(prefix="tfrnn-keras-") as folder:
        alias = Path(folder) / f"model{suffix}"
        alias.symlink_to(source.resolve())
        return _load(alias, path, safe_mode)


def _suffix_from_content(source: Path) -> str:
    with source.open("rb") as file:
        magic = file.read(8)
    if magic.startswith(_ZIP_MAGIC):
        return ".keras"
    if magic.startswith(_HDF5_MAGIC):
        return ".h5"
    raise SourceError(
        f"Keras model {source}: expected a .keras zip archive or an HDF5 (.h5) file, received "
        f"neither (the file starts with {magic!r}); save the model with model.save()"
    )


def _load(source: Path, path: str, safe_mode: bool) -> keras.Model:
    version = keras2_version(source)
    custom_objects = _keras2_recurrent_layers() if version is not None else None
    try:
        model = keras.saving.load_model(
            str(source), custom_objects=custom_objects, safe_mode=safe_mode, compile=False
        )
    except Exception as error:  # Keras raises ValueError, TypeError, OSError, KeyError, ...
        raise SourceError(_load_failure(path, error, safe_mode)) from error
    if not isinstance(model, keras.Model):
        raise SourceError(
            f"{path} holds a {type(model).__name__}, expected a keras.Model; save the model "
            "itself, not a layer or a function"
        )
    if version is not None:
        patched = _use_keras2_hard_sigmoid(model)
        if patched:
            logger.info(
                "%s was written by Keras %s: hard_sigmoid in %s computes 0.2x+0.5 as then",
                path,
                version,
                ", ".join(patched),
            )
    logger.info("loaded Keras model %r from %s", model.name, path)
    return model


def keras2_version(path: Path) -> str | None:
    """The Keras version that wrote an ``.h5`` file when it is 2.x, else ``None``."""
    if path.suffix not in (".h5", ".hdf5"):
        return None
    with h5py.File(path, "r") as file:
        version = file.attrs.get("keras_version")
        if version is None and "model_config" in file.attrs:
            config = file.attrs["model_config"]
            config = json.loads(config.decode() if isinstance(config, bytes) else config)
            version = config.get("keras_version")
    if isinstance(version, bytes):
        version = version.decode()
    if version is not None and str(version).startswith("2."):
        return str(version)
    return None


def _keras2_recurrent_layers() -> dict[str, type]:
    """Keras 3's recurrent layers, taking the ``time_major`` key Keras 2 configs hold.

    Keras 2 writes ``time_major: false`` into every LSTM, GRU and SimpleRNN config, and
    Keras 3 rejects the unknown key, so no Keras 2 recurrent model would load. False is what
    Keras 3 computes; True (time-major input) is refused with the layer's name.
    """
    return {
        cls.__name__: _accepting_time_major(cls)
        for cls in (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)
    }


def _accepting_time_major(cls: type) -> type:
    def __init__(self: Any, *args: Any, time_major: bool = False, **kwargs: Any) -> None:
        if time_major:
            raise ValueError(
                f"Keras 2 layer {kwargs.get('name')!r} has time_major=True; Keras 3 has no "
                "time-major recurrent layers. Save it with time_major=False, transposing "
                "its input instead"
            )
        cls.__init__(self, *args, **kwargs)

    return type(cls.__name__, (cls,), {"__init__": __init__, "__module__": __name__})


# NOTE: a KerasTensor names its producer only in the private ``_keras_history``
# (operation, node index, tensor index); Keras's own graph code reads it the same way.


def input_names(model: keras.Model) -> list[str]:
    """``"<input layer name>:0"`` for each model input, in order."""
    return [f"{tensor._keras_history.operation.name}:0" for tensor in model.inputs]


def output_names(model: keras.Model) -> list[str]:
    """``"<layer name>:<k>"`` for each model output, each tensor once, in order.

    ``k`` indexes the layer's outputs. A model may return one tensor twice
    (``keras.Model(x, [y, y])``); a name is one value, so it is listed once.
    """
    names = returned_names(model)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        logger.warning(
            "Keras model %r returns %s more than once: model.onnx and model.pt2 return each "
            "once, %d outputs where Keras returns %d (in order, repeats left out)",
            model.name, repeated, len(set(names)), len(names),
        )  # fmt: skip
    return list(dict.fromkeys(names))


def returned_names(model: keras.Model) -> list[str]:
    """The name of each tensor ``model`` returns, in order, repeats kept (see ``output_names``)."""
    names = []
    for tensor in model.outputs:
        history = tensor._keras_history
        names.append(f"{history.operation.name}:{history.tensor_index}")
    return names


def input_signature(model: keras.Model) -> list[tuple[str, str, list[int | None]]]:
    """``(name, numpy dtype name, shape)`` per model input; ``None`` for unknown dims."""
    return [
        (name, np.dtype(keras.backend.standardize_dtype(tensor.dtype)).name, list(tensor.shape))
        for name, tensor in zip(input_names(model), model.inputs, strict=True)
    ]


def run_keras(model: keras.Model, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``model`` in inference mode on ``feeds`` (keyed by ``input_names``)."""
    names = input_names(model)
    missing = [name for name in names if name not in feeds]
    if missing:
        raise SourceError(
            f"Keras model {model.name!r} needs inputs {names}; received {sorted(feeds)}, "
            f"missing {missing}. Feed one array per input, keyed <input layer>:0."
        )
    arrays = [np.asarray(feeds[name]) for name in names]
    try:
        values = model(pack_inputs(model, arrays), training=False)
    except Exception as error:  # Keras raises ValueError or TF's errors on bad inputs
        raise SourceError(
            f"Keras model {model.name!r} refused the inputs "
            f"{ {name: list(a.shape) for name, a in zip(names, arrays, strict=True)} }: "
            f"{error}. Give each input the shape of input_signature."
        ) from error
    values = keras.tree.flatten(values)
    return {
        name: np.asarray(keras.ops.convert_to_numpy(value))
        for name, value in zip(returned_names(model), values, strict=True)
    }


def pack_inputs(model: keras.Model, values: list[Any]) -> Any:
    """``values`` (one per model input, in order) in the structure the model was built with.

    A functional model built on ``[x]`` wants a list even for one input, one built on ``x``
    a tensor; Keras warns on the other (and may mis-assign several inputs).
    """
    # NOTE: Functional keeps that structure only in the private ``_inputs_struct``.
    structure = getattr(model, "_inputs_struct", None)
    if structure is not None:
        return keras.tree.pack_sequence_as(structure, list(values))
    return list(values) if len(values) > 1 else values[0]


def _load_failure(path: str, error: Exception, safe_mode: bool) -> str:
    text = str(error)
    if safe_mode and ("safe_mode" in text or "Lambda" in text):
        return (
            f"Keras refused to load {path} in safe mode: {text.strip()} Loading it would run "
            "Python code stored in the file. If you trust the file, allow it with the config "
            "key `safe_mode: false` (command line: --unsafe-load)."
        )
    return (
        f"Keras could not load {path}: {type(error).__name__}: {text.strip()}. Expected a "
        ".keras archive or an .h5 file written by model.save() that Keras "
        f"{keras.__version__} can read; custom layers must be registered with "
        "@keras.saving.register_keras_serializable."
    )


def _use_keras2_hard_sigmoid(model: keras.Model) -> list[str]:
    """Point every ``hard_sigmoid`` activation of ``model`` at the Keras 2 function."""
    patched = []
    for layer in _all_layers(model):
        for owner in (layer, getattr(layer, "cell", None)):
            for attribute in _ACTIVATION_ATTRIBUTES:
                # Only attributes the object holds: an RNN layer's are read-only views of
                # its cell's.
                function = vars(owner).get(attribute) if owner is not None else None
                if function is keras.activations.hard_sigmoid:
                    setattr(owner, attribute, keras2_hard_sigmoid)
                    patched.append(f"{layer.name}.{attribute}")
    return patched


def _all_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer of ``model``, nested models and the layers a wrapper holds included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        for inner in ("layer", "forward_layer", "backward_layer"):
            wrapped = getattr(layer, inner, None)
            if isinstance(wrapped, keras.layers.Layer):
                yield wrapped
