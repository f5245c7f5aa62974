"""TF ``GRUBlockCell`` (one step, outside any loop) to one ONNX ``GRU`` step.

The op (``shared/docs/rnn-semantics.md`` §2) has no attributes::

    GRUBlockCell(x [B, I], h_prev [B, H], w_ru [I+H, 2H], w_c [I+H, H], b_ru [2H], b_c [H])
        -> r, u, c, h                                        # each [B, H]

    r, u = split(sigmoid([x, h_prev] @ w_ru + b_ru))         # r first, then u
    c    = tanh([x, r * h_prev] @ w_c + b_c)                 # reset before the matmul
    h    = u * h_prev + (1 - u) * c

``h`` is one step of ONNX ``GRU`` with ``linear_before_reset=0`` (TF's ``u`` is ONNX's
``z``), ``W, R, B`` from ``tf1_cells.gru_cell.onnx_gru_weights``::

    _, Y_h = GRU(X=x[None], W, R, B, initial_h=h_prev[None])   # Y_h [1, B, H]
    h = squeeze(Y_h, 0)

ONNX ``GRU`` hides its gates, so ``r``, ``u`` and ``c`` are written as the primitive ops
above, each only where the graph reads it. Every output keeps its TF tensor name.
"""

from __future__ import annotations

import logging

import numpy as np
from tf2onnx import utils
from tf2onnx.graph import Graph, Node

from pipeline.errors import NoExactConversionError
from pipeline.tf_to_onnx.constants import required_const
from pipeline.tf_to_onnx.records import ExportLog, RecurrentNodeRecord
from pipeline.tf_to_onnx.tf1_cells.gru_cell import onnx_gru_weights
from pipeline.tf_to_onnx.tf1_cells.names import GRU_BLOCK_STEP_PATH

logger = logging.getLogger(__name__)

OP = "GRUBlockCell"
OUTPUTS = ("r", "u", "c", "h")


def convert_gru_block_cell(ctx: Graph, node: Node, log: ExportLog) -> None:
    """Replace ``node`` by one ONNX ``GRU`` step, plus the ops of the gates the graph reads."""
    try:
        record = _convert(ctx, node)
    except NoExactConversionError as error:
        log.refusals.append(str(error))
        raise
    log.nodes.append(record)
    logger.info("%s %s -> %s (%s)", OP, node.name, record.path, record.reason)


def _convert(ctx: Graph, node: Node) -> RecurrentNodeRecord:
    x, h_prev, w_ru, w_c, b_ru, b_c = node.input
    weights = {
        name: required_const(ctx, node, OP, index, name)
        for index, name in ((2, "w_ru"), (3, "w_c"), (4, "b_ru"), (5, "b_c"))
    }
    hidden_size = _check_shapes(node, **weights)
    read = [
        name for name, tensor in zip(OUTPUTS, node.output, strict=True) if _is_read(ctx, tensor)
    ]
    outputs = {name: node.output[OUTPUTS.index(name)] for name in read}
    dtype = ctx.get_dtype(x)
    shapes = {name: ctx.get_shape(tensor) for name, tensor in outputs.items()}
    ctx.remove_node(node.name)

    scope = node.name
    if "h" in outputs:
        _gru_step(ctx, scope, x, h_prev, weights, hidden_size, outputs["h"])
    if {"r", "u", "c"} & set(outputs):
        _gate_ops(ctx, scope, x, h_prev, (w_ru, w_c, b_ru, b_c), hidden_size, outputs)
    for name, tensor in outputs.items():
        ctx.set_dtype(tensor, dtype)
        ctx.set_shape(tensor, shapes[name])

    gates = [name for name in read if name != "h"]
    reason = "h is one ONNX GRU step (linear_before_reset=0), exact; " + (
        f"the gates {gates} it hides are read, so they have ops of their own"
        if gates
        else "its gates are unread"
    )
    return RecurrentNodeRecord(node=node.name, op=OP, path=GRU_BLOCK_STEP_PATH, reason=reason)


