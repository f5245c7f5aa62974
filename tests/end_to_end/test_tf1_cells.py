"""TF1 cells (LSTMCell with peepholes, clip and projection; BasicLSTMCell; GRUCell;
LSTMBlockCell; GRUBlockCell) under dynamic_rnn, static_rnn, bidirectional_dynamic_rnn and
MultiRNNCell, time-major and batch-major, agree three ways within 1e-5, and each takes the
path recorded for it.

Each while-loop becomes fused ONNX ``LSTM``/``GRU`` nodes where that is exact:

- tf2onnx's own rewriters: ``LSTMCell``, ``BasicLSTMCell``, ``GRUCell``, the block cells; a
  ``MultiRNNCell`` of LSTM cells; a bidirectional loop pair is merged into one node.
- our TF1 cell rewriter (``pipeline.tf_to_onnx.tf1_cells``): ``LSTMCell`` with peepholes
  (ONNX ``P``) and a ``MultiRNNCell`` of ``GRUCell``s, one node per layer and direction.

It stays an exact ``Scan`` of the cell's ops where no fused op is exact: ``LSTMCell`` with
``cell_clip`` (ONNX's ``clip`` bounds the gate inputs, not the cell state) or ``num_proj``
(ONNX LSTM has no projection). ``static_rnn`` is unrolled into plain ops and has no
recurrent node at all.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.end_to_end.helpers import convert_cell_graph, describe_errors
from tests.tf1_cells import CellGraph

CELLS = [
    "lstm",
    "lstm_peephole",
    "lstm_peephole_clip",
    "lstm_full",
    "basic_lstm",
    "gru",
    "lstm_block",
    "gru_block",
]
EXACT_SCAN_CELLS = ("lstm_peephole_clip", "lstm_full", "lstm_proj")
CASES = (
    [CellGraph(cell) for cell in CELLS]
    + [CellGraph(cell, runner="static") for cell in ("lstm_full", "gru", "lstm_block")]
    + [
        CellGraph(cell, runner="bidirectional")
        for cell in ("lstm", "gru_block", "lstm_peephole", "lstm_peephole_clip")
    ]
    + [CellGraph(cell, layers=3) for cell in ("lstm_full", "gru", "lstm_peephole")]
    + [
        CellGraph("lstm", time_major=True),
        CellGraph("gru", runner="bidirectional", time_major=True),
        CellGraph("lstm_peephole", time_major=True),
        CellGraph("lstm_peephole_clip", time_major=True),
        CellGraph("lstm_peephole", runner="bidirectional", time_major=True),
        CellGraph("gru", layers=3, time_major=True),
        CellGraph("gru", runner="bidirectional", layers=3),
    ]
)


def _taken_by_our_rewriter(spec: CellGraph) -> bool:
    return spec.cell == "lstm_peephole" or (spec.cell == "gru" and spec.layers > 1)


def _expected_recurrent_nodes(spec: CellGraph) -> Counter[str]:
    """One node per layer and direction; tf2onnx merges its two directions into one."""
    if spec.runner == "static":
        return Counter()
    directions = 2 if spec.runner == "bidirectional" else 1
    if spec.cell in EXACT_SCAN_CELLS:
        return Counter({"Scan": directions})
    op = "GRU" if spec.cell.startswith("gru") else "LSTM"
    if _taken_by_our_rewriter(spec):
        return Counter({op: spec.layers * directions})
    return Counter({op: spec.layers})


def _case_id(spec: CellGraph) -> str:
    layers = f"x{spec.layers}" if spec.layers > 1 else ""
    return f"{spec.cell}{layers}-{spec.runner}-{'time' if spec.time_major else 'batch'}-major"


@pytest.mark.slow
@pytest.mark.parametrize("spec", CASES, ids=_case_id)
def test_tf1_cell_graph_agrees_three_ways_within_1e_5(framework_workers, tmp_path, spec):
    result = convert_cell_graph(framework_workers, spec, tmp_path)

    assert result.passed, describe_errors(result)
    assert Counter(node.op for node in result.recurrent_nodes) == _expected_recurrent_nodes(spec)
    if _taken_by_our_rewriter(spec):
        paths = {node.path for node in result.recurrent_nodes}
        op = "GRU" if spec.cell == "gru" else "LSTM"
        assert paths == {f"fused ONNX {op} (our TF1 cell rewriter)"}
