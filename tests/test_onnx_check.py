"""The ONNX checks and the onnxruntime run, on hand-built models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from pipeline.errors import ConversionError
from pipeline.validate.onnx_check import check_model, run_onnxruntime


def save_tanh_model(path: Path, declared_output_shape: list[int] | None = None) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Tanh", ["x:0"], ["y:0"])],
        "tanh",
        [helper.make_tensor_value_info("x:0", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y:0", TensorProto.FLOAT, declared_output_shape or [2, 3])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_a_valid_model_is_summarised(tmp_path: Path) -> None:
    summary = check_model(save_tanh_model(tmp_path / "m.onnx"))
    assert summary.opset == 17
    assert summary.inputs == ("x:0",) and summary.outputs == ("y:0",)
    assert summary.op_counts == {"Tanh": 1} and summary.num_nodes == 1


def test_a_node_reading_an_undefined_tensor_fails_the_checker(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Tanh", ["nowhere"], ["y:0"])],
        "broken",
        [helper.make_tensor_value_info("x:0", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y:0", TensorProto.FLOAT, [2])],
    )
    path = tmp_path / "broken.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ConversionError, match=r"fails onnx.checker \(full check\)"):
        check_model(path)


def test_declared_shapes_that_contradict_inference_fail(tmp_path: Path) -> None:
    path = save_tanh_model(tmp_path / "m.onnx", declared_output_shape=[4, 4])
    with pytest.raises(ConversionError, match=r"fails onnx.checker.*differ in dimension 0"):
        check_model(path)


def test_onnxruntime_returns_every_output_by_name(tmp_path: Path) -> None:
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    outputs = run_onnxruntime(save_tanh_model(tmp_path / "m.onnx"), {"x:0": x})
    np.testing.assert_allclose(outputs["y:0"], np.tanh(x), rtol=1e-6)


def test_a_feed_that_does_not_match_the_model_inputs_lists_both(tmp_path: Path) -> None:
    path = save_tanh_model(tmp_path / "m.onnx")
    with pytest.raises(ConversionError, match=r"expects inputs \['x:0'\], but is fed \['k:0'\]"):
        run_onnxruntime(path, {"k:0": np.ones(1, np.float32)})
