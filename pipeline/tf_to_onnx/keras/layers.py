"""Read a Keras recurrent layer (or a ``Bidirectional`` of one) into a framework-free spec.

Runs in the TF worker (it imports ``keras``). The spec carries everything the tf2onnx handler
needs to write the layer as one ONNX node: the ONNX weights of each direction
(``pipeline.recurrent.keras``), the activations, and the layer's output options. A setting
without an exact ONNX form raises ``NoExactConversionError`` naming the layer.

At inference ``dropout``, ``recurrent_dropout``, ``unroll``, ``implementation`` and
``use_cudnn`` do not change what a layer computes, so they are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from pipeline.errors import NoExactConversionError
from pipeline.recurrent.keras import (
    ONNX_OPS,
    KerasMappingError,
    OnnxActivation,
    OnnxRecurrentWeights,
    activation_attributes,
    direction_weights,
    onnx_activation,
    stack_directions,
)
from pipeline.sources.keras_model import keras2_hard_sigmoid

FUSED_KINDS = tuple(ONNX_OPS)
_FUSED_CELLS = {
    "LSTM": keras.layers.LSTMCell,
    "GRU": keras.layers.GRUCell,
    "SimpleRNN": keras.layers.SimpleRNNCell,
}
MERGE_MODES = ("concat", "sum", "mul", "ave", None)


@dataclass(frozen=True)
class RecurrentLayerSpec:
    """One Keras recurrent layer as one ONNX node; see the module docstring."""

    name: str
    kind: str  # LSTM, GRU, SimpleRNN
    units: int
    weights: OnnxRecurrentWeights  # D directions on axis 0
    attributes: dict  # activations, activation_alpha/beta, linear_before_reset
    bidirectional: bool
    go_backwards: bool  # a single layer that reads its input backwards
    return_sequences: bool
    return_state: bool
    merge_mode: str | None  # Bidirectional only
    zero_output_for_mask: tuple[bool, ...]  # per direction

    @property
    def op_type(self) -> str:
        return ONNX_OPS[self.kind]

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def num_states(self) -> int:
        """States per direction: ``h, c`` for an LSTM, ``h`` otherwise."""
        return 2 if self.kind == "LSTM" else 1


def is_recurrent(layer: keras.layers.Layer) -> bool:
    """True for every layer that would loop over time: RNNs and wrappers of them."""
    if isinstance(layer, keras.layers.Bidirectional):
        return True
    return isinstance(layer, keras.layers.RNN)


def read_recurrent_layer(layer: keras.layers.Layer) -> RecurrentLayerSpec:
    """The spec of ``layer``; ``NoExactConversionError`` where ONNX has no exact form."""
    try:
        if isinstance(layer, keras.layers.Bidirectional):
            return _read_bidirectional(layer)
        _check_fused_kind(layer)
        functions, weights, extra = _direction(layer)
        return RecurrentLayerSpec(
            name=layer.name,
            kind=fused_kind(layer),
            units=int(layer.units),
            weights=weights,
            attributes={**activation_attributes(functions), **extra},
            bidirectional=False,
            go_backwards=bool(layer.go_backwards),
            return_sequences=bool(layer.return_sequences),
            return_state=bool(layer.return_state),
            merge_mode=None,
            zero_output_for_mask=(bool(layer.zero_output_for_mask),),
        )
    except KerasMappingError as error:
        raise NoExactConversionError(f"Keras layer {layer.name!r}: {error}") from None


def _read_bidirectional(layer: keras.layers.Bidirectional) -> RecurrentLayerSpec:
    forward, backward = layer.forward_layer, layer.backward_layer
    for inner in (forward, backward):
        _check_fused_kind(inner)
    if fused_kind(forward) != fused_kind(backward) or forward.units != backward.units:
        raise KerasMappingError(
            f"Bidirectional with a forward {fused_kind(forward)}({forward.units}) and a "
            f"backward {fused_kind(backward)}({backward.units}): one ONNX node needs both "
            "directions of the same kind and size"
        )
    if forward.go_backwards or not backward.go_backwards:
        raise KerasMappingError(
            "Bidirectional whose forward layer reads backwards (go_backwards=True on the "
            "wrapped layer) has no ONNX direction; wrap a layer with go_backwards=False"
        )
    if layer.return_sequences and not backward.zero_output_for_mask:
        # Keras's Bidirectional sets it; carried outputs would run along the backward reading.
        raise KerasMappingError(
            "a backward layer returning sequences with zero_output_for_mask=False is not "
            "what Keras's Bidirectional builds; rebuild the Bidirectional from its config"
        )
    if layer.merge_mode not in MERGE_MODES:
        raise KerasMappingError(
            f"merge_mode={layer.merge_mode!r}; expected one of {list(MERGE_MODES)}"
        )
    forward_functions, forward_weights, extra = _direction(forward)
    backward_functions, backward_weights, backward_extra = _direction(backward)
    if extra != backward_extra:
        raise KerasMappingError(
            f"Bidirectional directions differ in {extra} vs {backward_extra}; one ONNX GRU "
            "node has one linear_before_reset. Use the same reset_after in both directions"
        )
    return RecurrentLayerSpec(
        name=layer.name,
        kind=fused_kind(forward),
        units=int(forward.units),
        weights=stack_directions([forward_weights, backward_weights]),
        attributes={
            **activation_attributes(forward_functions + backward_functions),
            **extra,
            "direction": "bidirectional",
        },
        bidirectional=True,
        go_backwards=False,
        return_sequences=bool(layer.return_sequences),
        return_state=bool(layer.return_state),
        merge_mode=layer.merge_mode,
        zero_output_for_mask=(
            bool(forward.zero_output_for_mask),
            bool(backward.zero_output_for_mask),
        ),
    )


def fused_kind(layer: keras.layers.Layer) -> str | None:
    """``LSTM``, ``GRU`` or ``SimpleRNN`` for Keras's own layers of those kinds, else None.

    A subclass counts only when it keeps the layer's ``call`` and the cell's class (the
    Keras 2 loader's classes do); any other could compute something else.
    """
    for name, cell_class in _FUSED_CELLS.items():
        layer_class = getattr(keras.layers, name)
        if (
            isinstance(layer, layer_class)
            and type(layer).call is layer_class.call
            and type(getattr(layer, "cell", None)) is cell_class
        ):
            return name
    return None


def _check_fused_kind(layer: keras.layers.Layer) -> None:
    """Refuse what no fused node computes; the caller's error names the layer."""
    if fused_kind(layer) is None:
        cell = getattr(layer, "cell", None)
        of_cell = f" of a {type(cell).__name__}" if cell is not None else ""
        raise KerasMappingError(
            f"a {type(layer).__name__} layer{of_cell} has no fused ONNX node (tf2onnx would "
            f"write a Loop); expected one of {list(FUSED_KINDS)} or a Bidirectional of one. "
            "Rebuild it as keras.layers.LSTM, GRU or SimpleRNN"
        )
    if layer.stateful:
        raise KerasMappingError(
            "stateful=True carries the state from one batch to the next, which an ONNX "
            "model cannot keep; save the model with stateful=False and feed the state as "
            "initial_state inputs"
        )
    dtype = keras.backend.standardize_dtype(layer.compute_dtype)
    if dtype != "float32":
        raise KerasMappingError(
            f"compute dtype {dtype}: the fused mapping is float32 only; save the model "
            "with the float32 dtype policy"
        )


def _direction(
    layer: keras.layers.Layer,
) -> tuple[list[OnnxActivation], OnnxRecurrentWeights, dict]:
    """One direction's ONNX activations (in ONNX order), weights and extra attributes."""
    kind = fused_kind(layer)
    cell = layer.cell
    activation = onnx_activation(_activation_name(cell.activation), "activation")
    extra: dict = {}
    if kind == "SimpleRNN":
        functions = [activation]
    else:
        gate = onnx_activation(_activation_name(cell.recurrent_activation), "recurrent_activation")
        # LSTM: f (gates), g (candidate), h (cell output); GRU: f (z, r), g (candidate).
        functions = [gate, activation, activation] if kind == "LSTM" else [gate, activation]
    reset_after = bool(getattr(cell, "reset_after", True))
    if kind == "GRU":
        extra["linear_before_reset"] = int(reset_after)
    weights = [np.asarray(value, dtype=np.float32) for value in layer.get_weights()]
    mapped = direction_weights(kind, weights, bool(cell.use_bias), reset_after)
    return functions, mapped, extra


def _activation_name(function: Callable) -> str:
    """The Keras name of an activation function; identity decides, not the function's name."""
    if function is keras2_hard_sigmoid:
        return "keras2_hard_sigmoid"
    known = {
        "tanh": keras.activations.tanh,
        "sigmoid": keras.activations.sigmoid,
        "relu": keras.activations.relu,
        "softsign": keras.activations.softsign,
        "softplus": keras.activations.softplus,
        "linear": keras.activations.linear,
        "elu": keras.activations.elu,
        "leaky_relu": keras.activations.leaky_relu,
        "hard_sigmoid": keras.activations.hard_sigmoid,
    }
    for name, candidate in known.items():
        if function is candidate:
            return name
    return getattr(function, "__name__", repr(function))
