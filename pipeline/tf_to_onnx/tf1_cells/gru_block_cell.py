"""Match one ``GRUBlockCell`` op in a Scan body, and map it onto ONNX ``GRU``.

``tf.contrib.rnn.GRUBlockCell`` writes one fused op per step (rnn-semantics.md §2)::

    r, u, c, h = GRUBlockCell(x_t, h_prev, w_ru [I+H, 2H], w_c [I+H, H], b_ru [2H], b_c [H])

with the math of ``GRUCell`` (reset before the candidate's matmul), so it is ONNX ``GRU``
with ``linear_before_reset=0`` and the weights of ``gru_cell.onnx_gru_weights``. tf2onnx's
gru rewriter fuses a loop of one such cell; this matcher takes the ``MultiRNNCell`` stacks
(and bidirectional pairs of them) it leaves as a Scan. The state is ``h`` (output 3); a body
that reads the gates ``r, u, c`` is left to the rewriter's check of extra ops.
"""

from __future__ import annotations

from pipeline.tf_to_onnx.tf1_cells import names
from pipeline.tf_to_onnx.tf1_cells.body_view import BodyView, NoMatch
from pipeline.tf_to_onnx.tf1_cells.cell_layer import CellLayer
from pipeline.tf_to_onnx.tf1_cells.gru_cell import gru_layer, onnx_gru_weights

GRU_BLOCK_CELL = ("GRUBlockCell",)
H_OUTPUT = 3


def match_gru_block_cell(view: BodyView, h_new: str) -> CellLayer:
    """The GRU layer whose new ``h`` is ``h_new``, output 3 of a ``GRUBlockCell``."""
    cell, index = view.output_index(h_new, GRU_BLOCK_CELL)
    if index != H_OUTPUT:
        raise NoMatch(f"expected output {H_OUTPUT} (h) of {cell.name}, found output {index}")
    x_t, h_prev, *weight_inputs = view.operands(cell, 6)
    w_ru, w_c, b_ru, b_c = (view.constant(name) for name in weight_inputs)
    units = b_c.shape[0] if b_c.ndim == 1 else 0
    rows = w_c.shape[0] if w_c.ndim == 2 else 0
    found = (w_ru.shape, w_c.shape, b_ru.shape)
    if units == 0 or rows <= units or found != ((rows, 2 * units), (rows, units), (2 * units,)):
        raise NoMatch(
            f"expected w_ru [I+H, 2H], w_c [I+H, H], b_ru [2H], b_c [H] of {cell.name}, "
            f"found {found} and {b_c.shape}"
        )
    weights = onnx_gru_weights(w_ru, b_ru, w_c, b_c)
    return gru_layer(names.GRU_BLOCK_CELL, x_t, h_prev, h_new, weights)
