"""Give nodes whose shape arguments are constants a static form before onnx2torch sees them.

Since opset 13 ``Squeeze`` takes its axes as an input, and since opset 10 ``Slice`` its
bounds. onnx2torch imports such nodes as modules that read those tensors at run time
(``.item()``, ``.numpy()``), which ``torch.export`` cannot capture. tf2onnx writes them as
constants, so here each such node moves into the private domain ``STATIC_DOMAIN`` with the
constant inputs turned into attributes, and is imported as onnx2torch's own static module:

=========  ===================================  ==============================
op         constant inputs -> attributes        module
=========  ===================================  ==============================
Squeeze    axes                                  ``OnnxSqueezeStaticAxes``
Slice      starts, ends, axes (steps all 1)      ``StaticSlice``
Reshape    shape                                 ``StaticReshape``
Tile       repeats                               ``StaticTile``
Expand     shape                                 ``StaticExpand``
=========  ===================================  ==============================

Only the copy handed to onnx2torch changes; the published ``model.onnx`` does not.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from onnx2torch.node_converters.squeeze import OnnxSqueezeStaticAxes
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

STATIC_DOMAIN = "pipeline_static"  # onnx2torch puts the domain in module names: no dots

# op -> names of its inputs from position 1 on, which must all be constants.
STATIC_INPUTS: dict[str, tuple[str, ...]] = {
    "Squeeze": ("axes",),
    "Slice": ("starts", "ends", "axes", "steps"),
    "Reshape": ("shape",),
    "Tile": ("repeats",),
    "Expand": ("shape",),
}


def make_inputs_static(model: onnx.ModelProto) -> onnx.ModelProto:
    """Rewrite ``model`` in place; see the module docstring."""
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    rewritten = False
    for node in model.graph.node:
        names = STATIC_INPUTS.get(node.op_type)
        if node.domain or names is None or len(node.input) < 2:
            continue
        values = dict(zip(names, (constants.get(name) for name in node.input[1:]), strict=False))
        if any(value is None for value in values.values()):
            continue
        if np.any(values.get("steps", 1) != 1):
            continue
        values.pop("steps", None)
        del node.input[1:]
        node.domain = STATIC_DOMAIN
        for name, value in values.items():
            node.attribute.append(onnx.helper.make_attribute(name, value.tolist()))
        rewritten = True
    if rewritten and all(entry.domain != STATIC_DOMAIN for entry in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(STATIC_DOMAIN, 1))
    return model


def convert_static_squeeze(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """``Squeeze`` of ``STATIC_DOMAIN``: the axes are an attribute."""
    return _result(node, OnnxSqueezeStaticAxes(axes=list(node.attributes["axes"])))


def convert_static_slice(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """``Slice`` of ``STATIC_DOMAIN``: bounds (and optional axes) are attributes, steps 1."""
    attributes = node.attributes
    starts, ends = list(attributes["starts"]), list(attributes["ends"])
    axes = list(attributes.get("axes", range(len(starts))))
    return _result(node, StaticSlice(starts, ends, axes))


class StaticSlice(torch.nn.Module):
    """``x[start:end]`` along each of ``axes``; Python slicing clamps as ONNX does."""

    def __init__(self, starts: list[int], ends: list[int], axes: list[int]) -> None:
        super().__init__()
        self.bounds = list(zip(axes, starts, ends, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = [slice(None)] * x.dim()
        for axis, start, end in self.bounds:
            index[axis] = slice(start, end)
        return x[tuple(index)]


def convert_static_reshape(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """``Reshape`` of ``STATIC_DOMAIN``: the target shape is an attribute."""
    attributes = node.attributes
    return _result(node, StaticReshape(list(attributes["shape"]), attributes.get("allowzero", 0)))


class StaticReshape(torch.nn.Module):
    """ONNX ``Reshape`` to a constant shape: ``0`` copies the input's dim unless ``allowzero``."""

    def __init__(self, shape: list[int], allowzero: int) -> None:
        super().__init__()
        self.shape = shape
        self.allowzero = allowzero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [
            x.shape[axis] if size == 0 and not self.allowzero else size
            for axis, size in enumerate(self.shape)
        ]
        return x.reshape(shape)


def convert_static_tile(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """``Tile`` of ``STATIC_DOMAIN``: the repeats are an attribute."""
    return _result(node, StaticTile(list(node.attributes["repeats"])))


class StaticTile(torch.nn.Module):
    """ONNX ``Tile`` with constant repeats, one per axis."""

    def __init__(self, repeats: list[int]) -> None:
        super().__init__()
        self.repeats = repeats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat(self.repeats)


def convert_static_expand(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """``Expand`` of ``STATIC_DOMAIN``: the target shape is an attribute."""
    return _result(node, StaticExpand(list(node.attributes["shape"])))


class StaticExpand(torch.nn.Module):
    """ONNX ``Expand``: broadcast ``x`` and the constant shape against each other."""

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(torch.broadcast_shapes(x.shape, tuple(self.shape)))


CONVERTERS = {
    "Tile": convert_static_tile,
    "Expand": convert_static_expand,
    "Squeeze": convert_static_squeeze,
    "Slice": convert_static_slice,
    "Reshape": convert_static_reshape,
}


def _result(node: OnnxNode, module) -> OperationConverterResult:
    return OperationConverterResult(
        torch_module=module,
        onnx_mapping=OnnxMapping(inputs=node.input_values[:1], outputs=node.output_values),
    )
