"""BlockLSTM variants with no exact single ONNX LSTM node take the exact op, three ways.

Each case asserts the path it took and why, agreement within 1e-5 on every pair, and that no
TF ``cell_clip`` ever became ONNX ``clip`` (which bounds gate inputs, not the cell state).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pytest

from pipeline.sources.example import BlockLstmSpec
from pipeline.tf_to_onnx.records import EXACT_PATH, FUSED_PATH
from tests.end_to_end.helpers import convert_block_lstm, describe_errors

BASE = BlockLstmSpec(input_size=5, hidden_size=6, steps=7, batch=3, weight_scale=0.5)
CLIPPING = replace(BASE, cell_clip=0.5, weight_scale=1.5, extra_outputs=("cs",))

CASES = [
    pytest.param(CLIPPING, EXACT_PATH, "cell_clip=0.5", id="clip-0.5"),
    pytest.param(
        replace(CLIPPING, use_peephole=True, initial_state_inputs=True),
        EXACT_PATH,
        "cell_clip=0.5",
        id="clip-with-peepholes",
    ),
    pytest.param(
        replace(CLIPPING, version=2, seq_len_max=5), EXACT_PATH, "cell_clip=0.5", id="v2-clip-len5"
    ),
    pytest.param(
        replace(BASE, cell_clip=None, weight_scale=1.5), EXACT_PATH, "cell_clip=3", id="v1-default"
    ),
    pytest.param(
        replace(BASE, extra_outputs=("i", "cs", "f", "o", "ci", "co"), use_peephole=True),
        EXACT_PATH,
        "gate outputs ['i', 'f', 'o', 'ci', 'co']",
        id="gates-and-cs",
    ),
    pytest.param(
        replace(BASE, batch=5, sequence_lengths=(3, 0, 7, 1, 0), initial_state_inputs=True),
        EXACT_PATH,
        "reads the cell-state sequence",
        id="wrapper-lengths-with-0",
    ),
    pytest.param(
        replace(BASE, seq_len_max=4, initial_state_inputs=True),
        FUSED_PATH,
        "cs read at its last step only",
        id="len4-final-states-fused",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("spec", "path", "reason"), CASES)
def test_block_lstm_variant_takes_its_exact_path_and_agrees_three_ways(
    framework_workers, tmp_path, spec, path, reason
):
    result = convert_block_lstm(framework_workers, spec, tmp_path)

    assert result.passed, describe_errors(result)
    assert max(row.max_abs_error for row in result.comparison.rows) < 1e-5
    (node,) = result.recurrent_nodes
    assert node.path == path
    assert reason in node.reason
    model = onnx.load(tmp_path / "out" / "model.onnx")
    clips = [a for n in model.graph.node if n.op_type == "LSTM" for a in n.attribute]
    assert "clip" not in {attribute.name for attribute in clips}
    if spec.cell_clip and spec.cell_clip > 0 and "cs" in spec.extra_outputs:
        cs = np.load(tmp_path / "out" / "reference.npz")["cs_seq:0"]
        assert np.isclose(np.abs(cs).max(), spec.cell_clip), "the weights must make TF clip"
