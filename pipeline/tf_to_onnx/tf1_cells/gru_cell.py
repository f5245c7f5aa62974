"""Match one TF1 ``GRUCell`` step, and map its weights onto ONNX ``GRU``.

The step, as ``rnn_cell_impl.GRUCell.call`` writes it::

    r, u = Split(sigmoid(BiasAdd(MatMul(ConcatV2([x_t, h_prev], 1), gates/kernel),
                                 gates/bias)), 2, axis=1)
    c = tanh(BiasAdd(MatMul(ConcatV2([x_t, r * h_prev], 1), candidate/kernel),
                     candidate/bias))
    h = u * h_prev + (1 - u) * c

The reset gate scales ``h_prev`` before the candidate's matmul: ONNX ``GRU`` with
``linear_before_reset=0``. TF's ``u`` is ONNX's ``z``. With ``I`` inputs and ``H`` units,
``gates/kernel [I+H, 2H]`` (blocks r, u), ``candidate/kernel [I+H, H]``::

    K = concat(gates/kernel blocks (u, r), candidate/kernel)      [I+H, 3H]  (z, r, h)
    W = K[:I].T[None]    R = K[I:].T[None]                         [1, 3H, I], [1, 3H, H]
    B = concat(gates/bias blocks (u, r), candidate/bias, zeros(3H))[None]     [1, 6H]
"""

from __future__ import annotations

import numpy as np

from pipeline.recurrent.gates import reorder_gates
from pipeline.tf_to_onnx.tf1_cells import names
from pipeline.tf_to_onnx.tf1_cells.body_view import ADD, MUL, SIGMOID, SUB, TANH, BodyView, NoMatch
from pipeline.tf_to_onnx.tf1_cells.cell_layer import CellLayer, Dense, read_dense, read_split

_TF_GATES = "rz"  # TF's r, u blocks, in the letters of GATE_ORDERS (TF's u is ONNX's z)


def match_gru_cell(view: BodyView, h_new: str) -> CellLayer:
    """The GRU layer whose new state is ``h_new``; ``NoMatch`` if it is none."""
    candidate_term, carry_term = view.pick(view.node(h_new, ADD), view.is_product_with(SUB))
    one_minus_u, c_tensor = view.pick(
        view.node(candidate_term, MUL), lambda name: view.produced_by(name, SUB)
    )
    one, u_gate = view.operands(view.node(one_minus_u, SUB), 2)
    if not np.all(view.constant(one) == 1):
        raise NoMatch(f"expected 1 - u before {candidate_term}")
    _, h_prev = view.pick(view.node(carry_term, MUL), lambda name: name == u_gate)

    candidate = read_dense(view, view.node(c_tensor, TANH).input[0])
    _, r_gate = view.pick(view.node(candidate.state, MUL), lambda name: name == h_prev)
    split = read_split(view, [r_gate, u_gate])
    gates = read_dense(view, view.node(split.input[1], SIGMOID).input[0])
    if (gates.x_t, gates.state) != (candidate.x_t, h_prev):
        raise NoMatch(f"expected the gates and candidate of {h_new} to read the same x and h")
    return gru_layer(names.GRU_CELL, gates.x_t, h_prev, h_new, _onnx_gru_weights(gates, candidate))


def gru_layer(
    cell: str, x_t: str, h_prev: str, h_new: str, weights: tuple[np.ndarray, ...]
) -> CellLayer:
    """A TF1 GRU cell as an ONNX ``GRU``: TF resets ``h`` before the recurrent matmul."""
    W, R, B = weights
    return CellLayer(
        cell=cell,
        op_type="GRU",
        x_t=x_t,
        states_in=(h_prev,),
        states_out=(h_new,),
        W=W,
        R=R,
        B=B,
        attributes={"linear_before_reset": 0},
    )


def _onnx_gru_weights(gates: Dense, candidate: Dense) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hidden_size = candidate.bias.shape[0]
    input_size = candidate.kernel.shape[0] - hidden_size
    if gates.kernel.shape != (input_size + hidden_size, 2 * hidden_size):
        raise NoMatch(
            f"expected gates/kernel [{input_size + hidden_size}, {2 * hidden_size}] beside "
            f"candidate/kernel {candidate.kernel.shape}, found {gates.kernel.shape}"
        )
    return onnx_gru_weights(gates.kernel, gates.bias, candidate.kernel, candidate.bias)


def onnx_gru_weights(
    w_ru: np.ndarray, b_ru: np.ndarray, w_c: np.ndarray, b_c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ONNX ``GRU``'s ``W, R, B`` from TF's ``w_ru [I+H, 2H]``, ``b_ru``, ``w_c [I+H, H]``, ``b_c``.

    The shapes are the caller's to check; the mapping is the module docstring's.
    """
    input_size = w_c.shape[0] - w_c.shape[1]
    kernel = np.concatenate([reorder_gates(w_ru, _TF_GATES, "zr", axis=1), w_c], axis=1)
    input_bias = np.concatenate([reorder_gates(b_ru, _TF_GATES, "zr"), b_c])
    W = kernel[:input_size].T[None]
    R = kernel[input_size:].T[None]
    B = np.concatenate([input_bias, np.zeros_like(input_bias)])[None]
    return W, R, B
