"""Trace a Keras model with ``tf.function`` and freeze it into a GraphDef for tf2onnx.

Inputs are placeholders named after the model's input layers, with the batch (and every
dimension Keras leaves open) unknown; variables become constants
(``convert_variables_to_constants_v2``). The model runs with ``training=False``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import keras
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

from pipeline.sources.keras_model import pack_inputs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrozenGraph:
    graph_def: object  # tf.compat.v1.GraphDef
    input_names: list[str]  # tensor names in the GraphDef, in model input order
    output_names: list[str]  # tensor names in the GraphDef, in model output order


def freeze_model(model: keras.Model, placeholder_names: list[str]) -> FrozenGraph:
    """``model`` traced on inputs named ``placeholder_names`` (one per model input)."""
    specs = [
        tf.TensorSpec(tensor.shape, tensor.dtype, name=name)
        for tensor, name in zip(model.inputs, placeholder_names, strict=True)
    ]

    @tf.function(autograph=False)
    def forward(*inputs):
        values = model(pack_inputs(model, list(inputs)), training=False)
        return tf.nest.flatten(values)

    concrete = forward.get_concrete_function(*specs)
    frozen = convert_variables_to_constants_v2(concrete)
    graph_def = frozen.graph.as_graph_def()
    inputs = [tensor.name for tensor in frozen.inputs if tensor.dtype != tf.resource]
    outputs = [tensor.name for tensor in frozen.outputs]
    logger.debug("froze Keras model %r: %d nodes", model.name, len(graph_def.node))
    return FrozenGraph(graph_def=graph_def, input_names=inputs, output_names=outputs)
