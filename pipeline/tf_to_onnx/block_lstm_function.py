"""The ONNX function that defines ``tfrnn.BlockLSTM``: a ``Scan`` over time.

The semantics are stated once, in ``pipeline.recurrent.block_lstm_op``. The scan carries
``(h, c, t)``; the weights are read from the function's inputs (outer scope of the body).
"""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from pipeline.recurrent import block_lstm_op as spec

_FLOAT = TensorProto.FLOAT


def block_lstm_function(opset: int) -> onnx.FunctionProto:
    """The function body of ``tfrnn.BlockLSTM`` written with ONNX ops of ``opset``."""
    nodes = [
        helper.make_node(
            "Constant", [], ["t0"], value=helper.make_tensor("", TensorProto.INT64, [], [0])
        ),
        helper.make_node(
            "Scan",
            ["h_prev", "cs_prev", "t0", "x"],
            ["h_last", "cs_last", "t_last", *spec.OUTPUTS],
            body=_step_graph(opset),
            num_scan_inputs=1,
        ),
    ]
    return helper.make_function(
        spec.DOMAIN,
        spec.OP_TYPE,
        list(spec.INPUTS),
        list(spec.OUTPUTS),
        nodes,
        [helper.make_opsetid("", opset)],
    )


def _step_graph(opset: int) -> onnx.GraphProto:
    split_attributes = {"num_outputs": 4} if opset >= 18 else {}
    nodes = [
        helper.make_node("Concat", ["x_t", "h"], ["xh"], axis=1),
        helper.make_node("MatMul", ["xh", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["gates"]),
        helper.make_node(
            "Split", ["gates"], ["gate_i", "gate_c", "gate_f", "gate_o"], axis=1, **split_attributes
        ),
        *_sigmoid_with_peephole("i_t", "gate_i", "wci", "c"),
        *_sigmoid_with_peephole("f_t", "gate_f", "wcf", "c"),
        helper.make_node("Tanh", ["gate_c"], ["ci_t"]),
        helper.make_node("Mul", ["i_t", "ci_t"], ["input_part"]),
        helper.make_node("Mul", ["f_t", "c"], ["forget_part"]),
        helper.make_node("Add", ["input_part", "forget_part"], ["cs_unclipped"]),
        helper.make_node("Neg", ["cell_clip"], ["negative_clip"]),
        helper.make_node("Clip", ["cs_unclipped", "negative_clip", "cell_clip"], ["cs_t"]),
        *_sigmoid_with_peephole("o_t", "gate_o", "wco", "cs_t"),
        helper.make_node("Tanh", ["cs_t"], ["co_t"]),
        helper.make_node("Mul", ["o_t", "co_t"], ["h_t"]),
        helper.make_node("Less", ["t", "seq_len_max"], ["valid"]),
        helper.make_node("Where", ["valid", "h_t", "h"], ["h_next"]),
        helper.make_node("Where", ["valid", "cs_t", "c"], ["c_next"]),
        helper.make_node(
            "Constant", [], ["one"], value=helper.make_tensor("", TensorProto.INT64, [], [1])
        ),
        helper.make_node("Add", ["t", "one"], ["t_next"]),
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("", _FLOAT, [], [0.0])),
    ]
    outputs = []
    for name in spec.OUTPUTS:
        nodes.append(helper.make_node("Where", ["valid", f"{name}_t", "zero"], [f"{name}_out"]))
        outputs.append(helper.make_tensor_value_info(f"{name}_out", _FLOAT, None))
    return helper.make_graph(
        nodes,
        "block_lstm_step",
        inputs=[
            helper.make_tensor_value_info("h", _FLOAT, None),
            helper.make_tensor_value_info("c", _FLOAT, None),
            helper.make_tensor_value_info("t", TensorProto.INT64, []),
            helper.make_tensor_value_info("x_t", _FLOAT, None),
        ],
        outputs=[
            helper.make_tensor_value_info("h_next", _FLOAT, None),
            helper.make_tensor_value_info("c_next", _FLOAT, None),
            helper.make_tensor_value_info("t_next", TensorProto.INT64, []),
            *outputs,
        ],
    )


def _sigmoid_with_peephole(output: str, gate: str, peephole: str, cell: str) -> list:
    return [
        helper.make_node("Mul", [peephole, cell], [f"{output}_peephole"]),
        helper.make_node("Add", [gate, f"{output}_peephole"], [f"{output}_preactivation"]),
        helper.make_node("Sigmoid", [f"{output}_preactivation"], [output]),
    ]
