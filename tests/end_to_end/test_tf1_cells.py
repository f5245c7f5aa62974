"""TF1 cells (LSTMCell with peepholes, clip and projection; BasicLSTMCell; GRUCell;
LSTMBlockCell; GRUBlockCell) under dynamic_rnn, static_rnn, bidirectional_dynamic_rnn and
MultiRNNCell, time-major and batch-major, agree three ways within 1e-5, and each takes the
path recorded for it.

Each while-loop becomes one fused ONNX ``LSTM``/``GRU`` node where that is exact, and an
exact ``Scan`` of the cell's ops where it is not (``LSTMCell`` with peepholes, ``cell_clip``
and ``num_proj``: ONNX LSTM has neither projection nor a cell-state clip; and a
``MultiRNNCell``, whose one loop holds every layer, which tf2onnx's rewriters do not split
into one node per layer). ``static_rnn`` is
unrolled into plain ops and has no recurrent node at all.
"""

from __future__ import annotations

import pytest

from tests.end_to_end.helpers import convert_cell_graph, describe_errors
from tests.tf1_cells import CellGraph

CELLS = ["lstm", "lstm_full", "basic_lstm", "gru", "lstm_block", "gru_block"]
CASES = (
    [CellGraph(cell) for cell in CELLS]
    + [CellGraph(cell, runner="static") for cell in ("lstm_full", "gru", "lstm_block")]
    + [CellGraph(cell, runner="bidirectional") for cell in ("lstm", "gru_block")]
    + [CellGraph(cell, layers=3) for cell in ("lstm_full", "gru")]
    + [
        CellGraph("lstm", time_major=True),
        CellGraph("gru", runner="bidirectional", time_major=True),
    ]
)


def _expected_recurrent_ops(spec: CellGraph) -> set[str]:
    if spec.runner == "static":
        return set()
    if spec.cell == "lstm_full" or spec.layers > 1:
        return {"Scan"}
    return {"GRU"} if spec.cell.startswith("gru") else {"LSTM"}


def _case_id(spec: CellGraph) -> str:
    layers = f"x{spec.layers}" if spec.layers > 1 else ""
    return f"{spec.cell}{layers}-{spec.runner}-{'time' if spec.time_major else 'batch'}-major"


@pytest.mark.slow
@pytest.mark.parametrize("spec", CASES, ids=_case_id)
def test_tf1_cell_graph_agrees_three_ways_within_1e_5(framework_workers, tmp_path, spec):
    result = convert_cell_graph(framework_workers, spec, tmp_path)

    assert result.passed, describe_errors(result)
    assert {node.op for node in result.recurrent_nodes} == _expected_recurrent_ops(spec)
