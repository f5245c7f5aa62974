"""Default inputs and outputs of a TF graph without a signature (runs in the TF worker).

- **Inputs** are the graph's ``Placeholder`` nodes, output 0 each, with their dtype and
  declared shape (``None`` for an unknown rank, a ``None`` dimension where it is unknown).
  A scalar placeholder (a dropout ``keep_prob``, a temperature) is none: random values
  would change what the model computes, so it is logged with the ``--pin`` to give, and
  TensorFlow refuses to run until it is pinned or fed. A ``PlaceholderWithDefault`` is
  none either: its default applies.
- **Outputs** are the nodes whose outputs no other node consumes, each output of each, except
  nodes that cannot be a model's result: ops without outputs or that only save, restore,
  assign or initialise variables, the ``Saver``'s own subgraph, training nodes (gradients,
  optimizer updates and what only feeds them, ``pipeline.sources.training_ops``), TF1
  control flow (``Enter``, ``Merge``, ``Switch``, ``NextIteration``, ``LoopCond``, every
  node inside a while frame, and an ``Exit`` that is no float, such as the step counter),
  and nodes whose value depends on no placeholder's data (reads of a variable, constants,
  zero states sized by ``Shape``). A float ``Exit`` is a loop's result, such as the final
  state of a ``dynamic_rnn`` the model discards: no default, as the model did not return
  it, but it can be named as an output, and the unconsumed ones are logged.
- A **training graph** (one holding training nodes) has no default outputs: its unconsumed
  node is the loss, which consumes the model's output. ``default_outputs`` refuses it,
  naming the nodes that feed the loss as the likely outputs.

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

from pipeline.errors import SourceError
from pipeline.sources.signature import TensorDescription
from pipeline.sources.training_ops import is_training_update, training_nodes

logger = logging.getLogger(__name__)

PLACEHOLDER_OPS = ("Placeholder",)
_NOT_RESULTS = (
    "NoOp", "Assign", "AssignAdd", "AssignSub", "AssignVariableOp", "AssignAddVariableOp",
    "AssignSubVariableOp", "SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore",
    "RestoreSlice", "MergeV2Checkpoints", "ShardedFilename", "StringJoin", "VarHandleOp",
    "VariableV2", "Variable", "VarIsInitializedOp", "IsVariableInitialized", "Const",
    "Placeholder", "PlaceholderWithDefault", "ReadVariableOp",
)  # fmt: skip
CONTROL_FLOW_OPS = (
    "Enter", "RefEnter", "Exit", "RefExit", "Merge", "RefMerge", "Switch", "RefSwitch",
    "NextIteration", "RefNextIteration", "LoopCond",
)  # fmt: skip
_LOOP_EXITS = ("Exit", "RefExit")
_SHAPE_OPS = ("Shape", "ShapeN", "Size", "Rank")
"""Ops whose value depends on their input's shape only: data does not flow through them."""
_MAX_CANDIDATES = 3


def placeholder_inputs(graph_def: tf.compat.v1.GraphDef) -> list[TensorDescription]:
    """Every non-scalar ``Placeholder`` of ``graph_def``, in graph order (see above)."""
    inputs = []
    for node in graph_def.node:
        if node.op not in PLACEHOLDER_OPS:
            continue
        shape = shape_of(tf.TensorShape(node.attr["shape"].shape))
        if shape == ():
            _log_scalar_placeholder(graph_def, node.name)
            continue
        dtype = numpy_dtype_name(node.attr["dtype"].type)
        inputs.append(TensorDescription(f"{node.name}:0", dtype, shape, note="placeholder"))
    return inputs


def _log_scalar_placeholder(graph_def: tf.compat.v1.GraphDef, name: str) -> None:
    reached = _reached_from({node.name: node for node in graph_def.node}, [name])
    feeds_dropout = any("dropout" in each.lower() for each in reached)
    value = "1.0" if feeds_dropout else "VALUE"
    logger.warning(
        "placeholder %s:0 is a scalar%s: it is no default input, as random values would "
        "change what the model computes; pin it (--pin %s:0=%s) unless the command does, or "
        "feed it (--inputs-npz)",
        name,
        " that feeds dropout" if feeds_dropout else "",
        name,
        value,
    )


def unconsumed_outputs(
    graph_def: tf.compat.v1.GraphDef, excluded_scopes: Iterable[str] = ()
) -> list[TensorDescription]:
    """Every output of the nodes nothing consumes (see the module docstring), in graph order."""
    return _describe(graph_def, _sinks(GraphRoles(graph_def, excluded_scopes)))


