"""TF BlockLSTM graphs -> ONNX -> PyTorch, run for real, agree within 1e-5 on every pair.

The full grid: op version x forget_bias x peepholes x batch x steps x initial state x
seq_len_max. Input and hidden sizes (5 and 6) differ from each other and from every batch
(1, 3) and step count (1, 7). BlockLSTMV2 has no forget_bias attribute (its bias is 0), so
it appears once per other combination.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import onnx
import pytest

from pipeline.sources.example import BlockLstmSpec
from tests.end_to_end.helpers import convert_block_lstm, describe_errors

BASE = BlockLstmSpec(input_size=5, hidden_size=6, weight_scale=0.5)
CELLS = [(1, 0.0), (1, 1.0), (1, 0.37), (2, 0.0)]


def _grid() -> list:
    cases = []
    for (version, forget_bias), peephole, batch, steps, state_inputs, shorter in itertools.product(
        CELLS, (False, True), (1, 3), (1, 7), (False, True), (False, True)
    ):
        spec = replace(
            BASE,
            version=version,
            forget_bias=forget_bias,
            use_peephole=peephole,
            batch=batch,
            steps=steps,
            initial_state_inputs=state_inputs,
            seq_len_max=steps - 1 if shorter else None,
        )
        case_id = "-".join(
            [
                f"v{version}",
                f"fb{forget_bias:g}",
                "peephole" if peephole else "plain",
                f"b{batch}",
                f"t{steps}",
                "states" if state_inputs else "zeros",
                f"len{steps - 1}" if shorter else "full",
            ]
        )
        cases.append(pytest.param(spec, id=case_id))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("spec", _grid())
def test_block_lstm_agrees_three_ways_within_1e_5(framework_workers, tmp_path, spec):
    result = convert_block_lstm(framework_workers, spec, tmp_path)

    assert result.passed, describe_errors(result)
    assert max(row.max_abs_error for row in result.comparison.rows) < 1e-5
    op_types = [node.op_type for node in onnx.load(tmp_path / "out" / "model.onnx").graph.node]
    assert op_types.count("LSTM") == 1
    assert not {"Loop", "Scan"} & set(op_types)
    assert [node.path for node in result.recurrent_nodes] == ["fused ONNX LSTM"]
