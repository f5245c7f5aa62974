"""The onnx2torch converter for ONNX ``LSTM``, ``GRU`` and ``RNN`` (opset 7 and later).

Inputs ``X, W, R, B?, sequence_lens?, initial_h?`` and, for LSTM, ``initial_c?, P?``.
``W``, ``R``, ``B`` and ``P`` must be constants: they become the module's parameters. ``X``,
``sequence_lens`` and the initial states stay inputs of the module (initializers among them
reach it as constants), except a constant ``sequence_lens``, which is read here so that the
module can treat it statically.

Each node becomes one of two modules, both exact:

- ``FusedRecurrence`` around a real ``nn.LSTM``/``nn.GRU``/``nn.RNN`` wherever that computes
  the node exactly (``torch_blockers`` is empty);
- ``ExactRecurrence``, our own step loop, for everything else: peepholes, ``clip``,
  ``input_forget``, other activations, GRU ``linear_before_reset=0``, ``direction=reverse``.

Refused: non-constant weights, and attributes that do not fit the weights' shapes.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from onnx import numpy_helper
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult
from torch import nn

from pipeline.errors import ConversionError, NoExactConversionError
from pipeline.onnx_to_torch.exact_module import ExactRecurrence
from pipeline.onnx_to_torch.fused_module import FusedRecurrence
from pipeline.onnx_to_torch.recurrent_spec import DIRECTIONS, GATES, RecurrenceSpec
from pipeline.recurrent.onnx_activations import read_activations
from pipeline.recurrent.onnx_to_torch import onnx_to_torch

logger = logging.getLogger(__name__)

INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
STATE_INPUTS = {"LSTM": ("initial_h", "initial_c"), "GRU": ("initial_h",), "RNN": ("initial_h",)}
WEIGHT_INPUTS = ("W", "R", "B", "P")
TORCH_MODULES = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}


def convert_recurrent(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """Build the exact torch module for ``node``, or raise ``NoExactConversionError``."""
    op_type = node.operation_type
    name = node.name or node.unique_name
    inputs = dict(zip(INPUTS, node.input_values, strict=False))
    weights = {key: _constant(inputs.get(key, ""), graph) for key in WEIGHT_INPUTS}
    problems = [
        f"input {key} ({inputs[key]!r}) is not an initializer or a Constant output; fold it "
        "to a constant before importing"
        for key in WEIGHT_INPUTS
        if inputs.get(key) and weights[key] is None
    ]
    if problems:
        raise NoExactConversionError(_refusal(op_type, name, problems))
    spec = _read_spec(node, name, weights["W"], weights["R"])
    W, R = weights["W"], weights["R"]
    B = weights["B"]
    if B is None:
        B = np.zeros((W.shape[0], 2 * W.shape[1]), dtype=W.dtype)

    lengths_name = inputs.get("sequence_lens", "")
    constant_lengths = _constant(lengths_name, graph)
    if constant_lengths is not None:
        lengths_name = ""
    blockers = torch_blockers(spec, weights["P"])
    if blockers:
        module = _exact_module(spec, W, R, B, weights["P"], constant_lengths, blockers)
    else:
        module = FusedRecurrence(
            _build_torch_rnn(spec, W, R, B),
            node_name=name,
            num_outputs=spec.num_outputs,
            layout=spec.layout,
            constant_lengths=None if constant_lengths is None else constant_lengths.tolist(),
            dynamic_lengths=bool(lengths_name),
        )

    states = [inputs.get(key, "") for key in STATE_INPUTS[op_type]]
    mapping_inputs = [inputs["X"], lengths_name, *states]
    while not mapping_inputs[-1]:
        mapping_inputs.pop()
    logger.debug("%s node %r -> %s", op_type, name, module.describe())
    return OperationConverterResult(
        torch_module=module,
        onnx_mapping=OnnxMapping(inputs=tuple(mapping_inputs), outputs=node.output_values),
    )


def torch_blockers(spec: RecurrenceSpec, P: np.ndarray | None) -> list[str]:
    """Why ``nn.LSTM``/``nn.GRU``/``nn.RNN`` would not compute the node exactly."""
    blockers = []
    if spec.clip is not None:
        blockers.append(f"clip={spec.clip:g}: torch's modules cannot clip activation inputs")
    if spec.input_forget:
        blockers.append("input_forget=1: nn.LSTM cannot couple f = 1 - i")
    if spec.direction == "reverse":
        blockers.append("direction='reverse': torch's modules run forward first")
    if P is not None and np.any(P):
        blockers.append("P (peepholes) is non-zero: nn.LSTM has no peephole connections")
    if spec.op_type == "GRU" and not spec.linear_before_reset:
        blockers.append("linear_before_reset=0: nn.GRU resets after the recurrent matmul")
    if spec.op_type == "RNN":
        names = {function.name for functions in spec.activations for function in functions}
        if names - {"tanh", "relu"}:
            blockers.append(f"activations={sorted(names)}: nn.RNN computes Tanh or Relu only")
        elif len(names) > 1:
            blockers.append(
                f"activations={sorted(names)}: nn.RNN applies one function to both directions"
            )
    elif not spec.has_default_activations():
        names = [[f.name for f in functions] for functions in spec.activations]
        blockers.append(f"activations={names}: torch's modules compute the defaults only")
    return blockers


def _read_spec(node: OnnxNode, name: str, W: np.ndarray, R: np.ndarray) -> RecurrenceSpec:
    op_type = node.operation_type
    attributes = node.attributes
    direction = attributes.get("direction", "forward")
    problems = []
    if direction not in DIRECTIONS:
        problems.append(f"direction={direction!r}: expected one of {sorted(DIRECTIONS)}")
    num_directions = DIRECTIONS.get(direction, 1)
    hidden_size = int(attributes.get("hidden_size", R.shape[-1]))
    gates = GATES[op_type]
    expected_w = (num_directions, gates * hidden_size)
    if W.shape[:2] != expected_w or R.shape != (*expected_w, hidden_size):
        problems.append(
            f"W {list(W.shape)} and R {list(R.shape)} do not fit hidden_size={hidden_size} "
            f"and direction={direction!r}: expected W {[*expected_w, 'I']} and R "
            f"{[*expected_w, hidden_size]}"
        )
    layout = int(attributes.get("layout", 0))
    if layout not in (0, 1):
        problems.append(f"layout={layout}: expected 0 or 1")
    try:
        activations = read_activations(
            op_type,
            num_directions,
            attributes.get("activations"),
            attributes.get("activation_alpha"),
            attributes.get("activation_beta"),
        )
    except ValueError as error:
        problems.append(str(error))
        activations = ()
    if problems:
        raise ConversionError(_refusal(op_type, name, problems))
    clip = attributes.get("clip")
    return RecurrenceSpec(
        op_type=op_type,
        node_name=name,
        hidden_size=hidden_size,
        direction=direction,
        activations=activations,
        clip=None if clip is None else float(clip),
        input_forget=bool(attributes.get("input_forget", 0)),
        linear_before_reset=bool(attributes.get("linear_before_reset", 0)),
        layout=layout,
        num_outputs=len(node.output_values),
    )


def _exact_module(spec, W, R, B, P, constant_lengths, blockers) -> ExactRecurrence:
    def tensor(array: np.ndarray | None) -> torch.Tensor | None:
        return None if array is None else torch.from_numpy(np.ascontiguousarray(array))

    lengths = None if constant_lengths is None else constant_lengths.astype(np.int64)
    return ExactRecurrence(
        spec, tensor(W), tensor(R), tensor(B), tensor(P), tensor(lengths), tuple(blockers)
    )


def _build_torch_rnn(
    spec: RecurrenceSpec, W: np.ndarray, R: np.ndarray, B: np.ndarray
) -> nn.LSTM | nn.GRU | nn.RNN:
    """A torch module holding ``W, R, B`` in PyTorch's gate order."""
    options = {}
    if spec.op_type == "RNN":
        options["nonlinearity"] = spec.activations[0][0].name
    rnn = TORCH_MODULES[spec.op_type](
        W.shape[-1],
        spec.hidden_size,
        bidirectional=spec.num_directions == 2,
        dtype=torch.from_numpy(W).dtype,
        **options,
    )
    with torch.no_grad():
        for direction in range(spec.num_directions):
            mapped = onnx_to_torch(spec.op_type, W[direction], R[direction], B[direction])
            suffix = "_reverse" if direction else ""
            for kind, array in vars(mapped).items():
                getattr(rnn, f"{kind}_l0{suffix}").copy_(torch.from_numpy(array))
    return rnn


def _refusal(op_type: str, name: str, problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"{op_type} node {name!r} cannot be imported into torch:\n{lines}"


def _constant(value_name: str, graph: OnnxGraph) -> np.ndarray | None:
    """The value of an initializer or a ``Constant`` output, or ``None`` if not constant."""
    if not value_name:
        return None
    if value_name in graph.initializers:
        return graph.initializers[value_name].to_numpy()  # a writable copy
    try:
        producer, _ = graph.value_as_node_output(value_name)
    except KeyError:
        return None
    if producer.operation_type != "Constant":
        return None
    attribute = producer.proto.attribute[0]
    if attribute.name == "value":
        return numpy_helper.to_array(attribute.t).copy()
    if attribute.name in ("value_float", "value_floats", "value_int", "value_ints"):
        return np.array(producer.attributes[attribute.name])
    return None
