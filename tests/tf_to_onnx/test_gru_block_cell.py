"""A single-step ``GRUBlockCell`` becomes one ONNX GRU step, its gates ops of their own.

tf2onnx 1.17 has no handler for the op; ours (``pipeline.tf_to_onnx.gru_block_cell``) writes
``h`` as one step of ONNX ``GRU`` (``linear_before_reset=0``) and ``r``, ``u``, ``c`` as
primitive ops where the graph reads them. TensorFlow gives the expected values; onnxruntime
and torch must agree with it within 1e-5.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from pipeline.config import config_from_model_path
from pipeline.convert import convert_model
from pipeline.errors import ConversionError
from pipeline.isolation import Workers
from pipeline.tf_to_onnx.tf1_cells.names import GRU_BLOCK_STEP_PATH
from tests.end_to_end.helpers import ATOL, describe_errors
from tests.tf1_cells import BATCH, GRU_STEP_OUTPUTS, INPUT_SIZE, UNITS

ROWS = INPUT_SIZE + UNITS


def convert_step(workers: Workers, folder: Path, outputs: list[str], w_c_fed: bool = False):
    graph = workers.run_tf(
        "tests.tf1_cells:write_gru_block_step", str(folder / "step.pb"), w_c_fed,
        timeout=120, model="GRUBlockCell step builder",
    )  # fmt: skip
    inputs = {"x:0": [BATCH, INPUT_SIZE], "h_prev:0": [BATCH, UNITS]}
    if w_c_fed:
        inputs["w_c:0"] = [ROWS, UNITS]
    config = config_from_model_path(
        graph,
        {
            "inputs": [{"name": name, "shape": shape} for name, shape in inputs.items()],
            "outputs": outputs,
            "output_dir": folder / "out",
            "atol": ATOL,
            "rtol": 0.0,
        },
    )
    return convert_model(config, workers)


def gru_nodes(path: Path) -> list[onnx.NodeProto]:
    return [node for node in onnx.load(path).graph.node if node.op_type == "GRU"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "outputs", [["h:0"], GRU_STEP_OUTPUTS, ["c:0"]], ids=["h", "r-u-c-h", "c-alone"]
)
def test_gru_block_cell_step_agrees_three_ways_within_1e_5(framework_workers, tmp_path, outputs):
    result = convert_step(framework_workers, tmp_path, outputs)

    assert result.passed, describe_errors(result)
    assert {row.output for row in result.comparison.rows} == set(outputs)
    assert max(row.max_abs_error for row in result.comparison.rows) <= ATOL
    (record,) = result.recurrent_nodes
    assert (record.op, record.path) == ("GRUBlockCell", GRU_BLOCK_STEP_PATH)
    gates = [name[0] for name in outputs if name != "h:0"]
    assert ("are read" in record.reason) == bool(gates)
    grus = gru_nodes(tmp_path / "out" / "model.onnx")
    assert len(grus) == ("h:0" in outputs)
    for node in grus:
        attributes = {each.name: onnx.helper.get_attribute_value(each) for each in node.attribute}
        assert attributes["linear_before_reset"] == 0 and attributes["hidden_size"] == UNITS


def test_gru_block_cell_with_a_fed_weight_is_refused_naming_the_node(framework_workers, tmp_path):
    with pytest.raises(ConversionError) as refusal:
        convert_step(framework_workers, tmp_path, ["h:0"], w_c_fed=True)

    message = str(refusal.value)
    assert "GRUBlockCell node 'GRUBlockCell': input w_c comes from" in message
    assert "not a constant" in message
