"""Which tf2onnx entry converts a GraphDef, and why TF1 while-loops take the other one.

``tf2onnx.convert.from_graph_def`` first runs Grappler over the graph. Its constant folding
moves each constant behind an ``Enter`` into the loop frame as a ``Const`` of its own. tf2onnx
1.17's LSTM and GRU rewriters look for the cell's kernel behind an ``Enter``, so after that
pass they match nothing, and every TF1 ``LSTMCell``, ``BasicLSTMCell``, ``GRUCell`` or
``LSTMBlockCell`` under ``dynamic_rnn`` becomes a generic ``Scan`` instead of one fused
``LSTM``/``GRU`` node.

A graph that holds TF1 while-loops (``Enter`` nodes) is therefore given to tf2onnx's public
lower-level API without that Grappler pass: ``tfonnx.process_tf_graph``, then
``optimizer.optimize_graph`` and ``make_model``, the same steps ``from_graph_def`` takes after
Grappler. Every other graph goes through ``from_graph_def`` unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import onnx
import tensorflow as tf
import tf2onnx
from tf2onnx import optimizer, tfonnx

logger = logging.getLogger(__name__)

WHILE_LOOP_OPS = ("Enter",)


def holds_tf1_while_loops(graph_def) -> bool:
    """True when ``graph_def`` (a ``tf.compat.v1.GraphDef``) holds TF1 control flow loops."""
    return any(node.op in WHILE_LOOP_OPS for node in graph_def.node)


def convert_graph_def(
    graph_def,
    input_names: list[str],
    output_names: list[str],
    opset: int,
    custom_op_handlers: dict[str, tuple[Callable, list]],
    shape_override: dict[str, list[int]] | None,
) -> onnx.ModelProto:
    """Convert ``graph_def`` with tf2onnx; see the module docstring for the entry taken."""
    options = {
        "input_names": input_names,
        "output_names": output_names,
        "opset": opset,
        "custom_op_handlers": custom_op_handlers,
        "shape_override": shape_override,
    }
    if not holds_tf1_while_loops(graph_def):
        model, _ = tf2onnx.convert.from_graph_def(graph_def, **options)
        return model
    logger.debug("TF1 while-loops found: converting without tf2onnx's Grappler pass")
    with tf.Graph().as_default() as tf_graph:
        tf.import_graph_def(graph_def, name="")
        # NOTE: continue_on_error as from_graph_def sets it, so that every op tf2onnx cannot
        # convert is left in place for export.py to list at once.
        graph = tfonnx.process_tf_graph(tf_graph, continue_on_error=True, **options)
    graph = optimizer.optimize_graph(graph)
    return graph.make_model("converted from a TF1 GraphDef")
