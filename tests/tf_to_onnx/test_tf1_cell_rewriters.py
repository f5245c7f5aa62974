"""Our TF1 cell rewriter: peephole LSTMCells and LSTMBlockCells, and MultiRNNCells of GRUCells,
become fused nodes.

tf2onnx 1.17 leaves these loops as a generic Scan; our rewriter (``custom_rewriter`` hook)
matches the Scan's body and writes one ONNX LSTM/GRU per layer and direction, or keeps the
Scan where no fused op is exact (a ``cell_clip``), and says where the body differed.
TensorFlow runs in the pipeline's TF worker; onnxruntime checks the ONNX model against TF's
own outputs here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import numpy_helper

from pipeline.isolation import Workers
from pipeline.tf_to_onnx.tf1_cells import names
from tests.tf1_cells import CellGraph

ATOL = 1e-5
OUTPUTS = ["y:0", "state:0"]


def export(workers: Workers, folder: Path, spec: CellGraph) -> tuple[onnx.ModelProto, dict]:
    """The ONNX model of ``spec``'s graph, its export record, and its max abs error vs TF."""
    graph = workers.run_tf(
        "tests.tf1_cells:write_cell_graph", spec, str(folder / "cell.pb"),
        timeout=120, model="test",
    )  # fmt: skip
    x = np.random.default_rng(0).uniform(-1, 1, spec.input_shape).astype(np.float32)
    np.savez(folder / "inputs.npz", **{"x:0": x})
    onnx_path = folder / "model.onnx"
    record = workers.run_tf(
        "pipeline.tf_to_onnx.stage:export_and_reference",
        graph, ["x:0"], OUTPUTS, {}, str(folder / "inputs.npz"), 17, str(onnx_path),
        str(folder / "reference.npz"), {"x:0": spec.input_shape},
        timeout=120, model="test",
    )  # fmt: skip
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    outputs = session.run(OUTPUTS, {"x:0": x})
    with np.load(folder / "reference.npz") as reference:
        record["error"] = max(
            float(np.abs(output - reference[name]).max())
            for name, output in zip(OUTPUTS, outputs, strict=True)
        )
    record["graph"] = graph
    return onnx.load(onnx_path), record


def recurrent_nodes(model: onnx.ModelProto, op_type: str) -> list[onnx.NodeProto]:
    return [node for node in model.graph.node if node.op_type == op_type]


def initializer(model: onnx.ModelProto, name: str) -> np.ndarray:
    (found,) = [each for each in model.graph.initializer if each.name == name]
    return numpy_helper.to_array(found)


def attribute(node: onnx.NodeProto, name: str) -> object:
    (found,) = [each for each in node.attribute if each.name == name]
    return onnx.helper.get_attribute_value(found)


@pytest.mark.parametrize("time_major", [False, True], ids=["batch-major", "time-major"])
def test_peephole_lstm_cell_becomes_one_onnx_lstm_whose_p_is_w_i_w_o_w_f(
    framework_workers, tmp_path, time_major
):
    model, record = export(
        framework_workers, tmp_path, CellGraph("lstm_peephole", time_major=time_major)
    )

    (lstm,) = recurrent_nodes(model, "LSTM")
    assert not recurrent_nodes(model, "Scan") and not recurrent_nodes(model, "Loop")
    diagonals = framework_workers.run_tf(
        "tests.tf1_cells:read_constants", record["graph"], ["w_i_diag", "w_o_diag", "w_f_diag"],
        timeout=60, model="test",
    )  # fmt: skip
    expected_p = np.concatenate(
        [diagonals[f"rnn/lstm_cell/{name}"] for name in ("w_i_diag", "w_o_diag", "w_f_diag")]
    ).astype(np.float32)
    np.testing.assert_array_equal(initializer(model, lstm.input[7]), expected_p[None])
    assert attribute(lstm, "direction") == b"forward"
    assert [each["path"] for each in record["recurrent_nodes"]] == [
        "fused ONNX LSTM (our TF1 cell rewriter)"
    ]
    assert record["error"] <= ATOL


def test_each_direction_of_a_bidirectional_peephole_lstm_is_one_lstm_with_p(
    framework_workers, tmp_path
):
    model, record = export(
        framework_workers, tmp_path, CellGraph("lstm_peephole", runner="bidirectional")
    )

    lstms = recurrent_nodes(model, "LSTM")
    assert len(lstms) == 2
    assert not recurrent_nodes(model, "Scan")
    assert all(len(node.input) == 8 and node.input[7] for node in lstms)
    assert record["error"] <= ATOL


