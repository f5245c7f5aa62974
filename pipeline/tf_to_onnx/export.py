"""Drive tf2onnx on a frozen GraphDef, and fail loudly where it would fail quietly.

tf2onnx logs "not supported" for ops it cannot convert, or for handlers that raised, then
still returns a model that holds the TensorFlow op. Here the conversion fails instead, with
one message that lists every such node, and nothing is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import onnx
import tf2onnx

from pipeline.errors import NoExactConversionError, UnsupportedOpsError
from pipeline.recurrent import block_lstm_op
from pipeline.tf_to_onnx.block_lstm_function import block_lstm_function
from pipeline.tf_to_onnx.handlers import custom_op_handlers
from pipeline.tf_to_onnx.length_zero import keep_initial_state_at_length_zero
from pipeline.tf_to_onnx.records import ExportLog, RecurrentNodeRecord
from pipeline.tf_to_onnx.tf1_cells import names as tf1_cell_names
from pipeline.tf_to_onnx.tf2onnx_entry import convert_graph_def

logger = logging.getLogger(__name__)

MIN_OPSET = 14
MAX_OPSET = max(tf2onnx.constants.OPSET_TO_IR_VERSION)
_RECURRENT_OPS = ("LSTM", "GRU", "RNN", "Scan", "Loop")


@dataclass(frozen=True)
class ExportResult:
    model: onnx.ModelProto
    recurrent_nodes: list[RecurrentNodeRecord]


def export_graph_def(
    graph_def,  # tf.compat.v1.GraphDef
    input_names: list[str],
    output_names: list[str],
    opset: int,
    input_shapes: dict[str, list[int]] | None = None,
) -> ExportResult:
    """Convert ``graph_def`` to ONNX with our recurrent handlers registered."""
    check_opset(opset)
    log = ExportLog()
    scan_reasons: dict[str, str] = {}
    with tf2onnx_errors_reported_by_us():
        model = convert_graph_def(
            graph_def,
            input_names,
            output_names,
            opset,
            custom_op_handlers(log),
            input_shapes or None,
            scan_reasons,
        )
    check_export(model, log, _graph_hint)
    _add_exact_op_functions(model, opset)
    keep_initial_state_at_length_zero(model.graph, tuple(record.node for record in log.nodes))
    logger.info("exported %d ONNX nodes at opset %d", len(model.graph.node), opset)
    return ExportResult(
        model=model,
        recurrent_nodes=log.nodes + _tf2onnx_recurrent_nodes(model, log, scan_reasons),
    )


_PIN_HINT = (
    "If an op only serves training (dropout fed by keep_prob), pin its input to a constant "
    "with --pin NAME:0=VALUE or an input's 'value:' in the config."
)
_TENSOR_LIST_HINT = (
    "TensorList ops come from TF2 control flow (a While loop): build a TF1-style graph again "
    "with tf.compat.v1.disable_control_flow_v2() before the recurrent layers, or convert a "
    "Keras model from its .keras/.h5 file, whose layers become fused nodes."
)


def _graph_hint(op_types: set[str]) -> str:
    """What a user can do about the ops tf2onnx left unconverted in a TF graph."""
    if any(op.startswith("TensorList") for op in op_types):
        return _TENSOR_LIST_HINT
    return _PIN_HINT


def check_opset(opset: int) -> None:
    """Refuse an opset without LSTM's ``layout`` or past the last one tf2onnx writes."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise NoExactConversionError(
            f"opset {opset} is outside {MIN_OPSET}..{MAX_OPSET}: {MIN_OPSET} is the first with "
            f"LSTM 'layout', {MAX_OPSET} the last tf2onnx {tf2onnx.__version__} writes; use "
            f"--opset {MIN_OPSET}..{MAX_OPSET}"
        )


