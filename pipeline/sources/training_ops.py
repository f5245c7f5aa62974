"""Fold away dropout masks that pinning ``keep_prob`` made constant.

TF1's dropout computes ``floor(keep_prob + u)`` with ``u = RandomUniform * (max - min) + min``;
TF2's (which ``tf.compat.v1.nn.dropout`` runs) keeps where ``u >= rate``, with
``rate = 1 - keep_prob``. Once ``keep_prob`` is 1.0 (pinned, or the default of a
``PlaceholderWithDefault`` that is not fed) the mask is the same for every ``u`` in
``[0, 1)``, but the random op is stateful, so TensorFlow's constant folding keeps it and
tf2onnx exports it as ``RandomUniform``, which other runtimes cannot import.

This pass bounds each ``Floor`` and ``GreaterEqual`` input over the whole range of its
random source (interval arithmetic through ``Add``, ``AddV2``, ``Sub``, ``Mul`` and
``Identity`` with scalar constants) and replaces the op by a ``Fill`` of the random op's
shape when its value is the same at both ends of the interval. That is exact: the mask never
depended on ``u``. TF draws float ``u`` from ``[0, 1 - 2^-mantissa]``, so that closed
interval is used.

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


def fold_constant_floors(
    graph_def: tf.compat.v1.GraphDef, fed: Collection[str] = ()
) -> tf.compat.v1.GraphDef:
    """Return ``graph_def`` with every dropout mask that cannot vary replaced by a ``Fill``.

    ``fed`` names the placeholders fed at run time; any other ``PlaceholderWithDefault``
    holds its default.
    """
    nodes = {node.name: node for node in graph_def.node}
    fed_nodes = {name.split(":")[0] for name in fed}
    result = tf.compat.v1.GraphDef()
    result.CopyFrom(graph_def)
    for node in result.node:
        folded = _constant_mask(nodes, node, fed_nodes)
        if folded is None:
            continue
        value, random_node = folded
        dtype = tf.dtypes.as_dtype(value.dtype)
        constant = result.node.add(name=f"{node.name}/folded_value", op="Const")
        constant.attr["dtype"].type = dtype.as_datatype_enum
        constant.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        node.op = "Fill"
        del node.input[:]
        node.input.extend([nodes[random_node].input[0], constant.name])
        node.attr.clear()
        node.attr["T"].type = dtype.as_datatype_enum
        node.attr["index_type"].type = tf.int32.as_datatype_enum
        logger.info("folded %s: always %s, whatever %s draws", node.name, value, random_node)
    return result


def _constant_mask(nodes: dict, node, fed: Collection[str]) -> tuple[np.ndarray, str] | None:
    """``(value, random_node)`` of a ``Floor`` or ``GreaterEqual`` that cannot vary."""
    if node.op == "Floor":
        found = _bounds(nodes, node.input[0], fed)
        if found is None or found[1] is None:
            return None
        (low, high), random_node = found
        if np.floor(low) != np.floor(high):
            return None
        dtype = tf.dtypes.as_dtype(node.attr["T"].type).as_numpy_dtype
        return np.floor(low).astype(dtype), random_node
    if node.op == "GreaterEqual":
        left, right = (_bounds(nodes, name, fed) for name in node.input[:2])
        if left is None or right is None or (left[1] is None) == (right[1] is None):
            return None
        (a_low, a_high), (b_low, b_high) = left[0], right[0]
        if a_low >= b_high or a_high < b_low:
            return np.asarray(a_low >= b_high), left[1] or right[1]
    return None


def _bounds(
    nodes: dict, tensor: str, fed: Collection[str]
) -> tuple[tuple[np.ndarray, np.ndarray], str | None] | None:
    """``((low, high), random_node)`` bounding ``tensor``, or None when it cannot be bounded."""
    name = tensor.split(":")[0].lstrip("^")
    node = nodes.get(name)
    if node is None:
        return None
    if node.op == "PlaceholderWithDefault" and name not in fed:
        return _bounds(nodes, node.input[0], fed)
    if node.op == "Const":
        value = tf.make_ndarray(node.attr["value"].tensor)
        return ((value, value), None) if value.size == 1 else None
    if node.op in _RANDOM_OPS:
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype
        top = dtype(1) - np.finfo(dtype).eps if np.issubdtype(dtype, np.floating) else None
        return ((dtype(0), top), name) if top is not None else None
    if node.op == "Identity":
        return _bounds(nodes, node.input[0], fed)
    if node.op not in ("Add", "AddV2", "Sub", "Mul"):
        return None
    left, right = _bounds(nodes, node.input[0], fed), _bounds(nodes, node.input[1], fed)
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


_RANDOM_OP_PREFIXES = ("Random", "StatelessRandom", "TruncatedNormal", "Multinomial")


def warn_of_random_ops(graph_def: tf.compat.v1.GraphDef, output_names: Collection[str]) -> None:
    """Warn when the outputs still depend on a random op once dropout masks are folded: a
    ``keep_prob`` below 1 or a noise layer. TF's reference then changes from run to run, and
    tf2onnx exports a dropout it recognises as the identity."""
    nodes = {node.name: node for node in graph_def.node}
    seen: set[str] = set()
    frontier = [name.split(":")[0] for name in output_names]
    random = []
    while frontier:
        name = frontier.pop()
        node = nodes.get(name)
        if node is None or name in seen:
            continue
        seen.add(name)
        if node.op.startswith(_RANDOM_OP_PREFIXES):
            random.append(name)
        frontier += [entry.lstrip("^").split(":")[0] for entry in node.input]
    if random:
        logger.warning(
            "the outputs depend on random ops %s (dropout with keep_prob below 1, or noise): "
            "TensorFlow draws new values on every run, so its reference cannot match the "
            "export; for inference pin keep_prob to 1.0 (--pin NAME:0=1.0)",
            sorted(random)[:3],
        )
