"""One ONNX ``LSTM``, ``GRU`` or ``RNN`` node with constant weights, for import tests.

onnxruntime is the reference: it runs every attribute except ``layout=1``, so a
batch-major node is checked against the same node in layout 0 on transposed data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.onnx_to_torch.onnx_lstm_models import run_onnxruntime

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
NODE_NAME = "rnn/cell.0"


@dataclass(frozen=True)
class RnnSpec:
    op_type: str = "LSTM"
    direction: str = "forward"
    attributes: dict[str, object] = field(default_factory=dict)
    lengths: tuple[int, ...] | None = None
    lengths_source: str = "input"  # or "initializer"
    initial_states: str = "absent"  # or "inputs", "initializers"
    peepholes: bool = False
    layout: int = 0
    weight_scale: float = 0.5
    steps: int = 5
    batch: int = 3
    input_size: int = 4
    hidden_size: int = 6
    opset: int = 22

    @property
    def num_directions(self) -> int:
        return 2 if self.direction == "bidirectional" else 1

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("Y", "Y_h", "Y_c") if self.op_type == "LSTM" else ("Y", "Y_h")


def build_rnn_model(spec: RnnSpec, seed: int = 0) -> tuple[onnx.ModelProto, dict]:
    """The model and its feeds (graph inputs by name), weights scaled by ``weight_scale``."""
    rng = np.random.default_rng(seed)
    T, B, H, D = spec.steps, spec.batch, spec.hidden_size, spec.num_directions
    G = GATES[spec.op_type]
    scale = spec.weight_scale
    initializers = {
        "W": scale * rng.standard_normal((D, G * H, spec.input_size)),
        "R": scale * rng.standard_normal((D, G * H, H)),
        "B": scale * rng.standard_normal((D, 2 * G * H)),
    }
    feeds = {"X": rng.standard_normal((T, B, spec.input_size))}
    names = ["X", "W", "R", "B", "", "", "", ""]
    if spec.lengths is not None:
        lengths = np.array(spec.lengths, np.int32)
        (feeds if spec.lengths_source == "input" else initializers)["sequence_lens"] = lengths
        names[4] = "sequence_lens"
    states = ["initial_h", "initial_c"] if spec.op_type == "LSTM" else ["initial_h"]
    for position, state in enumerate(states, start=5):
        if spec.initial_states != "absent":
            value = rng.standard_normal((D, B, H))
            (feeds if spec.initial_states == "inputs" else initializers)[state] = value
            names[position] = state
    if spec.peepholes:
        initializers["P"] = scale * rng.standard_normal((D, 3 * H))
        names[7] = "P"
    while not names[-1]:
        names.pop()
    if spec.layout == 1:
        feeds = {key: _batch_major(key, value) for key, value in feeds.items()}

    feeds = {key: _float32(value) for key, value in feeds.items()}
    attributes = {"hidden_size": H, "direction": spec.direction, **spec.attributes}
    if spec.layout:
        attributes["layout"] = 1
    node = helper.make_node(spec.op_type, names, list(spec.outputs), name=NODE_NAME, **attributes)
    graph = helper.make_graph(
        [node],
        "rnn_graph",
        [_value_info(name, value) for name, value in feeds.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in spec.outputs],
        [numpy_helper.from_array(_float32(value), name) for name, value in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", spec.opset)])
    model.ir_version = 10
    return model, feeds


def reference_outputs(spec: RnnSpec, seed: int = 0) -> list[np.ndarray]:
    """onnxruntime's outputs for ``spec``; a layout-1 node is run in layout 0."""
    if spec.layout == 0:
        return run_onnxruntime(*build_rnn_model(spec, seed))
    time_major = replace(spec, layout=0)
    Y, *states = run_onnxruntime(*build_rnn_model(time_major, seed))
    return [Y.transpose(2, 0, 1, 3), *(state.transpose(1, 0, 2) for state in states)]


def _batch_major(name: str, value: np.ndarray) -> np.ndarray:
    return value.swapaxes(0, 1) if name in ("X", "initial_h", "initial_c") else value


def _float32(value: np.ndarray) -> np.ndarray:
    return value.astype(np.float32) if value.dtype == np.float64 else value


def _value_info(name: str, value: np.ndarray) -> onnx.ValueInfoProto:
    element_type = helper.np_dtype_to_tensor_dtype(value.dtype)
    return helper.make_tensor_value_info(name, element_type, value.shape)
