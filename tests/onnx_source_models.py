"""Small ONNX models written by tests that take an ONNX model as the source."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.backend.test.case.node import collect_testcases

# One forward LSTM, layout 0: 3 inputs, 4 hidden, 5 steps, batch 2.
INPUT_SIZE, HIDDEN_SIZE, STEPS, BATCH = 3, 4, 5, 2
LSTM_OUTPUTS = ("Y", "Y_h", "Y_c")
WEIGHT_INPUTS = {"W", "R", "B", "P"}


def write_lstm(path: Path, opset: int = 17) -> Path:
    """One ``LSTM`` node named ``lstm`` with constant W/R/B; input ``X`` [5, 2, 3]."""
    rng = np.random.default_rng(0)
    weights = {
        "W": rng.uniform(-0.5, 0.5, (1, 4 * HIDDEN_SIZE, INPUT_SIZE)),
        "R": rng.uniform(-0.5, 0.5, (1, 4 * HIDDEN_SIZE, HIDDEN_SIZE)),
        "B": rng.uniform(-0.5, 0.5, (1, 8 * HIDDEN_SIZE)),
    }
    initializers = [
        numpy_helper.from_array(value.astype(np.float32), name) for name, value in weights.items()
    ]
    node = helper.make_node(
        "LSTM", ["X", "W", "R", "B"], list(LSTM_OUTPUTS), name="lstm", hidden_size=HIDDEN_SIZE
    )
    shapes = {"Y": [STEPS, 1, BATCH, HIDDEN_SIZE], "Y_h": [1, BATCH, HIDDEN_SIZE]}
    shapes["Y_c"] = shapes["Y_h"]
    graph = helper.make_graph(
        [node],
        "one_lstm",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [STEPS, BATCH, INPUT_SIZE])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shapes[name]) for name in shapes],
        initializers,
    )
    return _save(graph, path, opset)


def write_elementwise(path: Path, ops: dict[str, str], opset: int = 17) -> Path:
    """``X`` [batch, 3] (float32, batch symbolic) -> one node per ``{node name: op}``.

    Node ``n`` writes output ``n_out``; ops with attributes take their defaults.
    """
    nodes = [helper.make_node(op, ["X"], [f"{name}_out"], name=name) for name, op in ops.items()]
    graph = helper.make_graph(
        nodes,
        "elementwise",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 3])],
        [
            helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, ["batch", 3])
            for name in ops
        ],
    )
    return _save(graph, path, opset)


def write_backend_lstm_case(name: str, folder: Path) -> tuple[Path, Path, Path]:
    """ONNX's own backend case ``name`` as a model with constant weights, its inputs and
    its expected outputs: ``(model.onnx, inputs.npz, expected.npz)`` in ``folder``."""
    with warnings.catch_warnings():
        # NOTE: collecting imports every op's case module; some warn about their own data.
        warnings.simplefilter("ignore", RuntimeWarning)
        case = next(case for case in collect_testcases("LSTM") if case.name == name)
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, expected = case.data_sets[0]
    feeds = {}
    for value, data in zip(list(model.graph.input), inputs, strict=True):
        if value.name in WEIGHT_INPUTS:
            model.graph.input.remove(value)
            model.graph.initializer.append(numpy_helper.from_array(data, value.name))
        else:
            feeds[value.name] = data
    outputs = {value.name: data for value, data in zip(model.graph.output, expected, strict=True)}
    model_path = folder / f"{name}.onnx"
    onnx.save(model, model_path)
    np.savez(folder / f"{name}_inputs.npz", **feeds)
    np.savez(folder / f"{name}_expected.npz", **outputs)
    return model_path, folder / f"{name}_inputs.npz", folder / f"{name}_expected.npz"


def _save(graph: onnx.GraphProto, path: Path, opset: int) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return path
