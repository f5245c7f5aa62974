"""The onnx2torch converter for ONNX ``LSTM`` (versions 7, 14 and 22) to ``torch.nn.LSTM``.

ONNX inputs ``X, W, R, B?, sequence_lens?, initial_h?, initial_c?, P?`` with
``W [D, 4H, I]``, ``R [D, 4H, H]``, ``B [D, 8H]`` in gate order ``i, o, f, c``. ``W``, ``R``
and ``B`` must be constants: they become the parameters of one ``nn.LSTM`` layer, direction
``d`` mapped by ``pipeline.recurrent.lstm.onnx_to_torch(W[d], R[d], B[d])``. A missing ``B``
is zero. ``X``, ``sequence_lens`` and the initial states stay inputs of the module, except a
constant ``sequence_lens``, which is read here so the module can treat it statically.

Refused, because ``nn.LSTM`` has no exact equivalent: non-zero peepholes ``P``, ``clip``,
``input_forget=1``, non-default ``activations``, ``direction=reverse`` and ``layout=1``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

import numpy as np
import torch
from onnx import numpy_helper
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult
from torch import nn

from pipeline.errors import ConversionError, NoExactConversionError
from pipeline.onnx_to_torch.lstm_module import OnnxLstm
from pipeline.recurrent.lstm import onnx_to_torch

logger = logging.getLogger(__name__)

INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "tanh")
SUPPORTED_DIRECTIONS = {"forward": 1, "bidirectional": 2}
TRACKING_ISSUE = "#3"


def convert_lstm(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """Build an ``OnnxLstm`` for ``node``, or raise ``NoExactConversionError`` saying why not."""
    name = node.name or node.unique_name
    inputs = dict(zip(INPUTS, node.input_values, strict=False))
    problems = _inexact_features(node, inputs, graph)
    weights = {key: _constant(inputs.get(key, ""), graph) for key in ("W", "R", "B")}
    problems += [
        f"input {key} ({inputs[key]!r}) is not an initializer or a Constant output; "
        "fold it to a constant before importing"
        for key in ("W", "R")
        if weights[key] is None
    ]
    if inputs.get("B") and weights["B"] is None:
        problems.append(f"input B ({inputs['B']!r}) is not an initializer or a Constant output")
    if problems:
        raise NoExactConversionError(_refusal(name, problems))

    lstm = _build_lstm(name, node, weights["W"], weights["R"], weights["B"])
    lengths_name = inputs.get("sequence_lens", "")
    constant_lengths = _constant(lengths_name, graph)
    if constant_lengths is not None:
        lengths_name = ""
    module = OnnxLstm(
        lstm,
        node_name=name,
        num_outputs=len(node.output_values),
        constant_lengths=None if constant_lengths is None else constant_lengths.tolist(),
        dynamic_lengths=bool(lengths_name),
    )
    mapping_inputs = [
        inputs["X"],
        lengths_name,
        inputs.get("initial_h", ""),
        inputs.get("initial_c", ""),
    ]
    while not mapping_inputs[-1]:
        mapping_inputs.pop()
    logger.debug("LSTM node %r -> %s", name, module.describe())
    return OperationConverterResult(
        torch_module=module,
        onnx_mapping=OnnxMapping(inputs=tuple(mapping_inputs), outputs=node.output_values),
    )


def _inexact_features(node: OnnxNode, inputs: dict[str, str], graph: OnnxGraph) -> list[str]:
    """Every feature of ``node`` that ``nn.LSTM`` cannot compute exactly, one line each."""
    attributes = node.attributes
    problems = []
    if "clip" in attributes:
        problems.append(f"clip={attributes['clip']}: nn.LSTM cannot clip gate pre-activations")
    if attributes.get("input_forget", 0):
        problems.append(
            f"input_forget={attributes['input_forget']}: nn.LSTM cannot couple f = 1 - i"
        )
    direction = attributes.get("direction", "forward")
    if direction not in SUPPORTED_DIRECTIONS:
        problems.append(
            f"direction={direction!r}: only 'forward' and 'bidirectional' are supported"
        )
    if attributes.get("layout", 0) != 0:
        problems.append(
            f"layout={attributes['layout']}: only layout=0 (time-major) is supported; "
            "transpose around the node instead"
        )
    activations = attributes.get("activations")
    expected = DEFAULT_ACTIVATIONS * SUPPORTED_DIRECTIONS.get(direction, 1)
    if activations is not None and tuple(a.lower() for a in activations) != expected:
        problems.append(
            f"activations={list(activations)}: nn.LSTM only computes Sigmoid, Tanh, Tanh"
        )
    if inputs.get("P"):
        peepholes = _constant(inputs["P"], graph)
        if peepholes is None:
            problems.append(f"P ({inputs['P']!r}) is not a constant, so it may be non-zero")
        elif np.any(peepholes):
            problems.append("P (peepholes) is non-zero: nn.LSTM has no peephole connections")
    return problems


def _refusal(name: str, problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return (
        f"LSTM node {name!r} has no exact torch.nn.LSTM form:\n{lines}\n"
        f"Exact support for these features is tracked in issue {TRACKING_ISSUE}; until then, "
        "export the model without them."
    )


def _build_lstm(
    name: str, node: OnnxNode, W: np.ndarray, R: np.ndarray, B: np.ndarray | None
) -> nn.LSTM:
    """An ``nn.LSTM`` holding ``W, R, B`` in PyTorch's gate order."""
    num_directions, gate_width, input_size = W.shape
    hidden_size = node.attributes.get("hidden_size", R.shape[-1])
    expected_r = (num_directions, 4 * hidden_size, hidden_size)
    direction = node.attributes.get("direction", "forward")
    if (
        gate_width != 4 * hidden_size
        or R.shape != expected_r
        or num_directions != SUPPORTED_DIRECTIONS[direction]
    ):
        raise ConversionError(
            f"LSTM node {name!r}: W {W.shape} and R {R.shape} do not fit hidden_size="
            f"{hidden_size} and direction={direction!r}; expected W "
            f"[{num_directions}, {4 * hidden_size}, I] and R {list(expected_r)}"
        )
    if B is None:
        B = np.zeros((num_directions, 8 * hidden_size), dtype=W.dtype)

    lstm = nn.LSTM(
        input_size,
        hidden_size,
        bidirectional=num_directions == 2,
        dtype=torch.from_numpy(W).dtype,
    )
    with torch.no_grad():
        for direction_index in range(num_directions):
            mapped = onnx_to_torch(W[direction_index], R[direction_index], B[direction_index])
            suffix = "_reverse" if direction_index else ""
            for kind, array in asdict(mapped).items():
                getattr(lstm, f"{kind}_l0{suffix}").copy_(torch.from_numpy(array))
    return lstm


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