def check_export(model: onnx.ModelProto, log: ExportLog, hint: Callable[[set[str]], str]) -> None:
    """Raise for what our handlers refused, then for every op tf2onnx left unconverted.

    ``hint`` says, from the unconverted op types, what the user can do about them.
    """
    if log.refusals:
        raise NoExactConversionError("\n".join(log.refusals))
    unconverted = sorted(set(_unconverted_nodes(model.graph)))
    if unconverted:
        listing = ", ".join(f"{op} (node {name!r})" for op, name in unconverted)
        raise UnsupportedOpsError(
            f"tf2onnx could not convert {len(unconverted)} node(s): {listing}. No ONNX file was "
            f"written. {hint({op for op, _ in unconverted})}"
        )


def _tf2onnx_recurrent_nodes(
    model: onnx.ModelProto, log: ExportLog, scan_reasons: dict[str, str]
) -> list[RecurrentNodeRecord]:
    """Records for the recurrent nodes the rewriters wrote: tf2onnx's, and our TF1 cells'.

    A Scan our TF1 cell rewriter kept has the reason it gave (``scan_reasons``, by name).
    """
    ours = tuple(record.node for record in log.nodes)
    records = []
    for node in model.graph.node:
        if node.domain or node.op_type not in _RECURRENT_OPS or node.name.startswith(ours):
            continue
        tf1_cell = tf1_cell_names.cell_of(node.name)
        if tf1_cell is not None:
            path = f"fused ONNX {node.op_type} ({tf1_cell_names.PATH})"
            reason = tf1_cell_names.REASONS[tf1_cell]
        elif node.op_type in ("Scan", "Loop"):
            path = f"ONNX {node.op_type} (tf2onnx's loop rewriter)"
            reason = scan_reasons.get(
                node.name,
                "neither tf2onnx nor our TF1 cell rewriter matched a fused ONNX op to this "
                "while-loop; its body is kept as is, which is exact",
            )
        else:
            path = f"fused ONNX {node.op_type} (tf2onnx's rewriter)"
            reason = "tf2onnx matched the cell's pattern"
        records.append(RecurrentNodeRecord(node.name, node.op_type, path, reason))
    return records


def _add_exact_op_functions(model: onnx.ModelProto, opset: int) -> None:
    """Give a model that uses ``tfrnn.BlockLSTM`` the op's definition and its domain."""
    if not any(node.domain == block_lstm_op.DOMAIN for node in model.graph.node):
        return
    model.functions.append(block_lstm_function(opset))
    imports = {entry.domain: entry for entry in model.opset_import}
    if block_lstm_op.DOMAIN not in imports:
        model.opset_import.append(
            onnx.helper.make_opsetid(block_lstm_op.DOMAIN, block_lstm_op.VERSION)
        )


def _unconverted_nodes(graph: onnx.GraphProto) -> Iterator[tuple[str, str]]:
    """Nodes whose op is no registered ONNX operator: TF ops tf2onnx left in place."""
    for node in graph.node:
        if (node.domain, node.op_type) == (block_lstm_op.DOMAIN, block_lstm_op.OP_TYPE):
            continue
        if not onnx.defs.has(node.op_type, node.domain or onnx.defs.ONNX_DOMAIN):
            yield node.op_type, node.name
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _unconverted_nodes(attribute.g)
            for subgraph in attribute.graphs:
                yield from _unconverted_nodes(subgraph)


@contextmanager
def tf2onnx_errors_reported_by_us() -> Iterator[None]:
    """Keep tf2onnx's and TensorFlow's chatter at DEBUG.

    tf2onnx logs at ERROR what this module raises anyway, and TensorFlow warns that the
    TF1 APIs tf2onnx calls are deprecated; neither helps a user of this tool.
    """
    noisy = [logging.getLogger(name) for name in ("tf2onnx", "tensorflow")]
    levels = [each.level for each in noisy]
    if not logger.isEnabledFor(logging.DEBUG):
        for each in noisy:
            each.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for each, level in zip(noisy, levels, strict=True):
            each.setLevel(level)
