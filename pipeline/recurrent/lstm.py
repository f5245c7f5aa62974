"""LSTM weight mapping: TensorFlow's fused kernel to ONNX ``LSTM``.

TensorFlow's fused ops (``BlockLSTM``, ``BlockLSTMV2``, ``LSTMBlockCell``) right-multiply
one kernel by the concatenated step input::

    gates = [x_t, h_prev] @ w + b          w: [I + H, 4H]   b: [4H]
    f     = sigmoid(gates_f + forget_bias + wcf * c_prev)

ONNX ``LSTM`` (layout 0, one direction) keeps the input and recurrent halves apart, with
gates as rows, and two bias halves that are only ever summed::

    gates = x_t @ W^T + h_prev @ R^T + Wb + Rb
    W: [1, 4H, I]   R: [1, 4H, H]   B = [Wb, Rb]: [1, 8H]   P = [pi, po, pf]: [1, 3H]

So ``W`` and ``R`` are the two row ranges of ``w``, transposed and reordered into
``i, o, f, c``; ``Wb`` is ``b`` reordered with ``forget_bias`` added to the ``f`` block;
``Rb`` is zero. ``forget_bias`` is a constant inside the sigmoid, so folding it into the
bias is exact.

ONNX to PyTorch is ``pipeline.recurrent.onnx_to_torch``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.recurrent.gates import reorder_gates


@dataclass(frozen=True)
class OnnxLstmWeights:
    """The weight inputs of a one-direction ONNX ``LSTM`` node (layout 0)."""

    W: np.ndarray
    R: np.ndarray
    B: np.ndarray
    P: np.ndarray | None = None


def fused_kernel_to_onnx(
    w: np.ndarray,
    b: np.ndarray,
    *,
    input_size: int,
    gate_order: str,
    forget_bias: float = 0.0,
    peepholes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> OnnxLstmWeights:
    """Map a TF fused LSTM kernel ``w [I+H, 4H]`` and bias ``b [4H]`` to ONNX ``W, R, B, P``.

    ``gate_order`` is the layout of ``w`` and ``b`` (``"tf_block_lstm"`` for V1,
    ``"tf_block_lstm2"`` for V2). ``peepholes`` is ``(wci, wcf, wco)`` as TF names them.
    """
    hidden_size = _check_fused_shapes(w, b, input_size)
    dtype = w.dtype
    kernel_x, kernel_h = w[:input_size], w[input_size:]
    W = reorder_gates(kernel_x.T, gate_order, "onnx_lstm", axis=0)[None]
    R = reorder_gates(kernel_h.T, gate_order, "onnx_lstm", axis=0)[None]

    input_bias = reorder_gates(b, gate_order, "onnx_lstm").astype(dtype, copy=True)
    forget = "iofc".index("f")
    input_bias[forget * hidden_size : (forget + 1) * hidden_size] += dtype.type(forget_bias)
    B = np.concatenate([input_bias, np.zeros_like(input_bias)])[None]

    P = None
    if peepholes is not None:
        wci, wcf, wco = peepholes
        P = reorder_gates(np.concatenate([wci, wcf, wco]), "ifo", "onnx_peephole")[None]
    return OnnxLstmWeights(W=W, R=R, B=B, P=P)


def _check_fused_shapes(w: np.ndarray, b: np.ndarray, input_size: int) -> int:
    if w.ndim != 2 or w.shape[1] % 4:
        raise ValueError(f"expected a fused kernel of shape [I + H, 4H], received {w.shape}")
    hidden_size = w.shape[1] // 4
    if w.shape[0] != input_size + hidden_size:
        raise ValueError(
            f"fused kernel {w.shape} does not fit input size {input_size} and "
            f"{hidden_size} units: expected [{input_size + hidden_size}, {4 * hidden_size}]"
        )
    if b.shape != (4 * hidden_size,):
        raise ValueError(f"expected a bias of shape [{4 * hidden_size}], received {b.shape}")
    return hidden_size
