"""``tfrnn.BlockLSTM``: TensorFlow's fused LSTM as one ONNX node of our own domain.

Where no single ONNX ``LSTM`` node is exact (``cell_clip > 0``, reads of the gates or of the
whole cell-state sequence), a ``BlockLSTM`` node is exported as one node of the domain
``DOMAIN`` instead. The model carries its definition as an ONNX function (a ``Scan`` over
time of primitive ops), so onnxruntime runs it; our onnx2torch converter imports it as an
exact module. Both implement this, step ``t`` of ``T``, all tensors float32::

    inputs   seq_len_max: int64 []   x: [T, B, I]   cs_prev, h_prev: [B, H]
             w: [I+H, 4H] in TF V1 gate order i, c, f, o     b: [4H], forget_bias folded in
             wci, wcf, wco: [H] (zeros without peepholes)    cell_clip: [] (+inf for none)
    outputs  i, cs, f, o, ci, co, h: [T, B, H]

    gates = [x_t, h] @ w + b                     -> blocks i, c, f, o
    i  = sigmoid(gates_i + wci * c)
    f  = sigmoid(gates_f + wcf * c)
    ci = tanh(gates_c)
    cs = clip(i * ci + f * c, -cell_clip, cell_clip)
    o  = sigmoid(gates_o + wco * cs)
    co = tanh(cs)
    h_t = o * co
    for t >= seq_len_max every output is 0 and (c, h) stay as they were

This is TF's kernel (``shared/docs/rnn-semantics.md`` §2), except that TF leaves the gate
outputs past ``seq_len_max`` unwritten where this writes zeros.
"""

from __future__ import annotations

DOMAIN = "tfrnn"  # onnx2torch puts the domain into module names: no dots
OP_TYPE = "BlockLSTM"
VERSION = 1
GATE_ORDER = "tf_block_lstm"

INPUTS = ("seq_len_max", "x", "cs_prev", "h_prev", "w", "wci", "wcf", "wco", "b", "cell_clip")
OUTPUTS = ("i", "cs", "f", "o", "ci", "co", "h")
