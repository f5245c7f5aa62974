"""TF1 cells (LSTMCell with peepholes, clip and projection; BasicLSTMCell; GRUCell;
LSTMBlockCell; GRUBlockCell) under dynamic_rnn, static_rnn, bidirectional_dynamic_rnn and
MultiRNNCell, time-major and batch-major, agree three ways within 1e-5, and each takes the
path recorded for it.

Each while-loop becomes fused ONNX ``LSTM``/``GRU`` nodes where that is exact:

- tf2onnx's own rewriters: ``LSTMCell``, ``BasicLSTMCell``, ``GRUCell``, the block cells; a
  ``MultiRNNCell`` of LSTM cells; a bidirectional loop pair is merged into one node.
- our TF1 cell rewriter (``pipeline.tf_to_onnx.tf1_cells``): ``LSTMCell`` and
  ``LSTMBlockCell`` with peepholes (ONNX ``P``), a ``MultiRNNCell`` of either, and a
  ``MultiRNNCell`` of ``GRUCell``s or ``GRUBlockCell``s, one node per layer and direction.

It stays an exact ``Scan`` of the cell's ops where no fused op is exact: ``LSTMCell`` or
``LSTMBlockCell`` with ``cell_clip`` (ONNX's ``clip`` bounds the gate inputs, not the cell
state; an ``LSTMBlockCell`` NodeDef without the attribute clips at its default 3.0) or
``num_proj`` (ONNX LSTM has no projection), and an LSTM cell whose activation is not tanh
(tf2onnx's rewriter would drop a relu or sigmoid one). ``static_rnn`` is unrolled into plain
ops and has no recurrent node at all.
"""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.convert import convert_model
from pipeline.errors import ConversionError
from tests.end_to_end.helpers import cell_graph_config, convert_cell_graph, describe_errors
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
    "lstm_block_peephole",
    "lstm_block_peephole_clip",
    "lstm_block_peephole_default_clip",
]
EXACT_SCAN_CELLS = (
    "lstm_peephole_clip",
    "lstm_full",
    "lstm_proj",
    "lstm_block_peephole_clip",
    "lstm_block_peephole_default_clip",
    "lstm_relu",
    "basic_lstm_sigmoid",
    "basic_lstm_sigmoid+lstm",
    "lstm+lstm_relu",
)
OUR_REWRITER_CELLS = ("lstm_peephole", "lstm_block_peephole")
CASES = (
    [CellGraph(cell) for cell in CELLS]
    + [CellGraph(cell, runner="static") for cell in ("lstm_full", "gru", "lstm_block")]
    + [
        CellGraph(cell, runner="bidirectional")
        for cell in ("lstm", "gru_block", "lstm_peephole", "lstm_peephole_clip")
    ]
    + [CellGraph(cell, layers=3) for cell in ("lstm_full", "gru", "lstm_peephole")]
    + [CellGraph(cell, layers=2) for cell in ("lstm_block", "lstm_block_peephole", "gru_block")]
    + [
        CellGraph("lstm_block_peephole", runner="bidirectional"),
        CellGraph("lstm_block_peephole_clip", runner="bidirectional"),
        CellGraph("lstm_block_peephole", layers=2, runner="bidirectional", time_major=True),
        CellGraph("gru_block", layers=2, runner="bidirectional", time_major=True),
    ]
    + [
        CellGraph("lstm", time_major=True),
        CellGraph("gru", runner="bidirectional", time_major=True),
        CellGraph("lstm_peephole", time_major=True),
        CellGraph("lstm_peephole_clip", time_major=True),
        CellGraph("lstm_peephole", runner="bidirectional", time_major=True),
        CellGraph("gru", layers=3, time_major=True),
        CellGraph("gru", runner="bidirectional", layers=3),
    ]
    + [  # tf2onnx's LSTM rewriter would drop these activations: kept as exact Scans
        CellGraph("lstm_relu"),
        CellGraph("lstm_relu", layers=2),
        CellGraph("lstm_relu", runner="bidirectional", time_major=True),
        CellGraph("basic_lstm_sigmoid"),
        CellGraph("basic_lstm_sigmoid+lstm"),  # a tanh layer beside it in the same loop
        CellGraph("lstm+lstm_relu", runner="bidirectional"),
        CellGraph("gru_relu"),
    ]
)


def _taken_by_our_rewriter(spec: CellGraph) -> bool:
    stacked_gru = spec.cell in ("gru", "gru_block") and spec.layers > 1
    return spec.cell in OUR_REWRITER_CELLS or stacked_gru


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
        op = "GRU" if spec.cell.startswith("gru") else "LSTM"
        assert paths == {f"fused ONNX {op} (our TF1 cell rewriter)"}
    else:
        assert not any("our TF1 cell rewriter" in node.path for node in result.recurrent_nodes)
    for node in result.recurrent_nodes:
        if node.op == "Scan":
            assert "our TF1 cell rewriter kept it: " in node.reason, node.reason


@pytest.mark.slow
def test_a_frozen_graph_with_tf2_loops_is_refused_saying_how_to_build_it(
    framework_workers, tmp_path
):
    spec = CellGraph("lstm")
    graph = framework_workers.run_tf(
        "tests.tf1_cells:write_cell_graph_with_tf2_loops", spec, str(tmp_path / "cell.pb"),
        timeout=120, model="tf2 loop graph builder",
    )  # fmt: skip
    config = cell_graph_config(graph, spec, tmp_path)

    with pytest.raises(ConversionError, match="disable_control_flow_v2"):
        convert_model(config, framework_workers)
