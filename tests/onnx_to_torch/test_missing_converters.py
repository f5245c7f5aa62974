"""A node onnx2torch cannot import is named, with what to do about it, not a registry hint."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from pipeline.errors import TorchImportError
from pipeline.onnx_to_torch.importer import import_onnx


def _loop_model() -> onnx.ModelProto:
    """``y = x`` summed 3 times by a Loop, with a RandomUniformLike beside it."""
    body = helper.make_graph(
        [helper.make_node("Add", ["sum_in", "x"], ["sum_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("sum_in", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("sum_out", TensorProto.FLOAT, [2])],
    )  # fmt: skip
    nodes = [
        helper.make_node("Constant", [], ["trips"], value=helper.make_tensor("t", 7, [], [3])),
        helper.make_node("Constant", [], ["go"], value=helper.make_tensor("g", 9, [], [True])),
        helper.make_node("Loop", ["trips", "go", "x"], ["y"], body=body, name="rnn/while"),
        helper.make_node("RandomUniformLike", ["x"], ["noise"], name="dropout/random"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("noise", TensorProto.FLOAT, [2])],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_each_node_without_a_converter_is_named_with_advice() -> None:
    with pytest.raises(TorchImportError) as refusal:
        import_onnx(_loop_model())

    message = str(refusal.value)
    assert "node 'rnn/while' (Loop) in graph: no converter for Loop" in message
    assert ".keras" in message
    assert "node 'dropout/random' (RandomUniformLike)" in message and "--pin" in message
    assert "registry.py" not in message
