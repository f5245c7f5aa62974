"""An ONNX model as the source: read its signature, fill the config from it, list its RNNs.

For an ONNX source TensorFlow takes no part: the model is converted as given. Its graph
supplies what a TensorFlow source needs the config for:

- inputs: the graph inputs that are not initializers, in graph order, with their element
  type and, where every dimension is a number, their shape. A config entry for an input
  (``--inputs X[5,2,3]``) supplies or narrows the shape of symbolic dimensions, but cannot
  contradict a number the graph declares;
- outputs: every graph output, unless the config names a subset.

Names are the ONNX value names, as they are (no ``node:index`` convention). This module
imports ``onnx`` only, so it runs in the main process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from onnx import external_data_helper

from pipeline.errors import SourceError

logger = logging.getLogger(__name__)

ONNX_SUFFIX = ".onnx"
RECURRENT_OPS = ("LSTM", "GRU", "RNN")

_NUMPY_DTYPES = (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool",
)  # fmt: skip


@dataclass(frozen=True)
class GraphInput:
    """One fed graph input: ``shape`` is ``None`` where the rank is unknown, and a dimension
    is ``None`` where it is symbolic. ``dtype`` is numpy's name for the element type."""

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None

    @property
    def static_shape(self) -> tuple[int, ...] | None:
        """The shape when every dimension is a number, else ``None``."""
        if self.shape is None or any(dim is None for dim in self.shape):
            return None
        return tuple(dim for dim in self.shape if dim is not None)


@dataclass(frozen=True)
class OnnxSignature:
    """What the graph takes and gives."""

    inputs: tuple[GraphInput, ...]
    outputs: tuple[str, ...]


def load_source(path: Path) -> onnx.ModelProto:
    """Read an ONNX model file whole; a file that cannot be read raises ``SourceError``."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises protobuf's DecodeError and plain OSErrors
        raise SourceError(
            f"cannot read {path} as an ONNX model ({type(error).__name__}: {error}); "
            "is the file complete? A truncated copy fails this way"
        ) from error
    initializers = model.graph.initializer
    external = [t.name for t in initializers if external_data_helper.uses_external_data(t)]
    if external:
        raise SourceError(
            f"{path} keeps initializers {external[:5]} in external data files; only "
            "self-contained models are read: save it with onnx.save(model, path, "
            "save_as_external_data=False)"
        )
    if not model.graph.node:
        raise SourceError(f"{path} holds an empty ONNX graph: no nodes to convert")
    return model


def read_signature(path: Path) -> OnnxSignature:
    """The fed inputs and the outputs of the ONNX model at ``path``."""
    graph = load_source(path).graph
    initializers = {tensor.name for tensor in graph.initializer}
    inputs = tuple(_graph_input(value) for value in graph.input if value.name not in initializers)
    return OnnxSignature(inputs, tuple(value.name for value in graph.output))


def recurrent_nodes(model: onnx.ModelProto) -> list[tuple[str, str]]:
    """``(node name, op)`` of every ``LSTM``, ``GRU`` and ``RNN`` node of the main graph."""
    return [
        (node.name or f"{node.op_type}_{index}", node.op_type)
        for index, node in enumerate(model.graph.node)
        if node.op_type in RECURRENT_OPS and node.domain in ("", "ai.onnx")
    ]


def fill_from_graph(
    data: Mapping[str, Any], signature: OnnxSignature
) -> tuple[dict[str, Any], list[str]]:
    """Config data with ``inputs`` and ``outputs`` completed from ``signature``.

    Returns the data and the problems found (each naming the key); an entry it cannot read
    is left for the config's validation to report.
    """
    data = dict(data)
    given = data.get("inputs") or []
    if not isinstance(given, list):
        return data, []
    by_name = {
        spec["name"]: spec
        for spec in given
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str)
    }
    unreadable = [spec for spec in given if not isinstance(spec, Mapping) or "name" not in spec]
    graph_names = [value.name for value in signature.inputs]
    problems = [
        f"inputs: {name!r} is not a fed input of the ONNX graph; its inputs are {graph_names}"
        for name in by_name
        if name not in graph_names
    ]
    inputs = []
    for value in signature.inputs:
        spec = dict(by_name.get(value.name, {"name": value.name}))
        problems += _fill_input(spec, value)
        inputs.append(spec)
    data["inputs"] = inputs + unreadable

    outputs = data.get("outputs")
    if outputs is None:
        data["outputs"] = list(signature.outputs)
    elif isinstance(outputs, list):
        problems += [
            f"outputs: {name!r} is not an output of the ONNX graph; its outputs are "
            f"{list(signature.outputs)}"
            for name in outputs
            if name not in signature.outputs
        ]
    return data, problems


def _fill_input(spec: dict[str, Any], value: GraphInput) -> list[str]:
    """Complete ``spec`` from the graph in place; return what contradicts the graph."""
    problems = []
    if spec.get("dtype") is None:
        spec["dtype"] = value.dtype
    elif spec["dtype"] != value.dtype:
        problems.append(
            f"inputs: {value.name!r} is {value.dtype} in the ONNX graph, the config says "
            f"{spec['dtype']}; drop its dtype"
        )
    shape = spec.get("shape")
    if shape is None:
        if value.static_shape is not None:
            spec["shape"] = list(value.static_shape)
    elif (
        value.shape is not None and isinstance(shape, Sequence) and _contradicts(shape, value.shape)
    ):
        declared = ["?" if dim is None else dim for dim in value.shape]
        problems.append(
            f"inputs: {value.name!r} is given shape {list(shape)}, but the ONNX graph declares "
            f"{declared}; give a size only where the graph has a symbolic dimension"
        )
    return problems


def _contradicts(shape: Sequence[Any], declared: tuple[int | None, ...]) -> bool:
    if len(shape) != len(declared):
        return True
    return any(dim is not None and given != dim for given, dim in zip(shape, declared, strict=True))


def _graph_input(value: onnx.ValueInfoProto) -> GraphInput:
    tensor_type = value.type.tensor_type
    if not value.type.HasField("tensor_type"):
        kind = value.type.WhichOneof("value") or "unknown"
        raise SourceError(
            f"ONNX graph input {value.name!r} is a {kind}, not a tensor; only tensor inputs "
            "can be fed"
        )
    # Types numpy has no plain name for (strings, bfloat16, ...) keep ONNX's name; the
    # config's dtype check then refuses them, naming the input.
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name
    except (KeyError, ValueError, TypeError):
        dtype = "object"
    if dtype not in _NUMPY_DTYPES:
        dtype = onnx.TensorProto.DataType.Name(tensor_type.elem_type).lower()
    shape = None
    if tensor_type.HasField("shape"):
        shape = tuple(
            dim.dim_value if dim.HasField("dim_value") else None for dim in tensor_type.shape.dim
        )
    return GraphInput(value.name, dtype, shape)
