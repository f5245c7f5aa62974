"""TF ``BlockLSTM`` / ``BlockLSTMV2`` to our exact op ``tfrnn.BlockLSTM``, output for output.

Used where one ONNX ``LSTM`` node would not be exact. The node keeps its seven outputs
under their own names, so every consumer (and graph output) reads them unchanged. The
semantics and the input layout are in ``pipeline.recurrent.block_lstm_op``; here the
constant weights are put into that layout::

    w   -> TF V1 gate order i, c, f, o (a V2 kernel i, f, c, o is reordered)
    b   -> the same order, with forget_bias added to the f block
    wci, wcf, wco -> the peephole vectors, or zeros without peepholes
    cell_clip -> the attribute when > 0, else +inf (no clipping)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto
from tf2onnx import utils
from tf2onnx.graph import Graph, Node

from pipeline.errors import NoExactConversionError
from pipeline.recurrent import block_lstm_op as spec
from pipeline.recurrent.gates import reorder_gates
from pipeline.tf_to_onnx.constants import required_const


@dataclass(frozen=True)
class ExactOpWeights:
    """The constant inputs of ``tfrnn.BlockLSTM``, in its layout."""

    w: np.ndarray
    b: np.ndarray
    wci: np.ndarray
    wcf: np.ndarray
    wco: np.ndarray

    @classmethod
    def read(
        cls,
        ctx: Graph,
        node: Node,
        op: str,
        gate_order: str,
        forget_bias: float,
        use_peephole: bool,
    ) -> ExactOpWeights:
        if ctx.get_dtype(node.input[1]) != TensorProto.FLOAT:
            raise NoExactConversionError(
                f"{op} node {node.name!r}: x is not float32; the exact form of BlockLSTM "
                "is float32 only. Export the graph in float32."
            )
        kernel = required_const(ctx, node, op, 4, "w").astype(np.float32)
        bias = required_const(ctx, node, op, 8, "b").astype(np.float32)
        hidden_size = kernel.shape[1] // 4
        w = reorder_gates(kernel, gate_order, spec.GATE_ORDER, axis=1)
        b = reorder_gates(bias, gate_order, spec.GATE_ORDER).copy()
        forget = "icfo".index("f")
        b[forget * hidden_size : (forget + 1) * hidden_size] += np.float32(forget_bias)
        zeros = np.zeros(hidden_size, np.float32)
        peepholes = [
            required_const(ctx, node, op, index, name).astype(np.float32) if use_peephole else zeros
            for index, name in ((5, "wci"), (6, "wcf"), (7, "wco"))
        ]
        return cls(w, b, *peepholes)


def convert_to_exact_op(ctx: Graph, node: Node, weights: ExactOpWeights, cell_clip: float) -> None:
    """Replace ``node`` by one ``tfrnn.BlockLSTM`` node with the same output names."""
    clip = np.array(cell_clip if cell_clip > 0 else np.inf, dtype=np.float32)
    constants = {
        "w": weights.w,
        "wci": weights.wci,
        "wcf": weights.wcf,
        "wco": weights.wco,
        "b": weights.b,
        "cell_clip": clip,
    }
    inputs = list(node.input[:4]) + [
        ctx.make_const(utils.make_name(f"{node.name}/{name}"), constants[name]).output[0]
        for name in spec.INPUTS[4:]
    ]
    outputs = list(node.output)
    shapes = [ctx.get_shape(output) for output in outputs]
    dtypes = [ctx.get_dtype(output) for output in outputs]
    name = node.name
    ctx.remove_node(name)
    ctx.make_node(
        spec.OP_TYPE,
        inputs,
        outputs=outputs,
        name=name,
        domain=spec.DOMAIN,
        shapes=shapes,
        dtypes=dtypes,
    )
