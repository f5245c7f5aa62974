"""Keras recurrent layers become one fused ONNX node each, and agree three ways with Keras.

Keras builds, saves and runs each model in the TF worker; onnxruntime runs here and torch
(our onnx2torch import) in the torch worker. The reference is Keras running the saved file.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from pipeline.isolation import Workers
from tests.keras_models import KerasCase, export_built, three_way_agreement

ATOL = 1e-5
RECURRENT_OPS = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}


def _outputs_cases() -> list:
    cases = []
    for layer, extra in (
        ("LSTM", {}),
        ("GRU", {"reset_after": True}),
        ("GRU", {"reset_after": False}),
        ("SimpleRNN", {}),
    ):
        for sequences in (True, False):
            for state in (True, False):
                name = "-".join(
                    [layer.lower()]
                    + ([f"reset-after-{extra['reset_after']}".lower()] if extra else [])
                    + ["sequences" if sequences else "last"]
                    + (["state"] if state else [])
                )
                case = KerasCase(layer, return_sequences=sequences, return_state=state, **extra)
                cases.append(pytest.param(case, id=name))
    return cases


OUTPUT_CASES = _outputs_cases()

FEATURE_CASES = [
    pytest.param(KerasCase("LSTM", return_state=True, go_backwards=True), id="lstm-go-backwards"),
    pytest.param(
        KerasCase("GRU", return_sequences=False, go_backwards=True), id="gru-go-backwards-last"
    ),
    pytest.param(KerasCase("SimpleRNN", go_backwards=True), id="simple-rnn-go-backwards"),
    pytest.param(
        KerasCase("LSTM", return_state=True, initial_state=True), id="lstm-initial-states"
    ),
    pytest.param(KerasCase("GRU", initial_state=True), id="gru-initial-state"),
    pytest.param(KerasCase("SimpleRNN", initial_state=True), id="simple-rnn-initial-state"),
    pytest.param(KerasCase("LSTM", return_state=True, stacked=True), id="lstm-stack-of-two"),
    pytest.param(KerasCase("GRU", return_sequences=False, stacked=True), id="gru-stack-of-two"),
    *[
        pytest.param(KerasCase("LSTM", merge_mode=mode), id=f"bidirectional-lstm-{mode}")
        for mode in ("concat", "sum", "mul", "ave", None)
    ],
    pytest.param(
        KerasCase("GRU", return_sequences=False, return_state=True, merge_mode=None),
        id="bidirectional-gru-last-state-none",
    ),
    pytest.param(
        KerasCase("SimpleRNN", return_state=True, merge_mode="concat", initial_state=True),
        id="bidirectional-simple-rnn-initial-states",
    ),
    pytest.param(
        KerasCase("LSTM", return_state=True, merge_mode="ave", stacked=True),
        id="bidirectional-lstm-stack",
    ),
    pytest.param(KerasCase("LSTM", return_state=True, padding="back"), id="lstm-mask-back"),
    pytest.param(KerasCase("LSTM", return_state=True, padding="front"), id="lstm-mask-front"),
    pytest.param(
        KerasCase("GRU", return_sequences=False, return_state=True, padding="front"),
        id="gru-mask-front-last",
    ),
    pytest.param(KerasCase("SimpleRNN", padding="back"), id="simple-rnn-mask-back"),
    pytest.param(
        KerasCase("LSTM", return_state=True, stacked=True, padding="front"),
        id="lstm-stack-mask-front",
    ),
    pytest.param(
        KerasCase("LSTM", return_state=True, go_backwards=True, padding="front"),
        id="lstm-mask-front-go-backwards",
    ),
    pytest.param(
        KerasCase("GRU", return_state=True, padding="front", initial_state=True),
        id="gru-mask-front-initial-state",
    ),
    pytest.param(
        KerasCase("GRU", return_state=True, padding="front", initial_state=True, empty_row=True),
        id="gru-mask-empty-row-keeps-initial-state",
    ),
    pytest.param(
        KerasCase(
            "LSTM",
            return_sequences=False,
            return_state=True,
            padding="back",
            merge_mode="concat",
            initial_state=True,
            empty_row=True,
        ),  # fmt: skip
        id="bidirectional-lstm-mask-empty-row-initial-states",
    ),
    pytest.param(
        KerasCase(
            "LSTM", return_state=True, go_backwards=True, padding="front", variable_steps=True
        ),
        id="lstm-mask-go-backwards-variable-steps",
    ),
    pytest.param(
        KerasCase("GRU", merge_mode="mul", padding="back", variable_steps=True),
        id="bidirectional-gru-mask-variable-steps",
    ),
    pytest.param(
        KerasCase("LSTM", return_state=True, padding="front", merge_mode="concat"),
        id="bidirectional-lstm-mask-front",
    ),
    pytest.param(
        KerasCase("GRU", return_sequences=False, padding="back", merge_mode="sum"),
        id="bidirectional-gru-mask-back-last",
    ),
    pytest.param(
        KerasCase("LSTM", return_state=True, padding="embedding"), id="lstm-embedding-mask-zero"
    ),
    pytest.param(
        KerasCase("GRU", return_sequences=False, padding="embedding", merge_mode=None),
        id="bidirectional-gru-embedding-mask-zero",
    ),
    pytest.param(
        KerasCase("LSTM", recurrent_activation="hard_sigmoid", activation="relu"),
        id="lstm-hard-sigmoid-relu",
    ),
    pytest.param(
        KerasCase("GRU", recurrent_activation="hard_sigmoid", activation="linear"),
        id="gru-hard-sigmoid-linear",
    ),
    pytest.param(
        KerasCase("GRU", reset_after=False, recurrent_activation="hard_sigmoid"),
        id="gru-reset-before-hard-sigmoid",
    ),
    pytest.param(KerasCase("SimpleRNN", activation="relu"), id="simple-rnn-relu"),
    pytest.param(KerasCase("SimpleRNN", activation="softsign"), id="simple-rnn-softsign"),
    pytest.param(KerasCase("SimpleRNN", activation="elu"), id="simple-rnn-elu"),
    pytest.param(KerasCase("GRU", activation="leaky_relu"), id="gru-leaky-relu"),
    pytest.param(
        KerasCase("LSTM", activation="softplus", recurrent_activation="sigmoid"),
        id="lstm-softplus",
    ),
    pytest.param(KerasCase("SimpleRNN", activation="linear"), id="simple-rnn-linear"),
    pytest.param(
        KerasCase("LSTM", activation="relu", merge_mode="concat"),
        id="bidirectional-lstm-relu",
    ),
    pytest.param(KerasCase("GRU", use_bias=False), id="gru-without-bias"),
    pytest.param(
        KerasCase("LSTM", use_bias=False, merge_mode="concat"), id="bidirectional-lstm-without-bias"
    ),
    pytest.param(KerasCase("LSTM", return_state=True, suffix=".h5"), id="lstm-h5"),
    pytest.param(
        KerasCase("GRU", reset_after=False, merge_mode="concat", suffix=".h5"),
        id="bidirectional-gru-reset-before-h5",
    ),
]


def convert(
    workers: Workers, case: KerasCase, folder: Path
) -> tuple[onnx.ModelProto, dict, Path, str]:
    built = workers.run_tf(
        "tests.keras_models:build_case", case, str(folder), timeout=300, model="keras test"
    )
    record, onnx_path, reference = export_built(workers, built, folder)
    return onnx.load(onnx_path), record, reference, built["inputs_npz"]


def assert_fused_nodes_only(model: onnx.ModelProto, case: KerasCase) -> None:
    onnx.checker.check_model(model, full_check=True)
    op_types = [node.op_type for node in model.graph.node]
    recurrent = [node for node in model.graph.node if node.op_type in ("LSTM", "GRU", "RNN")]
    assert [node.op_type for node in recurrent] == [RECURRENT_OPS[case.layer]] * case.num_layers
    assert not {"Loop", "Scan"} & set(op_types), op_types
    expected_direction = b"bidirectional" if case.bidirectional else b"forward"
    for node in recurrent:
        direction = next((a.s for a in node.attribute if a.name == "direction"), b"forward")
        assert direction == expected_direction


@pytest.mark.slow
@pytest.mark.parametrize("case", OUTPUT_CASES + FEATURE_CASES)
def test_each_keras_recurrent_layer_is_one_fused_node_that_agrees_three_ways(
    framework_workers, tmp_path, case
):
    model, record, reference, inputs_npz = convert(framework_workers, case, tmp_path)

    assert_fused_nodes_only(model, case)
    assert [r["path"] for r in record["recurrent_nodes"]] == [
        f"fused ONNX {RECURRENT_OPS[case.layer]} (Keras layer)"
    ] * case.num_layers
    assert [value.name for value in model.graph.input] == record["input_names"]
    agreement = three_way_agreement(
        framework_workers, tmp_path / "model.onnx", inputs_npz, reference
    )
    assert agreement.worst <= ATOL, agreement.describe()


@pytest.mark.slow
def test_layers_inside_nested_and_sequential_models_are_fused_too(framework_workers, tmp_path):
    built = framework_workers.run_tf(
        "tests.keras_models:build_nested", str(tmp_path), timeout=300, model="keras test"
    )

    record, onnx_path, reference = export_built(framework_workers, built, tmp_path)

    model = onnx.load(onnx_path)
    recurrent = [n.op_type for n in model.graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
    assert recurrent == ["GRU", "LSTM"]
    assert not {"Loop", "Scan"} & {n.op_type for n in model.graph.node}
    assert [r["node"] for r in record["recurrent_nodes"]] == ["gru", "lstm"]
    assert [value.name for value in model.graph.output] == ["stack:0"]
    agreement = three_way_agreement(framework_workers, onnx_path, built["inputs_npz"], reference)
    assert agreement.worst <= ATOL, agreement.describe()
