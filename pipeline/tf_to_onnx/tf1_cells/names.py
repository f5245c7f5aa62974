"""Names of the nodes our TF1 cell rewriters write, and what their records say.

No framework is imported here, so the export records can use these names anywhere.
"""

from __future__ import annotations

SCOPE = "tfrnn_tf1_cell"
"""Every node our rewriters write is named ``{SCOPE}_{cell}_layer{k}_...``."""

LSTM_CELL = "lstm_cell"
GRU_CELL = "gru_cell"
LSTM_BLOCK_CELL = "lstm_block_cell"
GRU_BLOCK_CELL = "gru_block_cell"

PATH = "our TF1 cell rewriter"
GRU_BLOCK_STEP_PATH = "fused ONNX GRU (one step)"
"""The path of a single-step ``GRUBlockCell``, written by ``tf_to_onnx.gru_block_cell``."""

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
    LSTM_BLOCK_CELL: (
        "LSTMBlockCell matched in the loop body tf2onnx's lstm rewriter left as a Scan (it "
        "takes no peepholes): cell_clip off, forget_bias folded into B, peepholes into ONNX "
        "LSTM's P, exactly"
    ),
    GRU_BLOCK_CELL: (
        "GRUBlockCell matched in the loop body tf2onnx's gru rewriter left as a Scan (it takes "
        "loops of exactly one GRU cell, not a MultiRNNCell): one ONNX GRU per layer, "
        "linear_before_reset=0"
    ),
}


def scan_stays_reason(difference: str) -> str:
    """The record reason of a Scan our rewriter kept, from where its body differed."""
    return (
        "tf2onnx's loop rewriter wrote an exact Scan of the loop body, and our TF1 cell "
        f"rewriter kept it: {difference}"
    )


def node_scope(cell: str, layer: int) -> str:
    """The name prefix of the nodes written for ``layer`` of a stack of ``cell``s."""
    return f"{SCOPE}_{cell}_layer{layer}"


def cell_of(node_name: str) -> str | None:
    """The cell whose rewriter wrote ``node_name``, or None for any other node."""
    for cell in REASONS:
        if node_name.startswith(f"{SCOPE}_{cell}_"):
            return cell
    return None
