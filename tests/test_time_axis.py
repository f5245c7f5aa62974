"""The time axis of each sequence output comes from the recurrent nodes of model.onnx."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from pipeline.report.time_axis import recurrent_step_counts, sequence_axes

STEPS, BATCH, SIZE_IN, UNITS = 5, 2, 3, 4


def _lstm_model(path: Path, *, batch_major: bool) -> Path:
    """One ONNX LSTM over ``STEPS`` steps; its input and output batch-major if asked."""
    outer = [BATCH, STEPS] if batch_major else [STEPS, BATCH]
    nodes = [helper.make_node("Transpose", ["x"], ["x_t"], perm=[1, 0, 2])] if batch_major else []
    x_name = "x_t" if batch_major else "x"
    nodes += [
        helper.make_node("LSTM", [x_name, "W", "R"], ["Y"], hidden_size=UNITS),
        helper.make_node("Squeeze", ["Y", "axis"], ["y_t" if batch_major else "y"]),
    ]
    if batch_major:
        nodes.append(helper.make_node("Transpose", ["y_t"], ["y"], perm=[1, 0, 2]))
    initializers = [
        helper.make_tensor("W", TensorProto.FLOAT, [1, 4 * UNITS, SIZE_IN], [0.0] * 48),
        helper.make_tensor("R", TensorProto.FLOAT, [1, 4 * UNITS, UNITS], [0.0] * 64),
        helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
    ]
    graph = helper.make_graph(
        nodes,
        "lstm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [*outer, SIZE_IN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [*outer, UNITS])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("batch_major", [False, True], ids=["time_major", "batch_major"])
def test_the_steps_of_an_lstm_node_find_the_time_axis_of_its_output(
    tmp_path: Path, batch_major: bool
) -> None:
    steps = recurrent_step_counts(_lstm_model(tmp_path / "m.onnx", batch_major=batch_major))
    shape = (BATCH, STEPS, UNITS) if batch_major else (STEPS, BATCH, UNITS)

    axes = sequence_axes({"y": np.zeros(shape)}, ["y"], steps, {}, batch_major=False)

    assert steps == {STEPS}
    assert axes == {"y": 1 if batch_major else 0}


@pytest.mark.parametrize("batch_major", [False, True])
def test_when_steps_equal_the_batch_the_source_layout_decides(batch_major: bool) -> None:
    square = {"y": np.zeros((STEPS, STEPS, UNITS))}
    axes = sequence_axes(square, ["y"], {STEPS}, {}, batch_major=batch_major)
    assert axes == {"y": 1 if batch_major else 0}


def test_final_states_and_models_without_steps_fall_back_to_the_inputs() -> None:
    reference = {"h": np.zeros((STEPS, BATCH, UNITS)), "h_final": np.zeros((1, BATCH, UNITS))}
    inputs = {"x": np.zeros((STEPS, BATCH, SIZE_IN))}
    axes = sequence_axes(reference, ["h", "h_final"], set(), inputs, batch_major=True)
    assert axes == {"h": 0}
