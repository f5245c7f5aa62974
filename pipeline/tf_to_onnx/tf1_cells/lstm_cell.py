"""Match one TF1 ``LSTMCell``/``BasicLSTMCell`` step, with or without peepholes.

The step, as ``rnn_cell_impl.LSTMCell.call`` writes it (kernel gate order i, j, f, o; ``j``
is the cell candidate; ``w_*_diag`` only with ``use_peepholes``)::

    i, j, f, o = Split(BiasAdd(MatMul(ConcatV2([x_t, h_prev], 1), kernel), bias), 4, axis=1)
    c = sigmoid(f + forget_bias + w_f_diag * c_prev) * c_prev
        + sigmoid(i + w_i_diag * c_prev) * tanh(j)
    h = sigmoid(o + w_o_diag * c) * tanh(c)

That is ONNX ``LSTM`` with ``P = [w_i_diag, w_o_diag, w_f_diag]`` (its output peephole also
reads the new cell state), ``forget_bias`` folded into the bias
(``pipeline.recurrent.lstm.fused_kernel_to_onnx``). A ``cell_clip`` (a clip of ``c``) or a
``num_proj`` projection (a MatMul after ``h``) is not this pattern, so such a cell does not
match: ONNX LSTM's ``clip`` bounds the gate inputs, not the cell state, and it has no
projection.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline.recurrent.lstm import fused_kernel_to_onnx
from pipeline.tf_to_onnx.tf1_cells import names
from pipeline.tf_to_onnx.tf1_cells.body_view import ADD, MUL, SIGMOID, TANH, BodyView, NoMatch
from pipeline.tf_to_onnx.tf1_cells.cell_layer import CellLayer, read_dense, read_split


def match_lstm_cell(view: BodyView, h_new: str) -> CellLayer:
    """The LSTM layer whose new output state is ``h_new``; ``NoMatch`` if it is none."""
    output_gate, c_activation = view.pick(view.node(h_new, MUL), _is(view, SIGMOID))
    c_new = view.node(c_activation, TANH).input[0]
    o_gate, w_o_diag = _peephole(view, view.node(output_gate, SIGMOID).input[0], c_new)

    input_term, forget_term = view.pick(view.node(c_new, ADD), view.is_product_with(TANH))
    input_gate, candidate = view.pick(view.node(input_term, MUL), _is(view, SIGMOID))
    forget_gate, c_prev = view.pick(view.node(forget_term, MUL), _is(view, SIGMOID))
    i_gate, w_i_diag = _peephole(view, view.node(input_gate, SIGMOID).input[0], c_prev)
    f_biased, w_f_diag = _peephole(view, view.node(forget_gate, SIGMOID).input[0], c_prev)
    f_gate, forget_bias = _forget_bias(view, f_biased)
    j_gate = view.node(candidate, TANH).input[0]

    split = read_split(view, [i_gate, j_gate, f_gate, o_gate])
    dense = read_dense(view, split.input[1])
    hidden_size = dense.bias.shape[0] // 4
    input_size = dense.kernel.shape[0] - hidden_size
    peepholes = _peepholes(split.name, hidden_size, w_i_diag, w_f_diag, w_o_diag)
    weights = fused_kernel_to_onnx(
        dense.kernel,
        dense.bias,
        input_size=input_size,
        gate_order="tf_block_lstm",
        forget_bias=forget_bias,
        peepholes=peepholes,
    )
    return CellLayer(
        cell=names.LSTM_CELL,
        op_type="LSTM",
        x_t=dense.x_t,
        states_in=(dense.state, c_prev),
        states_out=(h_new, c_new),
        W=weights.W,
        R=weights.R,
        B=weights.B,
        P=weights.P,
    )


def _is(view: BodyView, op_types: tuple[str, ...]) -> Callable[[str], bool]:
    return lambda tensor: view.produced_by(tensor, op_types)


def _peephole(view: BodyView, pre_activation: str, state: str) -> tuple[str, np.ndarray | None]:
    """``gate + w_diag * state`` read as ``(gate, w_diag)``; anything else as ``(it, None)``."""
    if not view.produced_by(pre_activation, ADD):
        return pre_activation, None
    add = view.body.get_node_by_output(pre_activation, search_in_parent_graphs=False)
    for gate, term in (add.input, reversed(add.input)):
        if not view.produced_by(term, MUL):
            continue
        mul = view.body.get_node_by_output(term, search_in_parent_graphs=False)
        others = [operand for operand in mul.input if operand != state]
        if len(mul.input) == 2 and len(others) == 1 and view.is_constant(others[0]):
            view.node(pre_activation, ADD)
            view.node(term, MUL)
            return gate, view.constant(others[0])
    return pre_activation, None


def _forget_bias(view: BodyView, tensor: str) -> tuple[str, float]:
    """``f + forget_bias`` read as ``(f, forget_bias)``; a bare ``f`` as ``(f, 0.0)``."""
    if not view.produced_by(tensor, ADD):
        return tensor, 0.0
    gate, bias = view.pick(view.node(tensor, ADD), lambda name: not view.is_constant(name))
    return gate, view.scalar(bias)


def _peepholes(
    where: str, hidden_size: int, *diagonals: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(w_i_diag, w_f_diag, w_o_diag)`` when all three gates have one, None when none has."""
    present = [diagonal for diagonal in diagonals if diagonal is not None]
    if not present:
        return None
    if len(present) != 3 or any(d.shape != (hidden_size,) for d in present):
        raise NoMatch(
            f"expected peepholes [{hidden_size}] on all three gates of the cell at {where}, "
            f"found {[None if d is None else d.shape for d in diagonals]}"
        )
    w_i_diag, w_f_diag, w_o_diag = present
    return w_i_diag, w_f_diag, w_o_diag
