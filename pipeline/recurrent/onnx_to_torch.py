"""ONNX ``LSTM``/``GRU``/``RNN`` weights to one direction of ``nn.LSTM``/``nn.GRU``/``nn.RNN``.

ONNX keeps, per direction, gates as rows and two bias halves::

    W [G*H, I]   R [G*H, H]   B = [Wb, Rb] [2*G*H]      G = 4 (LSTM), 3 (GRU), 1 (RNN)

PyTorch stores ``weight_ih = W``, ``weight_hh = R``, ``bias_ih = Wb``, ``bias_hh = Rb`` with
the gate blocks in its own order: ONNX LSTM ``i, o, f, c`` becomes ``i, f, g, o``, ONNX GRU
``z, r, h`` becomes ``r, z, n``; an RNN has one block. The two bias halves stay apart: GRU
applies the reset gate to ``h @ R_h^T + Rb_h`` alone (``linear_before_reset=1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.recurrent.gates import reorder_gates

GATE_LAYOUTS = {"LSTM": ("onnx_lstm", "torch_lstm"), "GRU": ("onnx_gru", "torch_gru")}


@dataclass(frozen=True)
class TorchWeights:
    """One direction of one ``nn.LSTM``/``nn.GRU``/``nn.RNN`` layer, in PyTorch's order."""

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray


def onnx_to_torch(op_type: str, W: np.ndarray, R: np.ndarray, B: np.ndarray) -> TorchWeights:
    """Map one direction's ONNX weights (e.g. ``W[d]``, ``R[d]``, ``B[d]``) of ``op_type``."""
    input_bias, recurrent_bias = np.split(B, 2)
    arrays = (W, R, input_bias, recurrent_bias)
    if op_type in GATE_LAYOUTS:
        source, target = GATE_LAYOUTS[op_type]
        arrays = tuple(reorder_gates(array, source, target, axis=0) for array in arrays)
    return TorchWeights(*arrays)
