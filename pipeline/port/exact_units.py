"""One layer-direction of a port, run in torch: ``nn.LSTM``/``nn.GRU``/``nn.RNN`` or an exact loop.

A unit's parameters are PyTorch's, without the layer suffix: ``weight_ih [G*H, I]``,
``weight_hh [G*H, H]``, ``bias_ih``, ``bias_hh`` in torch's gate order (LSTM i, f, g, o;
GRU r, z, n). Where the source computes what no ``torch.nn`` module holds, the unit runs in
an exact step loop with the same parameters, one step of which is (``x = W_ih x_t + b_ih``,
``r = W_hh h + b_hh``, split in gate blocks)::

    LSTM  i = sigmoid(x_i + r_i + p_i * c)            peepholes p = [p_i, p_f, p_o] [3, H]
          f = sigmoid(x_f + r_f + p_f * c)            or zeros
          c' = f * c + i * tanh(x_g + r_g)
          c' = clip(c', -cell_clip, cell_clip)        only when cell_clip > 0
          o = sigmoid(x_o + r_o + p_o * c')           the new, clipped c', as TF's BlockLSTM
          h' = o * tanh(c')
    GRU   r = sigmoid(x_r + r_r)    z = sigmoid(x_z + r_z)
          n = tanh(x_n + (r * h) W_hn^T + b_hn)       reset BEFORE the recurrent matmul
          h' = (1 - z) * n + z * h                    (TF1 GRUCell, Keras reset_after=False)

A reverse unit reads the sequence backwards: its input is flipped along the time axis of its
reading (axis 1 when ``batch_first``, else 0), and so is its output. Only torch is needed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from pipeline.port.mistakes import PARAMETERS, ExactFeatures


def run_unit(
    kind: str,
    state: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    batch_first: bool,
    reverse: bool = False,
    features: ExactFeatures | None = None,
) -> np.ndarray:
    """The output sequence of one unit on ``x``, in the layout of ``x``."""
    features = features or ExactFeatures()
    time_axis = 1 if batch_first else 0
    inputs = torch.from_numpy(np.ascontiguousarray(np.flip(x, time_axis) if reverse else x))
    tensors = {name: torch.from_numpy(np.ascontiguousarray(state[name])) for name in PARAMETERS}
    with torch.no_grad():
        if features.is_plain:
            output = _run_nn(kind, tensors, inputs, batch_first)
        else:
            time_major = inputs.transpose(0, 1) if batch_first else inputs
            output = _run_exact(kind, tensors, time_major, features)
            output = output.transpose(0, 1) if batch_first else output
    result = output.numpy()
    return np.ascontiguousarray(np.flip(result, time_axis)) if reverse else result


def run_module(
    kind: str,
    state: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    batch_first: bool,
    num_layers: int,
    bidirectional: bool,
) -> np.ndarray:
    """The output of a whole ``torch.nn.<kind>`` with ``state``, called as given, on ``x``."""
    hidden_size = state["weight_hh_l0"].shape[1]
    input_size = state["weight_ih_l0"].shape[1]
    module = getattr(torch.nn, kind)(
        input_size, hidden_size, num_layers=num_layers, batch_first=batch_first,
        bidirectional=bidirectional,
    )  # fmt: skip
    tensors = {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in state.items()}
    module.load_state_dict(tensors, strict=True)
    with torch.no_grad():
        output, _ = module(torch.from_numpy(x))
    return output.numpy()


def _run_nn(kind: str, tensors: dict, inputs: torch.Tensor, batch_first: bool) -> torch.Tensor:
    input_size = tensors["weight_ih"].shape[1]
    hidden_size = tensors["weight_hh"].shape[1]
    module = getattr(torch.nn, kind)(input_size, hidden_size, batch_first=batch_first)
    module.load_state_dict({f"{name}_l0": value for name, value in tensors.items()}, strict=True)
    output, _ = module(inputs)
    return output


def _run_exact(
    kind: str, tensors: dict, inputs: torch.Tensor, features: ExactFeatures
) -> torch.Tensor:
    """The exact loop over a time-major ``[T, B, I]`` input."""
    if kind not in ("LSTM", "GRU"):
        raise ValueError(f"expected an LSTM or GRU unit for the exact loop, received {kind}")
    hidden_size = tensors["weight_hh"].shape[1]
    projected = F.linear(inputs, tensors["weight_ih"], tensors["bias_ih"])
    h = inputs.new_zeros(inputs.shape[1], hidden_size)
    c = torch.zeros_like(h)
    peepholes = (
        torch.from_numpy(np.asarray(features.peepholes, np.float32))
        if features.peepholes is not None
        else inputs.new_zeros(3, hidden_size)
    )
    outputs = []
    for x in projected:
        if kind == "LSTM":
            h, c = _lstm_step(x, h, c, tensors, peepholes, features.cell_clip)
        else:
            h = _gru_step(x, h, tensors, features.reset_before)
        outputs.append(h)
    return torch.stack(outputs)


def _lstm_step(x, h, c, tensors: dict, peepholes: torch.Tensor, cell_clip: float):
    x_i, x_f, x_g, x_o = (x + F.linear(h, tensors["weight_hh"], tensors["bias_hh"])).chunk(4, -1)
    i = torch.sigmoid(x_i + peepholes[0] * c)
    f = torch.sigmoid(x_f + peepholes[1] * c)
    c = f * c + i * torch.tanh(x_g)
    if cell_clip > 0:
        c = torch.clamp(c, -cell_clip, cell_clip)
    o = torch.sigmoid(x_o + peepholes[2] * c)
    return o * torch.tanh(c), c


def _gru_step(x, h, tensors: dict, reset_before: bool):
    x_r, x_z, x_n = x.chunk(3, -1)
    w_r, w_z, w_n = tensors["weight_hh"].chunk(3, 0)
    b_r, b_z, b_n = tensors["bias_hh"].chunk(3, 0)
    r = torch.sigmoid(x_r + F.linear(h, w_r, b_r))
    z = torch.sigmoid(x_z + F.linear(h, w_z, b_z))
    if reset_before:
        n = torch.tanh(x_n + F.linear(r * h, w_n, b_n))
    else:
        n = torch.tanh(x_n + r * F.linear(h, w_n, b_n))
    return (1 - z) * n + z * h
