"""How tf2onnx converts a GraphDef: its public steps, taken one by one.

``tf2onnx.convert.from_graph_def`` runs three public steps: Grappler
(``tf_loader.tf_optimize``), ``tfonnx.process_tf_graph`` with our handlers, then
``optimizer.optimize_graph``. They are called here one by one, for two reasons:

- **TF1 while-loops skip Grappler.** Its constant folding moves each constant behind an
  ``Enter`` into the loop frame as a ``Const`` of its own. tf2onnx 1.17's LSTM and GRU
  rewriters look for the cell's kernel behind an ``Enter``, so after that pass they match
  nothing, and every TF1 ``LSTMCell``, ``BasicLSTMCell``, ``GRUCell`` or ``LSTMBlockCell``
  under ``dynamic_rnn`` would become a generic ``Scan`` instead of one fused node. A graph
  with ``Enter`` nodes therefore goes to ``process_tf_graph`` as it is.
- **The ONNX optimizers run without a deep copy per pass.** ``from_graph_def`` lets
  ``optimize_graph`` deep-copy the whole graph before every optimizer of every iteration (to
  restore it if one fails). With 128 MiB of weights that held about 7 GB at once. Here the
  graph is copied once; only if an optimizer fails is that copy optimized the careful way.

A TF1 LSTM cell loop whose activation is not tanh first has it rewritten so that tf2onnx's
LSTM rewriter cannot match it and drop it (``pipeline.tf_to_onnx.lstm_activations``).

``process_tf_graph`` also gets our rewriter of TF1 cell loops through its public
``custom_rewriter`` hook (``pipeline.tf_to_onnx.tf1_cells``): it turns the Scans tf2onnx's
LSTM and GRU rewriters leave behind (a peephole ``LSTMCell``, a ``MultiRNNCell`` of
``GRUCell``s) into one fused node per layer wherever that is exact.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
from collections.abc import Callable
from functools import partial

import onnx
import tensorflow as tf
from tf2onnx import optimizer, tf_loader, tfonnx

from pipeline.tf_to_onnx.lstm_activations import hide_non_tanh_lstm_activations
from pipeline.tf_to_onnx.tf1_cells.rewriter import rewrite_tf1_cell_scans

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
    scan_reasons: dict[str, str] | None = None,
) -> onnx.ModelProto:
    """Convert ``graph_def`` with tf2onnx; see the module docstring for the steps taken.

    ``scan_reasons``, when given, receives why our TF1 cell rewriter kept each Scan it kept.
    """
    if holds_tf1_while_loops(graph_def):
        graph_def = hide_non_tanh_lstm_activations(graph_def)
        logger.debug("TF1 while-loops found: converting without tf2onnx's Grappler pass")
    else:
        with tf.Graph().as_default():
            graph_def = tf_loader.tf_optimize(input_names, output_names, graph_def)
    # NOTE: tf2onnx's GRU rewriter prints each weight's shape to stdout; it goes to the log.
    printed = io.StringIO()
    with tf.Graph().as_default() as tf_graph, contextlib.redirect_stdout(printed):
        tf.import_graph_def(graph_def, name="")
        # NOTE: continue_on_error as from_graph_def sets it, so that every op tf2onnx cannot
        # convert is left in place for export.py to list at once.
        graph = tfonnx.process_tf_graph(
            tf_graph,
            continue_on_error=True,
            input_names=input_names,
            output_names=output_names,
            opset=opset,
            custom_op_handlers=custom_op_handlers,
            custom_rewriter=[partial(rewrite_tf1_cell_scans, stayed=scan_reasons)],
            shape_override=shape_override,
        )
    if printed.getvalue():
        logger.debug("tf2onnx printed: %s", printed.getvalue().strip())
    graph = _optimize(graph)
    return graph.make_model("converted from a TF1 GraphDef")


def _optimize(graph):
    """tf2onnx's ONNX optimizers over ``graph``; a failing one is skipped, as tf2onnx does."""
    backup = copy.deepcopy(graph)
    try:
        return optimizer.optimize_graph(graph, catch_errors=False)
    except Exception as error:  # tf2onnx's own fallback: skip the optimizer that failed
        logger.warning("a tf2onnx optimizer failed (%r); optimizing again, skipping it", error)
        return optimizer.optimize_graph(backup, catch_errors=True)
