"""TF1 cells with per-example lengths, 0 among them, and a fed initial state agree three ways.

An example of length 0 ends in its initial state in TF; ONNX's fused nodes give zeros
there, so the export keeps the initial state around them (``tf_to_onnx/length_zero.py``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pipeline.config import config_from_model_path
from pipeline.convert import convert_model
from pipeline.errors import ConversionError
from tests.end_to_end.helpers import ATOL, describe_errors
from tests.tf1_cells import BATCH, INPUT_SIZE, STEPS, UNITS
from tests.tf1_lengths import LENGTHS, LengthsGraph

CASES = (
    (LengthsGraph("lstm"), {"LSTM": 1}),
    (LengthsGraph("basic_lstm"), {"LSTM": 1}),
    (LengthsGraph("gru"), {"GRU": 1}),
    (LengthsGraph("lstm", bidirectional=True), {"LSTM": 1}),
    (LengthsGraph("lstm_peephole"), {"Scan": 1}),
    (LengthsGraph("gru", layers=2), {"Scan": 1}),
)


def _case_id(case) -> str:
    spec, _ = case
    return f"{spec.cell}x{spec.layers}{'-bidirectional' if spec.bidirectional else ''}"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_length_zero_keeps_the_initial_state_three_ways(framework_workers, tmp_path, case):
    spec, expected_nodes = case
    graph = framework_workers.run_tf(
        "tests.tf1_lengths:write_lengths_graph", spec, str(tmp_path / "cell.pb"),
        timeout=120, model="lengths graph builder",
    )  # fmt: skip
    rng = np.random.default_rng(3)
    arrays = {"x:0": rng.uniform(-1, 1, (BATCH, STEPS, INPUT_SIZE)).astype(np.float32)}
    arrays["lengths:0"] = np.array(LENGTHS, np.int32)
    for name in spec.state_inputs:
        arrays[name] = rng.uniform(-1, 1, (BATCH, UNITS)).astype(np.float32)
    np.savez(tmp_path / "inputs.npz", **arrays)
    config = config_from_model_path(
        graph,
        {
            "inputs": [
                {"name": name, "shape": list(value.shape), "dtype": str(value.dtype)}
                for name, value in arrays.items()
            ],
            "inputs_npz": tmp_path / "inputs.npz",
            "outputs": ["y:0", "state:0"],
            "output_dir": tmp_path / "out",
            "atol": ATOL,
            "rtol": 0.0,
        },
    )

    result = convert_model(config, framework_workers)

    assert result.passed, describe_errors(result)
    assert Counter(node.op for node in result.recurrent_nodes) == Counter(expected_nodes)


@pytest.mark.slow
def test_random_lengths_stay_within_the_steps_and_a_float_fed_length_is_refused(
    framework_workers, tmp_path
):
    """No ``inputs_npz``: the seeded lengths are drawn in [0, STEPS], which TF and onnxruntime
    both accept; without ``dtype: int32`` the lengths would be floats, refused by name."""
    spec = LengthsGraph("lstm")
    graph = framework_workers.run_tf(
        "tests.tf1_lengths:write_lengths_graph", spec, str(tmp_path / "cell.pb"),
        timeout=120, model="lengths graph builder",
    )  # fmt: skip
    floats = [{"name": "x:0", "shape": [BATCH, STEPS, INPUT_SIZE]}]
    floats += [{"name": name, "shape": [BATCH, UNITS]} for name in spec.state_inputs]

    def options(lengths: dict, folder: str) -> dict:
        inputs = [*floats, lengths]
        return {"inputs": inputs, "outputs": ["y:0"], "output_dir": tmp_path / folder}

    lengths = {"name": "lengths:0", "shape": [BATCH], "dtype": "int32"}
    for seed in range(3):
        config = config_from_model_path(graph, {**options(lengths, f"out{seed}"), "seed": seed})
        result = convert_model(config, framework_workers)
        assert result.passed, describe_errors(result)
        with np.load(tmp_path / f"out{seed}" / "inputs.npz") as inputs:
            assert 0 <= inputs["lengths:0"].min() and inputs["lengths:0"].max() <= STEPS

    untyped = config_from_model_path(graph, options({"name": "lengths:0", "shape": [BATCH]}, "f"))
    with pytest.raises(ConversionError, match="'lengths:0' is a int32 placeholder.*dtype: int32"):
        convert_model(untyped, framework_workers)
    assert not (tmp_path / "f").exists()