def test_multi_rnn_cell_of_three_gru_cells_becomes_three_chained_grus(framework_workers, tmp_path):
    model, record = export(framework_workers, tmp_path, CellGraph("gru", layers=3))

    grus = recurrent_nodes(model, "GRU")
    assert len(grus) == 3
    assert not recurrent_nodes(model, "Scan")
    assert [attribute(node, "linear_before_reset") for node in grus] == [0, 0, 0]
    producers = {output: node for node in model.graph.node for output in node.output}
    for lower, upper in zip(grus, grus[1:], strict=False):
        squeeze = producers[upper.input[0]]
        assert squeeze.op_type == "Squeeze" and squeeze.input[0] == lower.output[0]
    assert {each["reason"] for each in record["recurrent_nodes"]} == {names.REASONS["gru_cell"]}
    assert record["error"] <= ATOL


@pytest.mark.parametrize("cell", ["lstm_peephole_clip", "lstm_full"])
def test_a_cell_clip_keeps_the_exact_scan(framework_workers, tmp_path, cell):
    model, record = export(framework_workers, tmp_path, CellGraph(cell))

    assert len(recurrent_nodes(model, "Scan")) == 1
    assert not recurrent_nodes(model, "LSTM")
    assert [each["op"] for each in record["recurrent_nodes"]] == ["Scan"]
    assert record["error"] <= ATOL


def test_node_names_tell_which_cell_rewriter_wrote_them():
    assert names.cell_of(names.node_scope(names.LSTM_CELL, 2) + "_LSTM__7") == names.LSTM_CELL
    assert names.cell_of(names.node_scope(names.GRU_CELL, 0) + "_GRU__3") == names.GRU_CELL
    assert names.cell_of("rnn/lstm_cell/LSTM__12") is None


def test_peephole_lstm_block_cell_becomes_one_onnx_lstm_with_p_and_the_forget_bias_in_b(
    framework_workers, tmp_path
):
    model, record = export(framework_workers, tmp_path, CellGraph("lstm_block_peephole"))

    (lstm,) = recurrent_nodes(model, "LSTM")
    assert not recurrent_nodes(model, "Scan") and not recurrent_nodes(model, "Loop")
    weights = framework_workers.run_tf(
        "tests.tf1_cells:read_constants", record["graph"], ["wci", "wcf", "wco", "cell/bias"],
        timeout=60, model="test",
    )  # fmt: skip
    scope = "rnn/block_cell"
    expected_p = np.concatenate([weights[f"{scope}/{name}"] for name in ("wci", "wco", "wcf")])
    np.testing.assert_array_equal(initializer(model, lstm.input[7]), expected_p[None])
    units = expected_p.shape[0] // 3
    tf_forget = np.asarray(weights[f"{scope}/bias"], np.float32)[2 * units : 3 * units]
    onnx_forget = initializer(model, lstm.input[3])[0, 2 * units : 3 * units]
    np.testing.assert_allclose(onnx_forget, tf_forget + np.float32(0.7), rtol=0, atol=1e-7)
    assert [each["path"] for each in record["recurrent_nodes"]] == [
        "fused ONNX LSTM (our TF1 cell rewriter)"
    ]
    assert record["recurrent_nodes"][0]["reason"] == names.REASONS[names.LSTM_BLOCK_CELL]
    assert record["error"] <= ATOL


@pytest.mark.parametrize(
    ("cell", "clip"),
    [("lstm_block_peephole_clip", "0.5"), ("lstm_block_peephole_default_clip", "3")],
    ids=["cell_clip-0.5", "no-cell_clip-attribute-means-3"],
)
def test_a_clipping_lstm_block_cell_keeps_the_exact_scan_and_says_why(
    framework_workers, tmp_path, cell, clip
):
    model, record = export(framework_workers, tmp_path, CellGraph(cell))
    stayed = framework_workers.run_tf(
        "tests.tf1_cells:why_scans_stay", record["graph"], CellGraph(cell),
        timeout=120, model="test",
    )  # fmt: skip

    assert len(recurrent_nodes(model, "Scan")) == 1
    assert not recurrent_nodes(model, "LSTM")
    assert record["error"] <= ATOL
    (reason,) = stayed.values()
    assert f"LSTMBlockCell has cell_clip={clip}, which clips the carried cell state" in reason


def test_a_clipping_lstm_cell_scan_says_where_its_body_differs(framework_workers, tmp_path):
    spec = CellGraph("lstm_peephole_clip")
    graph = framework_workers.run_tf(
        "tests.tf1_cells:write_cell_graph", spec, str(tmp_path / "cell.pb"),
        timeout=120, model="test",
    )  # fmt: skip

    stayed = framework_workers.run_tf(
        "tests.tf1_cells:why_scans_stay", graph, spec, timeout=120, model="test"
    )

    (reason,) = stayed.values()
    assert "found a Maximum (rnn/while/lstm_cell/clip_by_value)" in reason


def test_lstm_block_cell_nodes_are_named_for_their_rewriter():
    name = names.node_scope(names.LSTM_BLOCK_CELL, 1) + "_LSTM__4"
    assert names.cell_of(name) == names.LSTM_BLOCK_CELL
    assert names.cell_of(names.node_scope(names.LSTM_CELL, 1) + "_LSTM__4") == names.LSTM_CELL
