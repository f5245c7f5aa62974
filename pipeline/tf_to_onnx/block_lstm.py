"""TF ``BlockLSTM`` / ``BlockLSTMV2`` to one ONNX ``LSTM`` node wherever that is exact.

The fused op (``shared/docs/rnn-semantics.md`` §2) is time-major::

    BlockLSTM(seq_len_max, x [T, B, I], cs_prev [B, H], h_prev [B, H],
              w [I+H, 4H], wci [H], wcf [H], wco [H], b [4H]) -> i, cs, f, o, ci, co, h

with every output ``[T, B, H]``. It becomes::

    Y, Y_h, Y_c = LSTM(X=x, W, R, B, sequence_lens, initial_h=h_prev[None],
                       initial_c=cs_prev[None], P)          # Y [T, 1, B, H], layout 0

- ``W, R, B, P`` come from ``pipeline.recurrent.lstm.fused_kernel_to_onnx``, which folds
  ``forget_bias`` into the forget block of ``B``;
- ``h = squeeze(Y, 1)``. With ``seq_len_max = K < T``, ``sequence_lens = [K] * B`` makes
  ``Y`` zero from step K on, as TF's ``h``;
- ``cs`` may be read only at its last step, which equals ``Y_c`` when ``K == T`` and is zero
  when ``K < T`` (TF does not compute those steps). Each consumer of ``cs`` is checked to be
  a ``StridedSlice`` reading step ``T - 1`` alone; it is fed ``Y_c`` as a one-step sequence
  ``[1, B, H]`` and set to read its step ``-1``.

Where one ``LSTM`` node is not exact, the node becomes our exact op ``tfrnn.BlockLSTM``
instead (``block_lstm_exact``): for ``cell_clip > 0`` (ONNX ``clip`` bounds gate inputs, not
the cell state), and for any read of ``i, f, o, ci, co`` or of ``cs`` before its last step.
The record of each node says which path it took and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from onnx import TensorProto
from tf2onnx import utils
from tf2onnx.graph import Graph, Node

from pipeline.errors import NoExactConversionError
from pipeline.recurrent.lstm import fused_kernel_to_onnx
from pipeline.tf_to_onnx.block_lstm_exact import ExactOpWeights, convert_to_exact_op
from pipeline.tf_to_onnx.constants import const_value, required_const
from pipeline.tf_to_onnx.records import EXACT_PATH, FUSED_PATH, ExportLog, RecurrentNodeRecord

logger = logging.getLogger(__name__)

FUSED_OUTPUTS = ("i", "cs", "f", "o", "ci", "co", "h")
GATE_OUTPUTS = ("i", "f", "o", "ci", "co")


@dataclass(frozen=True)
class _OpVariant:
    gate_order: str
    forget_bias: float
    cell_clip: float


# Attribute defaults when a NodeDef leaves them out (rnn-semantics §2).
VARIANTS = {
    "BlockLSTM": _OpVariant(gate_order="tf_block_lstm", forget_bias=1.0, cell_clip=3.0),
    "BlockLSTMV2": _OpVariant(gate_order="tf_block_lstm2", forget_bias=0.0, cell_clip=0.0),
}


def convert_block_lstm(ctx: Graph, node: Node, log: ExportLog) -> None:
    """Replace ``node`` by one ONNX ``LSTM`` node where exact, else by the exact op."""
    op = node.type
    try:
        record = _convert(ctx, node, op)
    except NoExactConversionError as error:
        log.refusals.append(str(error))
        raise
    log.nodes.append(record)
    logger.info("%s %s -> %s (%s)", op, node.name, record.path, record.reason)


def _convert(ctx: Graph, node: Node, op: str) -> RecurrentNodeRecord:
    variant = VARIANTS[op]
    forget_bias = (
        0.0
        if op == "BlockLSTMV2"
        else float(node.get_attr_value("forget_bias", variant.forget_bias))
    )
    cell_clip = float(node.get_attr_value("cell_clip", variant.cell_clip))
    use_peephole = bool(node.get_attr_value("use_peephole", False))
    steps = _static_dim(ctx, node.input[1], 0)
    seq_len_max = const_value(node.inputs[0])
    if seq_len_max is not None and steps is not None and int(seq_len_max) > steps:
        raise NoExactConversionError(
            f"{op} node {node.name!r}: seq_len_max={int(seq_len_max)} exceeds the {steps} "
            "steps of x; TensorFlow aborts on such a graph. Feed seq_len_max <= T."
        )
    blockers = _fused_blockers(ctx, node, cell_clip, steps)
    if blockers:
        weights = ExactOpWeights.read(ctx, node, op, variant.gate_order, forget_bias, use_peephole)
        convert_to_exact_op(ctx, node, weights, cell_clip)
        return RecurrentNodeRecord(
            node=node.name, op=op, path=EXACT_PATH, reason="; ".join(blockers)
        )

    full_length = seq_len_max is not None and steps is not None and int(seq_len_max) == steps
    reads_cs = bool(_consumers(ctx, node, "cs"))
    Y, Y_c = _make_lstm_node(ctx, node, op, variant, forget_bias, use_peephole, full_length)
    h = _make(ctx, "Squeeze", [Y, _int64(ctx, node, [1])])
    _replace_output(ctx, node.output[6], h)
    if reads_cs:
        cs_last = _make(ctx, "Squeeze", [Y_c, _int64(ctx, node, [0])])
        if not full_length:
            cs_last = _zero_unless_full_length(ctx, node, cs_last, steps)
        _feed_last_step_readers(ctx, node, _unsqueeze(ctx, node, cs_last))

    reason = "cell_clip off; gates unread; " + (
        "cs read at its last step only" if reads_cs else "cs unread"
    )
    return RecurrentNodeRecord(node=node.name, op=op, path=FUSED_PATH, reason=reason)


def _fused_blockers(ctx: Graph, node: Node, cell_clip: float, steps: int | None) -> list[str]:
    """Why one ONNX ``LSTM`` node would not be exact; empty when it would be."""
    blockers = []
    if cell_clip > 0:
        blockers.append(
            f"cell_clip={cell_clip:g} clips the carried cell state (ONNX LSTM's clip bounds "
            "the gate pre-activations instead)"
        )
    read = [name for name in GATE_OUTPUTS if _consumers(ctx, node, name)]
    if read:
        blockers.append(f"the graph reads the gate outputs {read}, which ONNX LSTM hides")
    for consumer in _consumers(ctx, node, "cs"):
        if not _reads_last_step_only(consumer, steps):
            blockers.append(
                f"{consumer.type} node {consumer.name!r} reads the cell-state sequence cs "
                "before its last step; ONNX LSTM exposes only the final cell state"
            )
    exposed = [
        name
        for name, output in zip(FUSED_OUTPUTS, node.output, strict=True)
        if output in ctx.outputs
    ]
    if exposed:
        blockers.append(f"outputs {exposed} are graph outputs themselves")
    return blockers


def _make_lstm_node(
    ctx: Graph,
    node: Node,
    op: str,
    variant: _OpVariant,
    forget_bias: float,
    use_peephole: bool,
    full_length: bool,
) -> tuple[str, str]:
    seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b = node.input
    kernel = required_const(ctx, node, op, 4, "w")
    bias = required_const(ctx, node, op, 8, "b")
    hidden_size = kernel.shape[1] // 4
    peepholes = None
    if use_peephole:
        peepholes = tuple(
            required_const(ctx, node, op, index, name)
            for index, name in ((5, "wci"), (6, "wcf"), (7, "wco"))
        )
    weights = fused_kernel_to_onnx(
        kernel,
        bias,
        input_size=kernel.shape[0] - hidden_size,
        gate_order=variant.gate_order,
        forget_bias=forget_bias,
        peepholes=peepholes,
    )
    inputs = [x] + [
        ctx.make_const(utils.make_name(f"{node.name}/{name}"), value).output[0]
        for name, value in (("W", weights.W), ("R", weights.R), ("B", weights.B))
    ]
    inputs.append("" if full_length else _sequence_lens(ctx, node, seq_len_max, x))
    inputs.append(_initial_state(ctx, node, 3))
    inputs.append(_initial_state(ctx, node, 2))
    if weights.P is not None and np.any(weights.P):
        inputs.append(ctx.make_const(utils.make_name(f"{node.name}/P"), weights.P).output[0])
    while inputs[-1] == "":
        inputs.pop()
    lstm = ctx.make_node(
        "LSTM",
        inputs,
        attr={"hidden_size": hidden_size},
        output_count=3,
        op_name_scope=node.name,
        dtypes=[ctx.get_dtype(x)] * 3,
    )
    return lstm.output[0], lstm.output[2]


def _reads_last_step_only(consumer: Node, steps: int | None) -> bool:
    """True for ``cs[-1]`` (or ``cs[T-1]``): a StridedSlice shrinking axis 0 at the end."""
    if consumer.type != "StridedSlice" or consumer.input[0] == consumer.input[1]:
        return False
    bounds = [const_value(consumer.inputs[k]) for k in (1, 2, 3)]
    if any(value is None or value.ndim != 1 for value in bounds):
        return False
    begin, _, strides = (int(value[0]) for value in bounds)
    masks = {
        name: int(consumer.get_attr_value(name, 0))
        for name in ("begin_mask", "shrink_axis_mask", "ellipsis_mask", "new_axis_mask")
    }
    last = begin == -1 or (steps is not None and begin == steps - 1)
    return (
        last
        and strides == 1
        and masks["shrink_axis_mask"] & 1
        and not masks["begin_mask"] & 1
        and not masks["ellipsis_mask"]
        and not masks["new_axis_mask"] & 1
    )


def _feed_last_step_readers(ctx: Graph, node: Node, cs_last_step: str) -> None:
    """Point each ``cs[-1]`` reader at the one-step sequence ``cs_last_step`` [1, B, H]."""
    for consumer in _consumers(ctx, node, "cs"):
        begin, end = (const_value(consumer.inputs[k]).copy() for k in (1, 2))
        begin[0], end[0] = -1, 0
        ctx.replace_inputs(
            consumer,
            [
                cs_last_step,
                ctx.make_const(utils.make_name(f"{consumer.name}/begin"), begin).output[0],
                ctx.make_const(utils.make_name(f"{consumer.name}/end"), end).output[0],
                consumer.input[3],
            ],
        )


def _consumers(ctx: Graph, node: Node, output: str) -> list[Node]:
    name = node.output[FUSED_OUTPUTS.index(output)]
    return [consumer for consumer in ctx.find_output_consumers(name) if consumer is not node]


def _sequence_lens(ctx: Graph, node: Node, seq_len_max: str, x: str) -> str:
    """``[seq_len_max] * B`` as int32, the only type onnxruntime accepts."""
    length, batch = const_value(node.inputs[0]), _static_dim(ctx, x, 1)
    if length is not None and batch is not None:
        lengths = np.full([batch], int(length), dtype=np.int32)
        return ctx.make_const(utils.make_name(f"{node.name}/sequence_lens"), lengths).output[0]
    length = _make(ctx, "Cast", [seq_len_max], attr={"to": TensorProto.INT32})
    batch = _make(
        ctx,
        "Slice",
        [_make(ctx, "Shape", [x]), _int64(ctx, node, [1]), _int64(ctx, node, [2])],
    )
    return _make(ctx, "Expand", [length, batch])


def _zero_unless_full_length(ctx: Graph, node: Node, cs_last: str, steps: int | None) -> str:
    """TF's ``cs[T-1]`` is zero unless ``seq_len_max == T``; ``Y_c`` holds step K-1."""
    seq_len_max, x = node.input[0], node.input[1]
    length = const_value(node.inputs[0])
    if length is not None and steps is not None:
        keep = np.array(
            float(int(length) >= steps), dtype=utils.map_onnx_to_numpy_type(ctx.get_dtype(x))
        )
        return _make(
            ctx,
            "Mul",
            [cs_last, ctx.make_const(utils.make_name(f"{node.name}/keep"), keep).output[0]],
        )
    if steps is not None:
        total = _int64(ctx, node, steps)
    else:
        shape = _make(ctx, "Shape", [x])
        total = _make(ctx, "Gather", [shape, _int64(ctx, node, 0)], attr={"axis": 0})
    full = _make(ctx, "GreaterOrEqual", [seq_len_max, total])
    keep = _make(ctx, "Cast", [full], attr={"to": ctx.get_dtype(x)})
    return _make(ctx, "Mul", [cs_last, keep])


def _initial_state(ctx: Graph, node: Node, index: int) -> str:
    value = const_value(node.inputs[index])
    if value is not None and not np.any(value):
        return ""
    return _unsqueeze(ctx, node, node.input[index])


def _unsqueeze(ctx: Graph, node: Node, tensor: str) -> str:
    return _make(ctx, "Unsqueeze", [tensor, _int64(ctx, node, [0])])


def _static_dim(ctx: Graph, tensor: str, axis: int) -> int | None:
    shape = ctx.get_shape(tensor)
    if not shape or len(shape) <= axis or shape[axis] is None or shape[axis] < 0:
        return None
    return int(shape[axis])


def _int64(ctx: Graph, node: Node, value: int | list[int]) -> str:
    array = np.array(value, dtype=np.int64)
    return ctx.make_const(utils.make_name(f"{node.name}/const"), array).output[0]


def _make(ctx: Graph, op_type: str, inputs: list[str], attr: dict | None = None) -> str:
    return ctx.make_node(op_type, inputs, attr=attr or {}).output[0]


def _replace_output(ctx: Graph, old: str, new: str) -> None:
    ctx.replace_all_inputs(old, new)
    ctx.copy_dtype(old, new)
    ctx.copy_shape(old, new)
