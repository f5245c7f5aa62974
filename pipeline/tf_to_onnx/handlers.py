"""The one place where our tf2onnx handlers are registered.

They reach tf2onnx through the public ``custom_op_handlers`` argument of
``tf2onnx.convert.from_graph_def``: ``{tf_op_type: (function, args)}``, where tf2onnx calls
``function(ctx, node, name, args)``. Nothing is registered as an import side effect.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from tf2onnx.graph import Graph, Node

from pipeline.tf_to_onnx.block_lstm import convert_block_lstm
from pipeline.tf_to_onnx.gru_block_cell import convert_gru_block_cell
from pipeline.tf_to_onnx.records import ExportLog

Handler = Callable[[Graph, Node, ExportLog], None]

HANDLERS: dict[str, Handler] = {
    "BlockLSTM": convert_block_lstm,
    "BlockLSTMV2": convert_block_lstm,
    "GRUBlockCell": convert_gru_block_cell,
}


def custom_op_handlers(log: ExportLog) -> dict[str, tuple[Callable, list]]:
    """Bind every handler to ``log`` in the form ``from_graph_def`` takes."""
    return {op: (partial(_call, handler, log), []) for op, handler in HANDLERS.items()}


def _call(handler: Handler, log: ExportLog, ctx: Graph, node: Node, name: str, args: list) -> None:
    handler(ctx, node, log)
