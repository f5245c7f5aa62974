"""ONNX ``Scan`` as a PyTorch loop over its body, imported through onnx2torch in turn.

tf2onnx turns TF1 while-loops (``dynamic_rnn`` over any cell) into a ``Scan``, which
onnx2torch cannot import. ``Scan`` with ``S`` state variables and ``M`` scan inputs runs::

    states = initial states
    for t in range(T):                       # T: length of the scan axis of the inputs
        states, outputs_t = body(states, scan_inputs[t])
    return states, stack(outputs_t over t)   # on each output's scan axis

with each scan input read, and each scan output written, along its axis and direction
attributes. The body is a graph of its own: it is imported with ``import_onnx`` as a
``GraphModule``. Names the body reads from the enclosing graph are resolved first: constants
are copied into the body as initializers, other values become extra body inputs fed by the
enclosing graph. The loop is plain Python over ``T``, so ``torch.export`` captures it with
``T`` fixed.
"""

from __future__ import annotations

import contextvars

import onnx
import torch
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

# The opset imports of the model being imported, for building the body's model.
OPSET_IMPORTS: contextvars.ContextVar[list[onnx.OperatorSetIdProto]] = contextvars.ContextVar(
    "OPSET_IMPORTS"
)


class ScanLoop(torch.nn.Module):
    """Runs an imported ``Scan`` body over the scan axis."""

    def __init__(
        self,
        body: torch.nn.Module,
        num_states: int,
        input_axes: list[int],
        input_reverse: list[bool],
        output_axes: list[int],
        output_reverse: list[bool],
    ) -> None:
        super().__init__()
        self.body = body
        self.num_states = num_states
        self.input_axes = input_axes
        self.input_reverse = input_reverse
        self.output_axes = output_axes
        self.output_reverse = output_reverse

    def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        states = list(args[: self.num_states])
        num_scans = len(self.input_axes)
        scans = [
            _to_time_major(x, axis, reverse)
            for x, axis, reverse in zip(
                args[self.num_states : self.num_states + num_scans],
                self.input_axes,
                self.input_reverse,
                strict=True,
            )
        ]
        extra = args[self.num_states + num_scans :]
        collected: list[tuple[torch.Tensor, ...]] = []
        for t in range(scans[0].shape[0]):
            results = self.body(*states, *(x[t] for x in scans), *extra)
            states = list(results[: self.num_states])
            collected.append(tuple(results[self.num_states :]))
        outputs = [
            _from_time_major(torch.stack(sequence), axis, reverse)
            for sequence, axis, reverse in zip(
                zip(*collected, strict=True), self.output_axes, self.output_reverse, strict=True
            )
        ]
        return (*states, *outputs)


def convert_scan(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """Converter for ``Scan`` (opset 9 and later)."""
    from pipeline.onnx_to_torch.importer import import_onnx  # the body imports through it too

    attributes = node.attributes
    body = onnx.GraphProto()
    body.CopyFrom(attributes["body"].g)
    num_scans = attributes["num_scan_inputs"]
    num_states = len(node.input_values) - num_scans
    num_outputs = len(node.output_values) - num_states
    extra_inputs = _close_over_enclosing_graph(body, graph)
    model = onnx.helper.make_model(body, opset_imports=OPSET_IMPORTS.get())
    module = ScanLoop(
        body=import_onnx(model),
        num_states=num_states,
        input_axes=list(attributes.get("scan_input_axes", [0] * num_scans)),
        input_reverse=[bool(d) for d in attributes.get("scan_input_directions", [0] * num_scans)],
        output_axes=list(attributes.get("scan_output_axes", [0] * num_outputs)),
        output_reverse=[
            bool(d) for d in attributes.get("scan_output_directions", [0] * num_outputs)
        ],
    )
    return OperationConverterResult(
        torch_module=module,
        onnx_mapping=OnnxMapping(
            inputs=tuple(node.input_values) + tuple(extra_inputs), outputs=node.output_values
        ),
    )


def _close_over_enclosing_graph(body: onnx.GraphProto, graph: OnnxGraph) -> list[str]:
    """Copy enclosing constants into ``body``; return the other names it reads, as inputs."""
    defined = {value.name for value in body.input} | {t.name for t in body.initializer}
    defined |= {output for node in body.node for output in node.output}
    read = [name for node in body.node for name in node.input if name and name not in defined]
    extra: list[str] = []
    for name in dict.fromkeys(read):
        if name in graph.initializers:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(graph.initializers[name].proto)
            body.initializer.append(tensor)
        elif _is_constant_node_output(graph, name):
            node, _ = graph.value_as_node_output(name)
            body.node.insert(0, node.proto)
        else:
            value_info = graph.value_info.get(name) or onnx.helper.make_empty_tensor_value_info(
                name
            )
            body.input.append(value_info)
            extra.append(name)
    return extra


def _is_constant_node_output(graph: OnnxGraph, name: str) -> bool:
    try:
        node, _ = graph.value_as_node_output(name)
    except KeyError:
        return False
    return node.operation_type == "Constant"


def _to_time_major(x: torch.Tensor, axis: int, reverse: bool) -> torch.Tensor:
    x = torch.movedim(x, axis, 0)
    return torch.flip(x, [0]) if reverse else x


def _from_time_major(x: torch.Tensor, axis: int, reverse: bool) -> torch.Tensor:
    x = torch.flip(x, [0]) if reverse else x
    return torch.movedim(x, 0, axis)
