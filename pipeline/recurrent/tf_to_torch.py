"""TensorFlow and Keras recurrent weights straight to one layer of ``nn.LSTM``/``GRU``/``RNN``.

This is the composition of TF -> ONNX (``pipeline.recurrent.lstm``) and ONNX -> torch
(``pipeline.recurrent.onnx_to_torch``), written as one step so that it also covers what ONNX
cannot hold (the ``num_proj`` projection). ``I`` inputs, ``H`` units, ``R`` the width of
the recurrent input (``H``, or ``P = num_proj``)::

    TF fused kernel   w [I + R, 4H] (gate order icfo for V1, ifco for V2)   b [4H]
      weight_ih = gate blocks of w[:I].T in torch order i, f, c, o        [4H, I]
      weight_hh = gate blocks of w[I:].T                                 [4H, R]
      bias_ih   = gate blocks of b, with forget_bias added to block f    [4H]
      bias_hh   = 0                                                      [4H]
      weight_hr = projection.T                                           [P, H]

    Keras LSTM        kernel [I, 4H], recurrent_kernel [H, 4H], bias [4H], order ifco:
                      the fused mapping of concat(kernel, recurrent_kernel), forget_bias 0
    Keras GRU         (reset_after=True) kernel [I, 3H], recurrent_kernel [H, 3H],
                      bias [2, 3H], order z, r, h:
      weight_ih = blocks of kernel.T in order r, z, n;  weight_hh = recurrent_kernel.T
      bias_ih = bias[0], bias_hh = bias[1], both reordered
    Keras SimpleRNN   weight_ih = kernel.T, weight_hh = recurrent_kernel.T,
                      bias_ih = bias, bias_hh = 0

``forget_bias`` is a constant inside the forget gate's sigmoid, so folding it into the bias is
exact; ``nn.LSTM`` only ever uses ``bias_ih + bias_hh``, so the fold goes into ``bias_ih``.
The GRU needs its two biases apart: ``nn.GRU`` applies the reset gate to
``h @ W_hn^T + b_hn`` alone, which is Keras' ``reset_after=True``.
"""

from __future__ import annotations

import numpy as np

from pipeline.recurrent.gates import GATE_ORDERS, reorder_gates

TORCH_PARAMETERS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


def fused_kernel_to_torch(
    w: np.ndarray,
    b: np.ndarray,
    *,
    input_size: int,
    gate_order: str,
    forget_bias: float = 0.0,
    projection: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """One direction of an ``nn.LSTM`` layer from a TF fused kernel ``w`` and bias ``b``.

    ``gate_order`` is the layout of ``w`` and ``b``: ``"tf_block_lstm"`` (V1, LSTMBlockCell,
    TF1 LSTMCell) or ``"tf_block_lstm2"`` (V2, Keras). ``projection`` is TF1 LSTMCell's
    ``projection/kernel [H, P]``. Returns arrays keyed by the names in ``TORCH_PARAMETERS``.
    """
    if w.ndim != 2 or w.shape[1] % 4 or b.shape != (w.shape[1],):
        raise ValueError(
            f"expected a fused kernel [I + H, 4H] and a bias [4H], received {w.shape} and {b.shape}"
        )
    hidden_size = w.shape[1] // 4
    recurrent_size = hidden_size if projection is None else projection.shape[1]
    if w.shape[0] != input_size + recurrent_size:
        raise ValueError(
            f"fused kernel {w.shape} does not fit input size {input_size} and a recurrent "
            f"input of {recurrent_size}: expected [{input_size + recurrent_size}, "
            f"{4 * hidden_size}]"
        )
    weight = reorder_gates(w.T, gate_order, "torch_lstm", axis=0)
    bias = reorder_gates(b, gate_order, "torch_lstm").astype(w.dtype, copy=True)
    forget = GATE_ORDERS["torch_lstm"].index("f")
    bias[forget * hidden_size : (forget + 1) * hidden_size] += w.dtype.type(forget_bias)
    arrays = {
        "weight_ih": weight[:, :input_size],
        "weight_hh": weight[:, input_size:],
        "bias_ih": bias,
        "bias_hh": np.zeros_like(bias),
    }
    if projection is not None:
        if projection.shape[0] != hidden_size:
            raise ValueError(
                f"expected a projection kernel [{hidden_size}, P], received {projection.shape}"
            )
        arrays["weight_hr"] = projection.T
    return {name: np.ascontiguousarray(array) for name, array in arrays.items()}


def keras_lstm_to_torch(
    kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None
) -> dict[str, np.ndarray]:
    """One direction of an ``nn.LSTM`` layer from a Keras LSTM's weights (order ifco)."""
    if bias is None:
        bias = np.zeros(kernel.shape[1], kernel.dtype)
    w = np.concatenate([kernel, recurrent_kernel], axis=0)
    return fused_kernel_to_torch(w, bias, input_size=kernel.shape[0], gate_order="tf_block_lstm2")


def keras_gru_to_torch(
    kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None
) -> dict[str, np.ndarray]:
    """One direction of an ``nn.GRU`` layer from a Keras GRU with ``reset_after=True``."""
    if bias is None:
        bias = np.zeros((2, kernel.shape[1]), kernel.dtype)
    if bias.shape != (2, kernel.shape[1]):
        raise ValueError(
            f"expected a reset_after=True GRU bias [2, {kernel.shape[1]}], received {bias.shape}"
        )
    arrays = {
        "weight_ih": kernel.T,
        "weight_hh": recurrent_kernel.T,
        "bias_ih": bias[0],
        "bias_hh": bias[1],
    }
    return {
        name: np.ascontiguousarray(reorder_gates(array, "onnx_gru", "torch_gru", axis=0))
        for name, array in arrays.items()
    }


def keras_simple_rnn_to_torch(
    kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None
) -> dict[str, np.ndarray]:
    """One direction of an ``nn.RNN`` layer from a Keras SimpleRNN's weights."""
    if bias is None:
        bias = np.zeros(kernel.shape[1], kernel.dtype)
    return {
        "weight_ih": np.ascontiguousarray(kernel.T),
        "weight_hh": np.ascontiguousarray(recurrent_kernel.T),
        "bias_ih": bias.copy(),
        "bias_hh": np.zeros_like(bias),
    }
