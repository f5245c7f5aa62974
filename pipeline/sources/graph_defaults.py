"""Default inputs and outputs of a TF graph without a signature (runs in the TF worker).

- **Inputs** are the graph's ``Placeholder`` nodes, output 0 each, with their dtype and
  declared shape (``None`` for an unknown rank, a ``None`` dimension where it is unknown).
- **Outputs** are the nodes whose outputs no other node consumes, each output of each, except
  nodes that cannot be a model's result: ops without outputs or that only save, restore,
  assign or initialise variables, training updates (``Apply*``), the ``Saver``'s own
  subgraph, and nodes that depend on no placeholder (reads of a variable, constants).

Every result is a ``TensorDescription`` (``pipeline.sources.signature``) as plain data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_from_session_graph,
)
from tensorflow.python.util import deprecation

from pipeline.sources.signature import TensorDescription

logger = logging.getLogger(__name__)

PLACEHOLDER_OPS = ("Placeholder",)
_NOT_RESULTS = (
    "NoOp", "Assign", "AssignAdd", "AssignSub", "AssignVariableOp", "AssignAddVariableOp",
    "AssignSubVariableOp", "SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore",
    "RestoreSlice", "MergeV2Checkpoints", "ShardedFilename", "StringJoin", "VarHandleOp",
    "VariableV2", "Variable", "VarIsInitializedOp", "IsVariableInitialized", "Const",
    "Placeholder", "PlaceholderWithDefault", "ReadVariableOp",
)  # fmt: skip
_TRAINING_PREFIXES = ("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply")


def placeholder_inputs(graph_def: tf.compat.v1.GraphDef) -> list[TensorDescription]:
    """Every ``Placeholder`` of ``graph_def``, in graph order."""
    return [
        TensorDescription(
            name=f"{node.name}:0",
            dtype=numpy_dtype_name(node.attr["dtype"].type),
            shape=shape_of(tf.TensorShape(node.attr["shape"].shape)),
            note="placeholder",
        )
        for node in graph_def.node
        if node.op in PLACEHOLDER_OPS
    ]


def unconsumed_outputs(
    graph_def: tf.compat.v1.GraphDef, excluded_scopes: Iterable[str] = ()
) -> list[TensorDescription]:
    """Every output of the nodes nothing consumes (see the module docstring), in graph order."""
    nodes = {node.name: node for node in graph_def.node}
    consumed = {_producer(name) for node in graph_def.node for name in node.input}
    scopes = tuple(scope.rstrip("/") + "/" for scope in excluded_scopes if scope)
    fed = _depends_on_placeholders(nodes)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    results = []
    for node in graph_def.node:
        if node.name in consumed or node.op in _NOT_RESULTS or node.name.startswith(scopes):
            continue
        if node.op.startswith(_TRAINING_PREFIXES) or node.name not in fed:
            continue
        for tensor in graph.get_operation_by_name(node.name).outputs:
            if tensor.dtype.is_numpy_compatible and tensor.dtype != tf.string:
                dtype = numpy_dtype_name(tensor.dtype)
                results.append(TensorDescription(tensor.name, dtype, note="unconsumed node"))
    return results


def freeze_session(
    session: tf.compat.v1.Session, graph_def: tf.compat.v1.GraphDef, output_nodes: list[str]
) -> tf.compat.v1.GraphDef:
    """``graph_def`` with every variable ``output_nodes`` read replaced by its value in
    ``session``, pruned to what ``output_nodes`` need (ref and resource variables alike)."""
    # NOTE: this is what tf.compat.v1.graph_util.convert_variables_to_constants does; its
    # deprecation warnings tell the user nothing they could act on.
    with deprecation.silence():
        return convert_variables_to_constants_from_session_graph(session, graph_def, output_nodes)


def numpy_dtype_name(dtype: int | tf.DType) -> str:
    """numpy's name of a TF dtype (``"float32"``); TF's own name where numpy has none."""
    as_tf = tf.dtypes.as_dtype(dtype)
    try:
        return np.dtype(as_tf.as_numpy_dtype).name
    except TypeError:
        return as_tf.name


def shape_of(shape: tf.TensorShape) -> tuple[int | None, ...] | None:
    """``None`` for an unknown rank, else each dimension (``None`` where unknown)."""
    if shape.rank is None:
        return None
    return tuple(shape.as_list())


def _producer(input_name: str) -> str:
    return input_name.lstrip("^").split(":")[0]


def _depends_on_placeholders(nodes: Mapping[str, tf.compat.v1.NodeDef]) -> set[str]:
    """The names of the nodes a placeholder reaches through data inputs."""
    consumers: dict[str, list[str]] = {}
    for node in nodes.values():
        for name in node.input:
            if not name.startswith("^"):
                consumers.setdefault(_producer(name), []).append(node.name)
    reached: set[str] = set()
    frontier = [name for name, node in nodes.items() if node.op in PLACEHOLDER_OPS]
    while frontier:
        name = frontier.pop()
        if name in reached:
            continue
        reached.add(name)
        frontier += consumers.get(name, [])
    return reached
