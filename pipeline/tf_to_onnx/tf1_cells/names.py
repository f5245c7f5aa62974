"""Names of the nodes our TF1 cell rewriters write, and what their records say.

No framework is imported here, so the export records can use these names anywhere.
"""

from __future__ import annotations

SCOPE = "tfrnn_tf1_cell"
"""Every node our rewriters write is named ``{SCOPE}_{cell}_layer{k}_...``."""

LSTM_CELL = "lstm_cell"
GRU_CELL = "gru_cell"

PATH = "our TF1 cell rewriter"
REASONS = {
    LSTM_CELL: (
        "TF1 LSTMCell matched in the loop body tf2onnx's lstm rewriter left as a Scan "
        "(it has no peephole support): peepholes map onto ONNX LSTM's P exactly"
    ),
    GRU_CELL: (
        "TF1 GRUCell matched in the loop body tf2onnx's gru rewriter left as a Scan (it takes "
        "loops of exactly one GRU cell, not a MultiRNNCell): one ONNX GRU per layer, "
        "linear_before_reset=0"
    ),
}


def node_scope(cell: str, layer: int) -> str:
    """The name prefix of the nodes written for ``layer`` of a stack of ``cell``s."""
    return f"{SCOPE}_{cell}_layer{layer}"


def cell_of(node_name: str) -> str | None:
    """The cell whose rewriter wrote ``node_name``, or None for any other node."""
    for cell in REASONS:
        if node_name.startswith(f"{SCOPE}_{cell}_"):
            return cell
    return None