def default_outputs(
    graph_def: tf.compat.v1.GraphDef, excluded_scopes: Iterable[str], source: str
) -> list[TensorDescription]:
    """``unconsumed_outputs``, or a ``SourceError`` for a training graph naming candidates."""
    roles = GraphRoles(graph_def, excluded_scopes)
    sinks = _sinks(roles)
    _log_discarded_loop_results(roles)
    if not roles.training:
        return _describe(graph_def, sinks)
    updates = sorted(n for n in roles.training if is_training_update(roles.nodes[n]))
    losses = [f"{name}:0" for name in sinks]
    candidates = [f"{name}:0" for name in _candidates(roles, sinks)]
    example = ",".join(candidates[:1]) or "NAME:0"
    raise SourceError(
        f"{source}: the graph is a training graph ({len(updates)} gradient and optimizer "
        f"nodes, such as {updates[:2]}), so its unconsumed nodes {losses} are the loss, not "
        "the model's outputs, and no outputs are chosen by default. The likeliest outputs "
        f"are the nodes that feed the loss: {candidates or '(none found)'}. Name the "
        f"outputs: --outputs {example} (or `outputs:` in the config)"
    )


def refuse_loop_internals(
    graph_def: tf.compat.v1.GraphDef, output_names: Iterable[str], source: str
) -> None:
    """Raise ``SourceError`` when an output is TF1 control flow or inside a while frame."""
    roles = GraphRoles(graph_def)
    inside = []
    for name in output_names:
        node = roles.nodes.get(name.split(":")[0])
        if node is None or is_loop_result(node, roles.nodes):
            continue
        if node.op in CONTROL_FLOW_OPS or node.name in roles.in_frame:
            inside.append(f"{name} (node {node.name!r}, op {node.op})")
    if inside:
        after = [f"{name}:0" for name in _sinks(roles)] + discarded_loop_results(roles)
        raise SourceError(
            f"{source}: outputs {inside} are internals of a TF1 while-loop, which the "
            "export turns into one recurrent node, so they cannot be outputs; ask for a "
            f"tensor after the loop instead (the loop's results here: {after})"
        )


_FUNCTIONAL_WHILE_OPS = ("While", "StatelessWhile")
TF1_LOOP_ADVICE = (
    "build the graph again with tf.compat.v1.disable_control_flow_v2() called before it is "
    "built, and save it again: its dynamic_rnn then is a TF1 while-loop that converts into one "
    "fused ONNX LSTM/GRU"
)


def refuse_tensor_list_loops(graph_def: tf.compat.v1.GraphDef, source: str, advice: str) -> None:
    """Raise ``SourceError`` when ``graph_def`` holds TF2 control flow (``While`` with
    ``TensorList`` ops, lowered or not), which converts into no recurrent ONNX node."""
    loops = {n.name for n in graph_def.node if n.op in _FUNCTIONAL_WHILE_OPS}
    lists = [n.name for n in graph_def.node if n.op.startswith("TensorList")]
    loops |= {name.partition("/while/")[0] + "/while" for name in lists if "/while/" in name}
    if not loops and not lists:
        return
    named = sorted(loops) or sorted(lists)[:3]
    raise SourceError(
        f"{source}: TF2 control flow found, node(s) {named} (While or StatelessWhile with "
        "TensorList ops): tf2onnx leaves their TensorList ops unconverted (or, unlowered, "
        "writes an ONNX Loop, which the torch import refuses), so no recurrent node comes "
        f"out of it. To convert the model, {advice}"
    )


class GraphRoles:
    """What each node of a TF1 graph serves: data, training, control flow (see above)."""

    def __init__(self, graph_def: tf.compat.v1.GraphDef, excluded_scopes: Iterable[str] = ()):
        self.graph_def = graph_def
        self.nodes = {node.name: node for node in graph_def.node}
        self.placeholders = [n for n, node in self.nodes.items() if node.op in PLACEHOLDER_OPS]
        self.fed = _reached_from(self.nodes, self.placeholders)
        self.training = training_nodes(self.nodes, self.fed)
        self.in_frame = _while_frames(self.nodes)
        scopes = tuple(scope.rstrip("/") + "/" for scope in excluded_scopes if scope)
        self.consumed = {
            _producer(name)
            for node in graph_def.node
            if node.name not in self.training
            for name in node.input
        }
        self.forward = {
            name
            for name, node in self.nodes.items()
            if name in self.fed
            and name not in self.training
            and name not in self.in_frame
            and node.op not in _NOT_RESULTS
            and node.op not in CONTROL_FLOW_OPS
            and not name.startswith(scopes)
        }
        """Nodes that can be a model's result, consumed or not."""


