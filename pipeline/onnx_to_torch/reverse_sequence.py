"""ONNX ``ReverseSequence`` (opset 10): reverse each batch entry's first ``length`` steps.

``bidirectional_dynamic_rnn`` writes its backward direction with it. For time index ``t``
and batch entry ``b`` the output reads step ``length[b] - 1 - t`` when ``t < length[b]``
and step ``t`` otherwise; that index table is built with tensor ops and applied with
``torch.gather`` along the time axis, so ``torch.export`` captures it.
"""

from __future__ import annotations

import torch
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node


class ReverseSequence(torch.nn.Module):
    def __init__(self, batch_axis: int, time_axis: int) -> None:
        super().__init__()
        self.batch_axis = batch_axis
        self.time_axis = time_axis

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(x.shape[self.time_axis], device=x.device)[:, None]  # [T, 1]
        lengths = lengths.to(steps.dtype)[None, :]  # [1, B]
        index = torch.where(steps < lengths, lengths - 1 - steps, steps)  # [T, B]
        shape = [1] * x.dim()
        shape[self.time_axis], shape[self.batch_axis] = index.shape
        if self.time_axis > self.batch_axis:
            index = index.T  # the view below lists the batch axis first
        index = index.reshape(shape).expand(x.shape)
        return torch.gather(x, self.time_axis, index)


def convert_reverse_sequence(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    attributes = node.attributes
    module = ReverseSequence(attributes.get("batch_axis", 1), attributes.get("time_axis", 0))
    return OperationConverterResult(torch_module=module, onnx_mapping=onnx_mapping_from_node(node))
