"""What TF computes for each layer-direction of a source, in torch's terms (framework-free).

A diagnosis compares a user's unit against TF's, and corrects it with TF's own values: the
bias in torch's gate order and split (``forget_bias`` apart), the peepholes, the clip::

    TF fused kernel, Keras LSTM  bias_ih = gate blocks of b in order i, f, g, o; bias_hh = 0
    Keras GRU (reset_after)      bias [2, 3H] (z, r, h): bias_ih = row 0, bias_hh = row 1,
                                 each in order r, z, n; reset_after=False: bias [3H] -> bias_ih
    TF1 GRUCell / GRUBlockCell   w_ru [I+H, 2H] (r, u), w_c [I+H, H], b_ru [2H], b_c [H]:
                                 weight_ih = [w_r, w_u, w_c][:I].T, weight_hh = the same of
                                 rows I.., bias_ih = [b_r, b_u, b_c], bias_hh = 0
    peepholes                    wci, wcf, wco (w_i_diag, w_f_diag, w_o_diag) -> [3, H] (i, f, o)

TF's ``u`` is torch's ``z`` (``h = u * h_prev + (1 - u) * c``). TF1 GRUs reset before the
recurrent matmul, so their torch parameters are exact only in the exact loop
(``pipeline.port.exact_units``), never in ``nn.GRU``.
"""

from __future__ import annotations

import numpy as np

from pipeline.port.layers import KINDS, TIME_MAJOR_KINDS, SourceLayer
from pipeline.port.mistakes import TfUnit
from pipeline.port.modules import torch_arrays
from pipeline.recurrent.gates import GATE_ORDERS, reorder_gates

TF1_GRU_KINDS = ("gru_cell", "gru_block_cell")
PEEPHOLE_ROLES = ("wci", "wcf", "wco")


def tf1_gru_to_torch(
    w_ru: np.ndarray, w_c: np.ndarray, b_ru: np.ndarray, b_c: np.ndarray
) -> dict[str, np.ndarray]:
    """One direction of a reset-before GRU in torch's layout (r, z, n) from TF1's weights."""
    units = w_c.shape[1]
    if w_ru.shape != (w_c.shape[0], 2 * units) or b_ru.shape != (2 * units,):
        raise ValueError(
            f"expected w_ru [I+H, 2H], w_c [I+H, H], b_ru [2H], b_c [H] with H={units}, "
            f"received {w_ru.shape}, {w_c.shape}, {b_ru.shape}, {b_c.shape}"
        )
    input_size = w_c.shape[0] - units
    kernel = np.concatenate([w_ru, w_c], axis=1)  # r, u, c: torch's r, z, n
    return {
        "weight_ih": np.ascontiguousarray(kernel[:input_size].T),
        "weight_hh": np.ascontiguousarray(kernel[input_size:].T),
        "bias_ih": np.concatenate([b_ru, b_c]).astype(np.float32),
        "bias_hh": np.zeros(3 * units, np.float32),
    }


def unit_state(layer: SourceLayer) -> dict[str, np.ndarray]:
    """The correct torch parameters of ``layer`` (for a reset-before GRU: of the exact loop)."""
    if layer.kind in TF1_GRU_KINDS:
        arrays = layer.arrays
        return tf1_gru_to_torch(arrays["w_ru"], arrays["w_c"], arrays["b_ru"], arrays["b_c"])
    if layer.kind == "keras_gru" and not layer.reset_after:
        arrays = layer.arrays
        bias = arrays.get("bias", np.zeros(arrays["kernel"].shape[1], np.float32))
        state = {
            "weight_ih": arrays["kernel"].T,
            "weight_hh": arrays["recurrent_kernel"].T,
            "bias_ih": bias,
            "bias_hh": np.zeros_like(bias),
        }
        return {
            name: np.ascontiguousarray(reorder_gates(array, "onnx_gru", "torch_gru", axis=0))
            for name, array in state.items()
        }
    return torch_arrays(layer)


def tf_unit(layer: SourceLayer) -> TfUnit:
    """What TF computes for ``layer``, for the diagnosis."""
    module = layer.module
    state = unit_state(layer)
    bias_ih, bias_hh = state["bias_ih"].copy(), state["bias_hh"]
    if module == "LSTM" and "bias" in layer.arrays and not layer.kind.startswith("keras_"):
        bias_ih = reorder_gates(layer.arrays["bias"], KINDS[layer.kind][1], "torch_lstm")
    gate_order = {"LSTM": "ifco", "GRU": "rzh", "RNN": "h"}[module]
    if KINDS[layer.kind][1] is not None:
        gate_order = GATE_ORDERS[KINDS[layer.kind][1]]
    elif layer.kind == "keras_gru":
        gate_order = GATE_ORDERS["onnx_gru"]
    peepholes = None
    if layer.peepholes:
        peepholes = np.stack([layer.arrays[role] for role in PEEPHOLE_ROLES]).astype(np.float32)
    return TfUnit(
        kind=module,
        gate_order=gate_order,
        bias_ih=bias_ih,
        bias_hh=bias_hh,
        forget_bias=layer.forget_bias if module == "LSTM" else 0.0,
        time_major=layer.kind in TIME_MAJOR_KINDS,
        peepholes=peepholes,
        cell_clip=layer.cell_clip if module == "LSTM" else -1.0,
        reset_before=module == "GRU" and not layer.reset_after,
    )