def _check_shapes(
    node: Node, w_ru: np.ndarray, w_c: np.ndarray, b_ru: np.ndarray, b_c: np.ndarray
) -> int:
    """``H``, after checking the four weights against one another."""
    hidden_size = b_c.shape[0] if b_c.ndim == 1 else -1
    rows = w_c.shape[0] if w_c.ndim == 2 else -1
    expected = {
        "w_ru": (rows, 2 * hidden_size),
        "w_c": (rows, hidden_size),
        "b_ru": (2 * hidden_size,),
    }
    found = {"w_ru": w_ru.shape, "w_c": w_c.shape, "b_ru": b_ru.shape}
    if hidden_size <= 0 or rows <= hidden_size or found != expected:
        raise NoExactConversionError(
            f"{OP} node {node.name!r}: expected w_ru [I+H, 2H], w_c [I+H, H], b_ru [2H] and "
            f"b_c [H], received {found} and b_c {b_c.shape}"
        )
    return int(hidden_size)


def _is_read(ctx: Graph, tensor: str) -> bool:
    return bool(ctx.find_output_consumers(tensor)) or tensor in ctx.outputs


def _gru_step(
    ctx: Graph,
    scope: str,
    x: str,
    h_prev: str,
    weights: dict[str, np.ndarray],
    hidden_size: int,
    h: str,
) -> None:
    W, R, B = onnx_gru_weights(weights["w_ru"], weights["b_ru"], weights["w_c"], weights["b_c"])
    inputs = [_unsqueeze(ctx, scope, x)]
    weights_in = zip("WRB", (W, R, B), strict=True)
    inputs += [_const(ctx, f"{scope}/{name}", value) for name, value in weights_in]
    inputs += [utils.ONNX_EMPTY_INPUT, _unsqueeze(ctx, scope, h_prev)]
    gru = ctx.make_node(
        "GRU",
        inputs,
        attr={"hidden_size": hidden_size, "linear_before_reset": 0},
        output_count=2,
        op_name_scope=scope,
    )
    ctx.make_node(
        "Squeeze", [gru.output[1], _const(ctx, f"{scope}/axes", np.array([0]))], outputs=[h]
    )


def _gate_ops(
    ctx: Graph,
    scope: str,
    x: str,
    h_prev: str,
    weights: tuple[str, str, str, str],
    hidden_size: int,
    outputs: dict[str, str],
) -> None:
    """``r, u`` as Split(Sigmoid(...)), and ``c`` where it is read, named as TF named them."""
    w_ru, w_c, b_ru, b_c = weights

    def make(op_type: str, inputs: list[str], **kwargs) -> Node:
        return ctx.make_node(op_type, inputs, op_name_scope=scope, **kwargs)

    def dense(operand: str, kernel: str, bias: str) -> str:
        xh = make("Concat", [x, operand], attr={"axis": 1}).output[0]
        return make("Add", [make("MatMul", [xh, kernel]).output[0], bias]).output[0]

    gates = make("Sigmoid", [dense(h_prev, w_ru, b_ru)]).output[0]
    split = _const(ctx, f"{scope}/split", np.array([hidden_size, hidden_size]))
    r_name = outputs.get("r") or utils.make_name(f"{scope}/r") + ":0"
    u_name = outputs.get("u") or utils.make_name(f"{scope}/u") + ":0"
    make("Split", [gates, split], attr={"axis": 1}, outputs=[r_name, u_name])
    if "c" in outputs:
        reset_h = make("Mul", [r_name, h_prev]).output[0]
        make("Tanh", [dense(reset_h, w_c, b_c)], outputs=[outputs["c"]])


def _unsqueeze(ctx: Graph, scope: str, tensor: str) -> str:
    axes = _const(ctx, f"{scope}/axes", np.array([0]))
    return ctx.make_node("Unsqueeze", [tensor, axes], op_name_scope=scope).output[0]


def _const(ctx: Graph, name: str, value: np.ndarray) -> str:
    return ctx.make_const(utils.make_name(name), value).output[0]
