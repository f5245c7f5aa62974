"""Which outputs a Keras file's export holds, and how its refusals name activations.

Keras builds, saves and runs each model in the TF worker; the reference is Keras itself.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from pipeline.config import config_from_model_path
from pipeline.convert import convert_model
from pipeline.errors import NoExactConversionError, SourceError
from tests.keras_models import KerasCase, export_built, three_way_agreement

ATOL = 1e-5


def _build(workers, case: KerasCase, folder) -> dict:
    return workers.run_tf(
        "tests.keras_models:build_case", case, str(folder), timeout=300, model="keras test"
    )


def _export(workers, built: dict, folder, outputs: list[str] | None = None) -> dict:
    return export_built(workers, built, folder, outputs)[0]


@pytest.mark.slow
def test_only_the_requested_keras_outputs_are_exported_in_the_order_asked(
    framework_workers, tmp_path
):
    built = _build(framework_workers, KerasCase("LSTM", return_state=True), tmp_path)

    _export(framework_workers, built, tmp_path, ["rnn0:2", "rnn0:0"])

    graph = onnx.load(tmp_path / "model.onnx").graph
    assert [output.name for output in graph.output] == ["rnn0:2", "rnn0:0"]
    # Nothing computes rnn0:1 any more: every node feeds another node or a graph output.
    used = {name for node in graph.node for name in node.input} | {"rnn0:2", "rnn0:0"}
    assert all(set(node.output) & used for node in graph.node)
    (lstm,) = [node for node in graph.node if node.op_type == "LSTM"]
    assert lstm.output[1] not in used  # Y_h, the LSTM's h
    agreement = three_way_agreement(
        framework_workers, tmp_path / "model.onnx", built["inputs_npz"], tmp_path / "reference.npz"
    )
    assert agreement.worst <= ATOL, agreement.describe()


@pytest.mark.slow
def test_an_output_the_keras_model_lacks_is_refused_by_name(framework_workers, tmp_path):
    built = _build(framework_workers, KerasCase("GRU"), tmp_path)

    with pytest.raises(SourceError) as refusal:
        _export(framework_workers, built, tmp_path, ["rnn0:1"])

    assert "['rnn0:1'] are not outputs" in str(refusal.value)
    assert "['rnn0:0']" in str(refusal.value)
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.slow
def test_a_tensor_the_keras_model_returns_twice_is_one_output(framework_workers, tmp_path):
    built = framework_workers.run_tf(
        "tests.keras_models:build_repeated_output", str(tmp_path), timeout=300, model="keras test"
    )
    described = framework_workers.run_tf(
        "tests.keras_models:describe_model", built["path"], timeout=300, model="keras test"
    )
    assert described["outputs"] == ["lstm:0"]

    _export(framework_workers, built, tmp_path)

    graph = onnx.load(tmp_path / "model.onnx").graph
    assert [output.name for output in graph.output] == ["lstm:0"]
    agreement = three_way_agreement(
        framework_workers,
        tmp_path / "model.onnx",
        built["inputs_npz"],
        tmp_path / "keras_outputs.npz",
    )
    assert agreement.worst <= ATOL, agreement.describe()


@pytest.mark.slow
def test_an_activation_refusal_lists_only_names_keras_users_write(framework_workers, tmp_path):
    path = framework_workers.run_tf(
        "tests.keras_models:build_refused", "activation", str(tmp_path), timeout=300,
        model="keras test",
    )  # fmt: skip

    with pytest.raises(NoExactConversionError) as refusal:
        _export(framework_workers, {"path": path, "inputs_npz": ""}, tmp_path)

    message = str(refusal.value)
    assert "activation='gelu'" in message
    assert "'hard_sigmoid'" in message
    assert "keras2" not in message


@pytest.mark.slow
def test_a_conversion_asked_for_one_keras_output_publishes_only_that_one(
    framework_workers, tmp_path
):
    """The whole command: ``--outputs`` names what every artifact holds, not only what is
    compared."""
    built = _build(framework_workers, KerasCase("LSTM", return_state=True), tmp_path)
    options = {
        "outputs": ["rnn0:2"],
        "inputs_npz": built["inputs_npz"],
        "output_dir": tmp_path / "out",
    }

    result = convert_model(config_from_model_path(built["path"], options), framework_workers)

    assert result.passed
    graph = onnx.load(tmp_path / "out" / "model.onnx").graph
    assert [output.name for output in graph.output] == ["rnn0:2"]
    with np.load(tmp_path / "out" / "outputs.npz") as outputs:
        assert sorted(outputs.files) == [
            "onnxruntime/rnn0:2",
            "torch.export/rnn0:2",
            "torch/rnn0:2",
        ]
