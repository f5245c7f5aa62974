"""Clone a Keras model with each recurrent layer replaced by a stand-in that emits one op.

Traced as it is, a Keras 3 recurrent layer is a ``While`` loop that tf2onnx writes as an
ONNX ``Loop``. The clone replaces each ``LSTM``, ``GRU``, ``SimpleRNN`` and ``Bidirectional``
of one by ``RecurrentStandIn``, whose call is one ``tf.numpy_function`` (TF op ``PyFunc``)
that is traced but never run. Its inputs are the sequences, the initial states when the
layer is given any, and the mask when one reaches it; its outputs have the layer's static
shapes. The op's name carries a marker (``tfrnn_keras_call_<k>``) that ties it to a
``StandInCall``; the tf2onnx handler (``handler.py``) replaces the op by the ONNX node built
from the original layer's weights and config.

Masks reach the stand-in exactly as they reach the layer (Keras fills ``mask`` in), and
the stand-in passes on the mask the original layer would (``compute_mask``).
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipeline.errors import NoExactConversionError
from pipeline.tf_to_onnx.keras.handler import MARKER_PREFIX, StandInCall
from pipeline.tf_to_onnx.keras.layers import RecurrentLayerSpec, is_recurrent, read_recurrent_layer

logger = logging.getLogger(__name__)


class _Untracked:
    """Holds the original layer and the calls registry out of Keras's attribute tracking.

    Keras would track the layer (the clone would own its weights) and copy the dict.
    """

    def __init__(self, layer: keras.layers.Layer, calls: dict[str, StandInCall]) -> None:
        self.layer = layer
        self.calls = calls


class RecurrentStandIn(keras.layers.Layer):
    """Stands in for one recurrent layer; see the module docstring."""

    def __init__(self, layer: keras.layers.Layer, calls: dict[str, StandInCall]) -> None:
        super().__init__(name=layer.name, dtype=layer.dtype_policy)
        self.spec: RecurrentLayerSpec = read_recurrent_layer(layer)
        self._original = _Untracked(layer, calls)
        self.supports_masking = True

    def compute_output_shape(
        self, sequences_shape: tuple, initial_state_shape: tuple | list | None = None
    ) -> tuple | list:
        return self._original.layer.compute_output_shape(sequences_shape)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return self._original.layer.compute_mask(inputs, mask)

    def call(
        self,
        sequences: tf.Tensor,
        initial_state: tf.Tensor | list[tf.Tensor] | None = None,
        mask: tf.Tensor | list | None = None,
        training: bool | None = None,
    ) -> tf.Tensor | list[tf.Tensor]:
        spec = self.spec
        states = _as_list(initial_state)
        expected = spec.num_directions * spec.num_states
        if states and len(states) != expected:
            raise NoExactConversionError(
                f"Keras layer {spec.name!r} was called with {len(states)} initial states; "
                f"expected {expected} ({spec.kind}, {spec.num_directions} direction(s))"
            )
        mask = _as_list(mask)[0] if _as_list(mask) else None
        shapes = _output_shapes(self._original.layer, sequences.shape)
        calls = self._original.calls
        marker = f"{MARKER_PREFIX}{len(calls)}"
        calls[marker] = StandInCall(
            marker=marker,
            spec=spec,
            has_initial_state=bool(states),
            has_mask=mask is not None,
            output_shapes=tuple(
                tuple(-1 if size is None else int(size) for size in shape) for shape in shapes
            ),
        )
        inputs = [sequences, *states] + ([tf.cast(mask, tf.bool)] if mask is not None else [])
        outputs = tf.numpy_function(
            _never_run, inputs, Tout=[tf.float32] * len(shapes), name=marker
        )
        # NOTE: EnsureShape, not set_shape: freezing re-imports the graph, and only an op's
        # shape function survives that; PyFunc's says nothing.
        outputs = [
            tf.ensure_shape(output, shape) for output, shape in zip(outputs, shapes, strict=True)
        ]
        logger.debug("stand-in %s for Keras layer %r", marker, spec.name)
        return outputs[0] if len(outputs) == 1 else list(outputs)


def clone_with_stand_ins(model: keras.Model, calls: dict[str, StandInCall]) -> keras.Model:
    """``model`` with every recurrent layer replaced by a ``RecurrentStandIn``."""

    def replace(layer: keras.layers.Layer) -> keras.layers.Layer:
        if is_recurrent(layer):
            return RecurrentStandIn(layer, calls)
        inner = getattr(layer, "layer", None)
        if isinstance(inner, keras.layers.Layer) and is_recurrent(inner):
            raise NoExactConversionError(
                f"Keras layer {layer.name!r}: a {type(layer).__name__} wrapping the recurrent "
                f"layer {inner.name!r} would be traced as a loop (an ONNX Loop), not one fused "
                "node. Apply the recurrent layer directly (Bidirectional is supported)"
            )
        return layer  # every other layer is shared, with its weights

    return keras.models.clone_model(model, clone_function=replace, recursive=True)


def _output_shapes(layer: keras.layers.Layer, sequences_shape: tf.TensorShape) -> list[tuple]:
    shapes = layer.compute_output_shape(tuple(sequences_shape))
    if shapes and isinstance(shapes[0], list | tuple):
        return [tuple(shape) for shape in shapes]
    return [tuple(shapes)]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [each for each in value if each is not None]
    return [value]


def _never_run(*arrays: np.ndarray) -> list[np.ndarray]:
    raise RuntimeError(
        "a Keras recurrent stand-in ran; it exists only to be traced and replaced by tf2onnx"
    )
