"""LSTM nodes that nn.LSTM cannot compute exactly are refused, naming what to change."""

from __future__ import annotations

import pickle

import pytest
from onnx import TensorProto, helper

from pipeline.errors import NoExactConversionError
from pipeline.onnx_to_torch.importer import import_onnx
from tests.onnx_to_torch.onnx_lstm_models import NODE_NAME, LstmSpec, build_lstm_model

REFUSED = {
    "clip": (LstmSpec(attributes={"clip": 3.0}), "clip"),
    "input-forget": (LstmSpec(attributes={"input_forget": 1}), "input_forget"),
    "relu-activation": (
        LstmSpec(attributes={"activations": ["Sigmoid", "Relu", "Tanh"]}),
        "activations",
    ),
    "hard-sigmoid-backward": (
        LstmSpec(
            direction="bidirectional",
            attributes={"activations": ["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "Tanh", "Tanh"]},
        ),
        "activations",
    ),
    "reverse": (LstmSpec(direction="reverse"), "direction"),
    "batch-major-layout": (LstmSpec(opset=22, attributes={"layout": 1}), "layout"),
    "non-zero-peepholes": (LstmSpec(peepholes="random"), "P"),
    "peepholes-as-graph-input": (LstmSpec(peepholes="input"), "P"),
}


@pytest.mark.parametrize(("spec", "attribute"), REFUSED.values(), ids=REFUSED.keys())
def test_inexact_feature_is_refused_naming_node_attribute_and_issue(
    spec: LstmSpec, attribute: str
) -> None:
    model, _ = build_lstm_model(spec)

    with pytest.raises(NoExactConversionError) as refusal:
        import_onnx(model)

    message = str(refusal.value)
    assert attribute in message
    assert NODE_NAME in message
    assert "issue #3" in message


def test_every_inexact_feature_is_reported_at_once() -> None:
    model, _ = build_lstm_model(
        LstmSpec(peepholes="random", attributes={"clip": 1.0, "input_forget": 1})
    )

    with pytest.raises(NoExactConversionError) as refusal:
        import_onnx(model)

    assert all(name in str(refusal.value) for name in ("clip=1.0", "input_forget=1", "P "))


def test_weights_from_a_graph_input_are_refused_naming_the_input() -> None:
    model, _ = build_lstm_model(LstmSpec())
    weight = next(tensor for tensor in model.graph.initializer if tensor.name == "R")
    model.graph.initializer.remove(weight)
    model.graph.input.append(helper.make_tensor_value_info("R", TensorProto.FLOAT, weight.dims))

    with pytest.raises(NoExactConversionError, match=r"input R \('R'\)"):
        import_onnx(model)


def test_a_refusal_survives_pickling_for_the_worker_process() -> None:
    model, _ = build_lstm_model(LstmSpec(attributes={"clip": 3.0}))
    with pytest.raises(NoExactConversionError) as refusal:
        import_onnx(model)

    copy = pickle.loads(pickle.dumps(refusal.value))

    assert str(copy) == str(refusal.value)
