"""Recurrent layers of a Keras file (runs in the TF worker).

The file is loaded with ``safe_mode=True`` (no arbitrary code) and without compiling. Each
``LSTM``, ``GRU`` and ``SimpleRNN`` is a module of its own, and a ``Bidirectional`` one
module with two directions whatever its ``merge_mode``: ``nn.LSTM`` concatenates them, as
``"concat"`` does, and for ``"sum"``, ``"mul"``, ``"ave"`` and ``None`` the feed line says
how to merge the output's two halves::

    LSTM       get_weights() = kernel [I, 4H], recurrent_kernel [H, 4H], bias [4H]  (ifco)
    GRU        kernel [I, 3H], recurrent_kernel [H, 3H], bias [2, 3H] (reset_after=True)
               or [3H] (reset_after=False: refused)                              (z, r, h)
    SimpleRNN  kernel [I, H], recurrent_kernel [H, H], bias [H]

Activations other than the defaults (tanh, and sigmoid for the gates) have no ``nn``
equivalent and are refused, as is ``go_backwards`` outside a ``Bidirectional``.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import keras
import numpy as np

from pipeline.port.layers import SourceLayer, layers_to_npz

logger = logging.getLogger(__name__)

_KINDS = {"LSTM": "keras_lstm", "GRU": "keras_gru", "SimpleRNN": "keras_simple_rnn"}


def read_keras_file(path: str, npz_path: str) -> list[dict]:
    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    layers: list[SourceLayer] = []
    for layer in _walk(model):
        if isinstance(layer, keras.layers.Bidirectional):
            for direction, inner in (
                ("forward", layer.forward_layer),
                ("backward", layer.backward_layer),
            ):
                inner_layer = _layer(inner, layer.name, direction)
                layers.append(_returns(inner_layer, layer))
        elif type(layer).__name__ in _KINDS:
            layers.append(_layer(layer, layer.name, "forward"))
    logger.info("%s: %d recurrent layer(s)", path, len(layers))
    return layers_to_npz(layers, npz_path)


def _returns(inner: SourceLayer, wrapper) -> SourceLayer:
    """A ``Bidirectional``'s direction returns what the wrapper returns, merged its way."""
    return replace(
        inner,
        merge_mode=str(wrapper.merge_mode or "none"),
        return_sequences=bool(getattr(wrapper, "return_sequences", inner.return_sequences)),
        return_state=bool(getattr(wrapper, "return_state", inner.return_state)),
    )


def _walk(model):
    for layer in getattr(model, "layers", ()):
        yield layer
        if isinstance(layer, keras.Model):
            yield from _walk(layer)


def _layer(layer, stack: str, direction: str) -> SourceLayer:
    kind = _KINDS.get(type(layer).__name__)
    if kind is None:
        return SourceLayer(
            name=layer.name, kind="keras_lstm", arrays={}, stack=stack, direction=direction,
            unsupported=(f"a wrapped {type(layer).__name__} layer",),
        )  # fmt: skip
    cell = layer.cell
    weights = [np.asarray(value) for value in layer.get_weights()]
    arrays = {"kernel": weights[0], "recurrent_kernel": weights[1]}
    if len(weights) > 2:
        arrays["bias"] = weights[2]
    features = []
    if cell.activation.__name__ != "tanh":
        features.append(f"activation={cell.activation.__name__}")
    recurrent = getattr(cell, "recurrent_activation", None)
    if recurrent is not None and recurrent.__name__ != "sigmoid":
        features.append(f"recurrent_activation={recurrent.__name__}")
    if layer.go_backwards and direction == "forward":
        features.append("go_backwards=True")
    return SourceLayer(
        name=layer.name,
        kind=kind,
        arrays=arrays,
        stack=stack,
        direction=direction,
        reset_after=bool(getattr(cell, "reset_after", True)),
        return_sequences=bool(getattr(layer, "return_sequences", True)),
        return_state=bool(getattr(layer, "return_state", False)),
        unsupported=tuple(features),
    )
