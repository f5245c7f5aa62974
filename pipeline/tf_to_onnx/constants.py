"""Constant inputs of tf2onnx nodes, read as NumPy arrays."""

from __future__ import annotations

import numpy as np
from tf2onnx.graph import Graph, Node

from pipeline.errors import NoExactConversionError


def required_const(ctx: Graph, node: Node, op: str, index: int, name: str) -> np.ndarray:
    value = const_value(node.inputs[index])
    if value is None:
        producer = node.inputs[index]
        raise NoExactConversionError(
            f"{op} node {node.name!r}: input {name} comes from {producer.type} node "
            f"{producer.name!r}, not a constant. Freeze the graph so that the weights are "
            "constants, or pin the inputs they depend on."
        )
    return value


def const_value(producer: Node | None) -> np.ndarray | None:
    if producer is None or not producer.is_const():
        return None
    return np.asarray(producer.get_tensor_value(as_list=False))
