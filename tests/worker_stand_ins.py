"""Stand-in stage functions for tests: they run in worker processes, so they live in a module.

The fake framework stages compute ``y = tanh(x)`` with numpy and an ONNX ``Tanh`` node, so a
whole conversion can run without TensorFlow or torch.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

from pipeline.errors import SourceError


class ExporterSourceError(SourceError):
    """A ConversionError subclass defined outside pipeline.errors, as a stage might raise."""


def add(a: int, b: int) -> int:
    return a + b


def abort() -> None:
    os.abort()


def hang() -> None:
    time.sleep(600)


def raise_value_error() -> None:
    raise ValueError("shape (3,) does not fit (4,)")


def raise_exporter_error() -> None:
    raise ExporterSourceError("node 'lstm' cannot be read")


class VersionString(str):
    """A ``str`` subclass, as ``torch.__version__`` is: its pickle names its module."""


def return_a_str_subclass() -> dict:
    return {"versions": {"torch": VersionString("2.14.1")}, "count": True}


def return_an_object() -> dict:
    return {"fine": 1, "bad": object()}


def loaded_frameworks() -> list[str]:
    return sorted(name for name in ("tensorflow", "torch", "torchvision") if name in sys.modules)


def import_torchvision() -> str:
    import torchvision

    return torchvision.__version__


def fake_tf_stage(
    source: str,
    input_names: list[str],
    output_names: list[str],
    pinned: dict,
    inputs_npz: str,
    opset: int,
    onnx_path: str,
    reference_npz: str,
    input_shapes: dict | None = None,
) -> dict:
    """``y:0 = tanh(x:0)``: reference with numpy, model as one ONNX Tanh node."""
    with np.load(inputs_npz) as data:
        x = data[input_names[0]]
    np.savez(reference_npz, **{output_names[0]: np.tanh(x)})
    shape = list(x.shape)
    graph = helper.make_graph(
        [helper.make_node("Tanh", [input_names[0]], [output_names[0]])],
        "tanh",
        [helper.make_tensor_value_info(input_names[0], TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(output_names[0], TensorProto.FLOAT, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, onnx_path)
    return {
        "recurrent_nodes": [
            {"node": "rnn/lstm", "op": "BlockLSTM", "path": "onnx LSTM", "reason": "exact"}
        ],
        "timings": {"export": 0.01},
        "versions": {"fake_tensorflow": "0.0"},
    }


def fake_torch_stage(
    onnx_path: str,
    inputs_npz: str,
    outputs_npz: str,
    program_outputs_npz: str,
    pt2_path: str,
    state_dict_path: str,
    offset: float = 0.0,
) -> dict:
    """Writes ``tanh(x) + offset`` as both torch and torch.export outputs."""
    model = onnx.load(onnx_path)
    with np.load(inputs_npz) as data:
        x = data[model.graph.input[0].name]
    outputs = {model.graph.output[0].name: np.tanh(x) + np.float32(offset)}
    np.savez(outputs_npz, **outputs)
    np.savez(program_outputs_npz, **outputs)
    for path in (pt2_path, state_dict_path):
        with open(path, "wb") as file:
            file.write(b"stand-in")
    return {"timings": {"torch_run": 0.01}, "versions": {"fake_torch": "0.0"}, "modules": []}


def fake_torch_stage_off_by_a_little(*args: str) -> dict:
    return fake_torch_stage(*args, offset=1e-3)


def fake_torch_stage_that_fails(*args: str) -> dict:
    raise RuntimeError("onnx2torch exploded")
