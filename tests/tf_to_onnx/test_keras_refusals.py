"""What a Keras file may not become (refusals by layer name, safe loading), and its names."""

from __future__ import annotations

import onnx
import pytest

from pipeline.errors import NoExactConversionError, SourceError
from tests.keras_models import KerasCase, three_way_agreement

ATOL = 1e-5


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "feature"),
    [
        pytest.param("activation", "activation='gelu'", id="gelu-activation"),
        pytest.param("stateful", "stateful=True", id="stateful"),
        pytest.param("generic_rnn", "a RNN layer of a LSTMCell", id="generic-rnn-layer"),
        pytest.param("wrapped", "a TimeDistributed wrapping", id="time-distributed-lstm"),
    ],
)
def test_a_layer_without_exact_fused_form_is_refused_by_name(
    framework_workers, tmp_path, kind, feature
):
    path = framework_workers.run_tf(
        "tests.keras_models:build_refused", kind, str(tmp_path), timeout=300, model="keras test"
    )

    with pytest.raises(NoExactConversionError) as refusal:
        framework_workers.run_tf(
            "tests.keras_models:export_case",
            path, "", str(tmp_path / "model.onnx"), str(tmp_path / "reference.npz"),
            timeout=300, model="keras test",
        )  # fmt: skip

    assert "Keras layer 'refused'" in str(refusal.value)
    assert feature in str(refusal.value)
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.slow
def test_a_lambda_layer_is_refused_in_safe_mode_and_converts_when_allowed(
    framework_workers, tmp_path
):
    built = framework_workers.run_tf(
        "tests.keras_models:build_lambda_model", str(tmp_path), timeout=300, model="keras test"
    )
    onnx_path, reference = tmp_path / "model.onnx", tmp_path / "reference.npz"
    arguments = (built["path"], built["inputs_npz"], str(onnx_path), str(reference))

    with pytest.raises(SourceError) as refusal:
        framework_workers.run_tf(
            "tests.keras_models:export_case", *arguments, timeout=300, model="keras test"
        )
    assert "safe_mode: false" in str(refusal.value)
    assert "--unsafe-load" in str(refusal.value)
    assert not onnx_path.exists()

    framework_workers.run_tf(
        "tests.keras_models:export_case", *arguments, False, timeout=300, model="keras test"
    )
    assert [n.op_type for n in onnx.load(onnx_path).graph.node].count("LSTM") == 1
    agreement = three_way_agreement(framework_workers, onnx_path, built["inputs_npz"], reference)
    assert agreement.worst <= ATOL, agreement.describe()


@pytest.mark.slow
def test_keras_tensors_are_named_by_layer_and_output_index(framework_workers, tmp_path):
    case = KerasCase("LSTM", return_state=True, initial_state=True)
    built = framework_workers.run_tf(
        "tests.keras_models:build_case", case, str(tmp_path), timeout=300, model="keras test"
    )

    described = framework_workers.run_tf(
        "tests.keras_models:describe_model", built["path"], timeout=300, model="keras test"
    )

    assert described["inputs"] == ["x:0", "state0:0", "state1:0"]
    assert described["outputs"] == ["rnn0:0", "rnn0:1", "rnn0:2"]
    assert described["signature"] == [
        ["x:0", "float32", [None, 5, 3]],
        ["state0:0", "float32", [None, 4]],
        ["state1:0", "float32", [None, 4]],
    ]
