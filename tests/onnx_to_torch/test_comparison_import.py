"""GreaterOrEqual and LessOrEqual 16 (tf2onnx writes them for dynamic_rnn lengths) import."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper

from pipeline.onnx_to_torch.importer import import_onnx


@pytest.mark.parametrize("op_type", ["GreaterOrEqual", "LessOrEqual"])
@pytest.mark.parametrize("opset", [16, 17, 18])
def test_a_comparison_at_opset_16_and_later_imports_and_matches_onnxruntime(
    op_type: str, opset: int
) -> None:
    graph = helper.make_graph(
        [helper.make_node(op_type, ["a", "b"], ["c"])],
        "compare",
        [
            helper.make_tensor_value_info("a", TensorProto.INT32, [4]),
            helper.make_tensor_value_info("b", TensorProto.INT32, [4]),
        ],
        [helper.make_tensor_value_info("c", TensorProto.BOOL, [4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    a, b = np.array([0, 3, 5, 2], np.int32), np.array([1, 3, 4, 2], np.int32)
    session = onnxruntime.InferenceSession(model.SerializeToString())
    (expected,) = session.run(None, {"a": a, "b": b})

    (actual,) = import_onnx(model)(torch.from_numpy(a), torch.from_numpy(b))

    assert actual.numpy().tolist() == expected.tolist()
