"""``tfrnn.BlockLSTM`` (our exact op for TF's fused LSTM) as a PyTorch module.

The semantics are stated once, in ``pipeline.recurrent.block_lstm_op``. The module loops
over the time axis in Python, so ``torch.export`` captures it with ``T`` fixed (the graph
grows with ``T``). The constant inputs (``w, wci, wcf, wco, b, cell_clip``) become the
module's parameters and buffer; ``seq_len_max, x, cs_prev, h_prev`` stay inputs.
"""

from __future__ import annotations

import torch
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult, get_const_value

from pipeline.errors import NoExactConversionError
from pipeline.recurrent import block_lstm_op as spec


class TfBlockLstm(torch.nn.Module):
    """TF ``BlockLSTM``: outputs ``i, cs, f, o, ci, co, h``, each ``[T, B, H]``."""

    def __init__(
        self,
        w: torch.Tensor,
        wci: torch.Tensor,
        wcf: torch.Tensor,
        wco: torch.Tensor,
        b: torch.Tensor,
        cell_clip: torch.Tensor,
    ) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(w)
        self.wci = torch.nn.Parameter(wci)
        self.wcf = torch.nn.Parameter(wcf)
        self.wco = torch.nn.Parameter(wco)
        self.b = torch.nn.Parameter(b)
        self.register_buffer("cell_clip", cell_clip)

    def forward(
        self,
        seq_len_max: torch.Tensor,
        x: torch.Tensor,
        cs_prev: torch.Tensor,
        h_prev: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        c, h = cs_prev, h_prev
        steps: list[tuple[torch.Tensor, ...]] = []
        for t in range(x.shape[0]):
            gates = torch.cat([x[t], h], dim=1) @ self.w + self.b
            gate_i, gate_c, gate_f, gate_o = gates.chunk(4, dim=1)
            i = torch.sigmoid(gate_i + self.wci * c)
            f = torch.sigmoid(gate_f + self.wcf * c)
            ci = torch.tanh(gate_c)
            cs = torch.clamp(i * ci + f * c, -self.cell_clip, self.cell_clip)
            o = torch.sigmoid(gate_o + self.wco * cs)
            co = torch.tanh(cs)
            h_t = o * co
            valid = seq_len_max > t
            c = torch.where(valid, cs, c)
            h = torch.where(valid, h_t, h)
            outputs = (i, cs, f, o, ci, co, h_t)
            steps.append(tuple(torch.where(valid, value, 0.0) for value in outputs))
        return tuple(torch.stack(sequence) for sequence in zip(*steps, strict=True))


def convert_block_lstm(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """Converter for ``tfrnn.BlockLSTM``: its constant inputs become parameters."""
    constants = {}
    for name, value_name in zip(spec.INPUTS[4:], node.input_values[4:], strict=True):
        try:
            constants[name] = torch.as_tensor(get_const_value(value_name, graph)).float()
        except KeyError:
            raise NoExactConversionError(
                f"{spec.DOMAIN}.{spec.OP_TYPE} node {node.name!r}: input {name} must be a "
                "constant (an initializer or Constant node), so that it becomes a parameter"
            ) from None
    return OperationConverterResult(
        torch_module=TfBlockLstm(**constants),
        onnx_mapping=OnnxMapping(inputs=node.input_values[:4], outputs=node.output_values),
    )
