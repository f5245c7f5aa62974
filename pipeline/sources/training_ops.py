"""Fold away dropout masks that pinning ``keep_prob`` made constant.

TF1's dropout computes ``floor(keep_prob + u)`` with ``u = RandomUniform * (max - min) + min``.
Once ``keep_prob`` is pinned to 1.0 the floor is 1 for every ``u`` in ``[0, 1)``, but the
random op is stateful, so TensorFlow's constant folding keeps it and tf2onnx exports it as
``RandomUniformLike``, which other runtimes cannot import.

This pass bounds each ``Floor`` input over the whole range of its random source (interval
arithmetic through ``Add``, ``AddV2``, ``Sub``, ``Mul`` and ``Identity`` with scalar
constants) and replaces the ``Floor`` by a ``Fill`` of the random op's shape when both ends
of the interval floor to the same value. That is exact: the floor never depended on ``u``.
TF draws float ``u`` from ``[0, 1 - 2^-mantissa]``, so that closed interval is used.

``training_nodes`` finds what only serves training in a TF1 graph: the ``gradients`` scope,
optimizer updates (``Apply*``) and every node whose consumers all are training nodes (the
optimizer's slots and step counters). A graph that holds any is a *training graph*.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

_RANDOM_OPS = ("RandomUniform",)
_GRADIENT_SCOPE = re.compile(r"^gradients(_\d+)?/")
_UPDATE_PREFIXES = ("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply")


def is_training_update(node: tf.compat.v1.NodeDef) -> bool:
    """Whether ``node`` is a gradient (``gradients/`` scope) or an optimizer update."""
    return bool(_GRADIENT_SCOPE.match(node.name)) or node.op.startswith(_UPDATE_PREFIXES)


def training_nodes(
    nodes: Mapping[str, tf.compat.v1.NodeDef], data_nodes: Collection[str] = ()
) -> set[str]:
    """The gradients and updates of ``nodes``, and the nodes that only feed them.

    A node of ``data_nodes`` (one the inputs reach) is one only if it is a gradient or an
    update itself: a loss that only the gradients consume stays the loss.
    """
    producers = {
        name: {entry.lstrip("^").split(":")[0] for entry in node.input}
        for name, node in nodes.items()
    }
    pending: dict[str, int] = {}
    for inputs in producers.values():
        for producer in inputs:
            pending[producer] = pending.get(producer, 0) + 1
    training = {name for name, node in nodes.items() if is_training_update(node)}
    frontier = list(training)
    while frontier:
        for producer in producers[frontier.pop()]:
            pending[producer] -= 1
            if pending[producer] or producer not in nodes or producer in data_nodes:
                continue
            if producer not in training:
                training.add(producer)
                frontier.append(producer)
    return training


def fold_constant_floors(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """Return ``graph_def`` with every ``Floor`` whose value cannot vary replaced by a ``Fill``."""
    nodes = {node.name: node for node in graph_def.node}
    result = tf.compat.v1.GraphDef()
    result.CopyFrom(graph_def)
    for node in result.node:
        if node.op != "Floor":
            continue
        found = _bounds(nodes, node.input[0])
        if found is None:
            continue
        (low, high), random_node = found
        if random_node is None or np.floor(low) != np.floor(high):
            continue
        dtype = tf.dtypes.as_dtype(node.attr["T"].type)
        value = result.node.add(name=f"{node.name}/folded_value", op="Const")
        value.attr["dtype"].type = dtype.as_datatype_enum
        value.attr["value"].tensor.CopyFrom(
            tf.make_tensor_proto(np.floor(low).astype(dtype.as_numpy_dtype))
        )
        node.op = "Fill"
        del node.input[:]
        node.input.extend([nodes[random_node].input[0], value.name])
        node.attr.clear()
        node.attr["T"].type = dtype.as_datatype_enum
        node.attr["index_type"].type = tf.int32.as_datatype_enum
        logger.info("folded %s: always %s, whatever %s draws", node.name, low, random_node)
    return result


def _bounds(nodes: dict, tensor: str) -> tuple[tuple[np.ndarray, np.ndarray], str | None] | None:
    """``((low, high), random_node)`` bounding ``tensor``, or None when it cannot be bounded."""
    name = tensor.split(":")[0].lstrip("^")
    node = nodes.get(name)
    if node is None:
        return None
    if node.op == "Const":
        value = tf.make_ndarray(node.attr["value"].tensor)
        return ((value, value), None) if value.size == 1 else None
    if node.op in _RANDOM_OPS:
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype
        top = dtype(1) - np.finfo(dtype).eps if np.issubdtype(dtype, np.floating) else None
        return ((dtype(0), top), name) if top is not None else None
    if node.op == "Identity":
        return _bounds(nodes, node.input[0])
    if node.op not in ("Add", "AddV2", "Sub", "Mul"):
        return None
    left, right = _bounds(nodes, node.input[0]), _bounds(nodes, node.input[1])
    if left is None or right is None or (left[1] and right[1]):
        return None
    (a_low, a_high), (b_low, b_high) = left[0], right[0]
    if node.op in ("Add", "AddV2"):
        interval = (a_low + b_low, a_high + b_high)
    elif node.op == "Sub":
        interval = (a_low - b_high, a_high - b_low)
    else:
        products = [a_low * b_low, a_low * b_high, a_high * b_low, a_high * b_high]
        interval = (min(products), max(products))
    return interval, left[1] or right[1]
