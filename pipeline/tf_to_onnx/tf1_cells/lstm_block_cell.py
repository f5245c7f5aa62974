"""Match one ``LSTMBlockCell`` op in a Scan body, and map it onto ONNX ``LSTM``.

``tf.contrib.rnn.LSTMBlockCell`` writes one fused op per step (rnn-semantics.md §2)::

    i, cs, f, o, ci, co, h = LSTMBlockCell(x_t, cs_prev, h_prev, w [I+H, 4H], wci, wcf,
                                           wco, b [4H]; forget_bias, cell_clip, use_peephole)

with the V1 kernel layout (i, c, f, o) and attribute defaults ``forget_bias=1.0``,
``cell_clip=3.0``, ``use_peephole=False``. It clips the carried cell state whenever
``cell_clip > 0`` (so a NodeDef without the attribute clips at 3.0); ONNX LSTM's ``clip``
bounds the gate inputs instead, so such a cell does not match and its Scan stays. Otherwise
it is ONNX ``LSTM`` (``pipeline.recurrent.lstm.fused_kernel_to_onnx``): ``forget_bias``
folded into ``B``, and with peepholes ``P = [wci, wco, wcf]``, whose output peephole reads
the new cell state as TF's does. The states are ``h`` (output 6) and ``cs`` (output 1); a
body that reads the gates ``i, f, o, ci, co`` is left to the rewriter's check of extra ops.
"""

from __future__ import annotations

from pipeline.recurrent.lstm import fused_kernel_to_onnx
from pipeline.tf_to_onnx.tf1_cells import names
from pipeline.tf_to_onnx.tf1_cells.body_view import BodyView, NoMatch
from pipeline.tf_to_onnx.tf1_cells.cell_layer import CellLayer

LSTM_BLOCK_CELL = ("LSTMBlockCell",)
H_OUTPUT, CS_OUTPUT = 6, 1
DEFAULT_FORGET_BIAS, DEFAULT_CELL_CLIP = 1.0, 3.0


def match_lstm_block_cell(view: BodyView, h_new: str) -> CellLayer:
    """The LSTM layer whose new ``h`` is ``h_new``, output 6 of an ``LSTMBlockCell``."""
    cell, index = view.output_index(h_new, LSTM_BLOCK_CELL)
    cell_clip = float(cell.get_attr_value("cell_clip", DEFAULT_CELL_CLIP))
    if cell_clip > 0:
        raise NoMatch(
            f"{cell.name} has cell_clip={cell_clip:g}, which clips the carried cell state; "
            "ONNX LSTM's clip bounds the gate pre-activations instead"
        )
    if index != H_OUTPUT:
        raise NoMatch(f"expected output {H_OUTPUT} (h) of {cell.name}, found output {index}")
    x_t, cs_prev, h_prev, w, wci, wcf, wco, b = view.operands(cell, 8)
    kernel, bias = view.constant(w), view.constant(b)
    hidden_size = bias.shape[0] // 4 if bias.ndim == 1 else 0
    if kernel.ndim != 2 or hidden_size == 0 or kernel.shape[1] != 4 * hidden_size:
        raise NoMatch(
            f"expected w [I+H, 4H] and b [4H] of {cell.name}, found {kernel.shape}, {bias.shape}"
        )
    peepholes = None
    if cell.get_attr_value("use_peephole", False):
        peepholes = tuple(view.constant(name) for name in (wci, wcf, wco))
        if any(each.shape != (hidden_size,) for each in peepholes):
            raise NoMatch(f"expected peepholes [{hidden_size}] of {cell.name}")
    weights = fused_kernel_to_onnx(
        kernel,
        bias,
        input_size=kernel.shape[0] - hidden_size,
        gate_order="tf_block_lstm",
        forget_bias=float(cell.get_attr_value("forget_bias", DEFAULT_FORGET_BIAS)),
        peepholes=peepholes,
    )
    return CellLayer(
        cell=names.LSTM_BLOCK_CELL,
        op_type="LSTM",
        x_t=x_t,
        states_in=(h_prev, cs_prev),
        states_out=(h_new, cell.output[CS_OUTPUT]),
        W=weights.W,
        R=weights.R,
        B=weights.B,
        P=weights.P,
    )