def discarded_loop_results(roles: GraphRoles) -> list[str]:
    """The float results of while-loops that nothing consumes (``is_loop_result``)."""
    return [
        f"{name}:0"
        for name, node in roles.nodes.items()
        if is_loop_result(node, roles.nodes)
        and name in roles.fed
        and name not in roles.consumed
        and name not in roles.training
    ]


def _log_discarded_loop_results(roles: GraphRoles) -> None:
    results = discarded_loop_results(roles)
    if results:
        logger.info(
            "while-loop results nothing consumes (such as an RNN's final state): %s; no "
            "default outputs, name them with --outputs to convert them",
            ", ".join(results),
        )


def is_loop_result(node: tf.compat.v1.NodeDef, nodes: Mapping[str, tf.compat.v1.NodeDef]) -> bool:
    """A float ``Exit``: a value a TF1 while-loop returns, such as an RNN's final state; not
    the loop counter, nor a TensorArray's flow (``Exit`` <- ``Switch`` <- ``Merge`` <-
    ``Enter`` of a ``TensorArrayV3``'s flow output)."""
    if node.op not in _LOOP_EXITS or not tf.dtypes.as_dtype(node.attr["T"].type).is_floating:
        return False
    switch = nodes.get(_producer(node.input[0]))
    merge = nodes.get(_producer(switch.input[0])) if switch is not None else None
    entries = [nodes.get(_producer(name)) for name in merge.input] if merge is not None else []
    for enter in entries:
        if enter is not None and enter.op in ("Enter", "RefEnter"):
            source = nodes.get(_producer(enter.input[0]))
            if source is not None and source.op.startswith("TensorArray"):
                return False
    return True


def _sinks(roles: GraphRoles) -> list[str]:
    """The forward nodes no other non-training node consumes, in graph order."""
    return [n.name for n in roles.graph_def.node if n.name in roles.forward - roles.consumed]


def _candidates(roles: GraphRoles, losses: list[str]) -> list[str]:
    """Forward nodes that feed ``losses``: those fed by the fewest placeholders first (not
    by the labels), then ``Identity`` (named) ones, then the nearest to the loss."""
    order: list[str] = []
    frontier = list(losses)
    while frontier:
        name = frontier.pop(0)
        for entry in roles.nodes[name].input:
            producer = _producer(entry)
            if entry.startswith("^") or producer not in roles.forward or producer in order:
                continue
            order.append(producer)
            frontier.append(producer)
    reach = [_reached_from(roles.nodes, [name]) for name in roles.placeholders]

    def rank(index: int) -> tuple[int, bool, int]:
        name = order[index]
        feeding = sum(name in reached for reached in reach)
        return feeding, roles.nodes[name].op != "Identity", index

    return [order[index] for index in sorted(range(len(order)), key=rank)[:_MAX_CANDIDATES]]


def _describe(graph_def: tf.compat.v1.GraphDef, names: list[str]) -> list[TensorDescription]:
    """Every numeric output of the nodes ``names``."""
    if not names:
        return []
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    results = []
    for name in names:
        for tensor in graph.get_operation_by_name(name).outputs:
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


def _reached_from(nodes: Mapping[str, tf.compat.v1.NodeDef], starts: list[str]) -> set[str]:
    """The names of the nodes ``starts`` reach through data inputs, not through shape ops."""
    consumers: dict[str, list[str]] = {}
    for node in nodes.values():
        for name in node.input:
            if not name.startswith("^"):
                consumers.setdefault(_producer(name), []).append(node.name)
    reached: set[str] = set()
    frontier = list(starts)
    while frontier:
        name = frontier.pop()
        if name in reached or nodes[name].op in _SHAPE_OPS:
            continue
        reached.add(name)
        frontier += consumers.get(name, [])
    return reached


def _while_frames(nodes: Mapping[str, tf.compat.v1.NodeDef]) -> set[str]:
    """The nodes inside a TF1 while frame: reached from an ``Enter`` before an ``Exit``."""
    consumers: dict[str, list[str]] = {}
    for node in nodes.values():
        for name in node.input:
            consumers.setdefault(_producer(name), []).append(node.name)
    inside: set[str] = set()
    frontier = [name for name, node in nodes.items() if node.op in ("Enter", "RefEnter")]
    while frontier:
        name = frontier.pop()
        if name in inside or nodes[name].op in ("Exit", "RefExit"):
            continue
        inside.add(name)
        frontier += consumers.get(name, [])
    return inside
