"""Small ONNX models around one ``LSTM`` node, their onnxruntime reference, and comparisons.

``LstmSpec`` says where each input comes from (graph input, initializer, ``Constant`` node,
another node's output) so one builder covers every way a converter can meet the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
import onnxruntime
import torch
from onnx import TensorProto, helper, numpy_helper

ATOL = 1e-5
NODE_NAME = "rnn/lstm.0"


@dataclass(frozen=True)
class LstmSpec:
    """One LSTM node and where its inputs come from."""

    direction: str = "forward"
    opset: int = 17
    bias: bool = True
    weights: str = "initializer"  # or "constant"
    initial_states: str = "absent"  # "inputs", "initializers", "computed", "h_only"
    lengths: tuple[int, ...] | None = None
    lengths_source: str = "input"  # or "initializer", "constant"
    peepholes: str = "absent"  # "zero", "random", "input"
    outputs: tuple[str, ...] = ("Y", "Y_h", "Y_c")  # "" leaves an output out
    graph_outputs: tuple[str, ...] | None = None  # defaults to the node's named outputs
    attributes: dict[str, object] = field(default_factory=dict)
    steps: int = 5
    batch: int = 3
    input_size: int = 4
    hidden_size: int = 6

    @property
    def num_directions(self) -> int:
        return 2 if self.direction == "bidirectional" else 1


def build_lstm_model(spec: LstmSpec, seed: int = 0) -> tuple[onnx.ModelProto, dict]:
    """The model and one feed per graph input, with random weights scaled to stay in range."""
    rng = np.random.default_rng(seed)
    T, B, H, D = spec.steps, spec.batch, spec.hidden_size, spec.num_directions
    builder = _GraphBuilder()
    builder.add_input("x:0", rng.standard_normal((T, B, spec.input_size)).astype(np.float32))

    weights = {
        "W": 0.5 * rng.standard_normal((D, 4 * H, spec.input_size)),
        "R": 0.5 * rng.standard_normal((D, 4 * H, H)),
        "B": 0.5 * rng.standard_normal((D, 8 * H)),
    }
    for name, value in weights.items():
        if name != "B" or spec.bias:
            source = "constant" if spec.weights == "constant" else "initializer"
            builder.add(source, name, value.astype(np.float32))
    if spec.lengths is not None:
        builder.add(spec.lengths_source, "sequence_lens", np.array(spec.lengths, np.int32))
    _add_initial_states(builder, spec, rng.standard_normal((2, D, B, H)).astype(np.float32))
    if spec.peepholes != "absent":
        scale = 0.0 if spec.peepholes == "zero" else 0.5
        peepholes = (scale * rng.standard_normal((D, 3 * H))).astype(np.float32)
        builder.add("input" if spec.peepholes == "input" else "initializer", "P", peepholes)

    inputs = ["x:0", "W", "R", "B", "sequence_lens", "h0", "c0", "P"]
    inputs = [name if name in builder.values else "" for name in inputs]
    while not inputs[-1]:
        inputs.pop()
    attributes = {"hidden_size": H, "direction": spec.direction, **spec.attributes}
    builder.nodes.append(
        helper.make_node("LSTM", inputs, list(spec.outputs), name=NODE_NAME, **attributes)
    )
    shapes = {"Y": [T, D, B, H], "Y_h": [D, B, H], "Y_c": [D, B, H]}
    graph_outputs = spec.graph_outputs or tuple(name for name in spec.outputs if name)
    outputs = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in graph_outputs
    ]
    graph = helper.make_graph(
        builder.nodes, "lstm_graph", builder.graph_inputs, outputs, builder.initializers
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", spec.opset)])
    model.ir_version = 10
    return model, builder.feeds


def _add_initial_states(builder: _GraphBuilder, spec: LstmSpec, states: np.ndarray) -> None:
    if spec.initial_states == "absent":
        return
    if spec.initial_states == "computed":
        for name, value in zip(("h0", "c0"), states, strict=True):
            builder.add_input(f"{name}_source", value)
            builder.nodes.append(helper.make_node("Tanh", [f"{name}_source"], [name]))
        return
    source = "initializer" if spec.initial_states == "initializers" else "input"
    builder.add(source, "h0", states[0])
    if spec.initial_states != "h_only":
        builder.add(source, "c0", states[1])


class _GraphBuilder:
    def __init__(self) -> None:
        self.graph_inputs: list[onnx.ValueInfoProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.nodes: list[onnx.NodeProto] = []
        self.feeds: dict[str, np.ndarray] = {}
        self.values: set[str] = set()

    def add(self, source: str, name: str, value: np.ndarray) -> None:
        if source == "input":
            self.add_input(name, value)
        elif source == "initializer":
            self.initializers.append(numpy_helper.from_array(value, name))
        elif source == "constant":
            tensor = numpy_helper.from_array(value, f"{name}_value")
            self.nodes.append(helper.make_node("Constant", [], [name], value=tensor))
        else:
            raise ValueError(f"unknown source {source!r} for {name!r}")
        self.values.add(name)

    def add_input(self, name: str, value: np.ndarray) -> None:
        element_type = helper.np_dtype_to_tensor_dtype(value.dtype)
        self.graph_inputs.append(helper.make_tensor_value_info(name, element_type, value.shape))
        self.feeds[name] = value
        self.values.add(name)


def run_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, feeds)


def torch_inputs(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> tuple:
    """The feeds as tensors, in graph input order."""
    return tuple(torch.from_numpy(feeds[value.name]) for value in model.graph.input)


def max_errors(expected: list[np.ndarray], actual: object) -> list[float]:
    """The largest absolute difference of each output; shapes must match."""
    if isinstance(actual, torch.Tensor):
        actual = (actual,)
    actual = [np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a) for a in actual]
    assert len(actual) == len(expected), f"expected {len(expected)} outputs, got {len(actual)}"
    errors = []
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        assert got.shape == want.shape, f"output {index}: shape {got.shape} != {want.shape}"
        errors.append(float(np.max(np.abs(got - want), initial=0.0)))
    return errors


def assert_all_close(expected: list[np.ndarray], actual: object, atol: float = ATOL) -> None:
    """Fail with every output's actual error when one of them exceeds ``atol``."""
    errors = max_errors(expected, actual)
    assert max(errors) <= atol, f"max abs errors per output {errors} exceed {atol}"
