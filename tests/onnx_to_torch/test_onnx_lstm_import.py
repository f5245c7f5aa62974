"""Imported ONNX LSTM nodes compute what onnxruntime computes, within 1e-5."""

from __future__ import annotations

import pytest
from onnx2torch.node_converters.registry import get_converter

from pipeline.onnx_to_torch.fused_module import FusedRecurrence
from pipeline.onnx_to_torch.importer import import_onnx
from pipeline.onnx_to_torch.recurrent import convert_recurrent
from pipeline.onnx_to_torch.registry import register_converters
from tests.onnx_to_torch.onnx_lstm_models import (
    NODE_NAME,
    LstmSpec,
    assert_all_close,
    build_lstm_model,
    run_onnxruntime,
    torch_inputs,
)

MIXED = (5, 0, 2)
BIDIRECTIONAL = "bidirectional"

CASES = {
    "forward": LstmSpec(),
    "forward-opset22": LstmSpec(opset=22),
    "bidirectional": LstmSpec(direction=BIDIRECTIONAL),
    "bidirectional-opset22": LstmSpec(direction=BIDIRECTIONAL, opset=22),
    "forward-without-bias": LstmSpec(bias=False),
    "bidirectional-without-bias": LstmSpec(direction=BIDIRECTIONAL, bias=False),
    "weights-in-constant-nodes": LstmSpec(weights="constant"),
    "weights-in-constant-nodes-opset22": LstmSpec(weights="constant", opset=22),
    "initial-states-as-inputs": LstmSpec(direction=BIDIRECTIONAL, initial_states="inputs"),
    "initial-states-as-initializers": LstmSpec(initial_states="initializers"),
    "initial-states-from-other-nodes": LstmSpec(initial_states="computed"),
    "initial-h-only": LstmSpec(direction=BIDIRECTIONAL, initial_states="h_only"),
    "lengths-uniform-input": LstmSpec(lengths=(5, 5, 5)),
    "lengths-uniform-initializer": LstmSpec(lengths=(5, 5, 5), lengths_source="initializer"),
    "lengths-uniform-shorter-initializer": LstmSpec(
        lengths=(3, 3, 3), lengths_source="initializer"
    ),
    "lengths-mixed-input": LstmSpec(direction=BIDIRECTIONAL, lengths=MIXED),
    "lengths-mixed-input-with-states": LstmSpec(
        direction=BIDIRECTIONAL, lengths=MIXED, initial_states="inputs"
    ),
    "lengths-mixed-initializer": LstmSpec(
        direction=BIDIRECTIONAL, lengths=MIXED, lengths_source="initializer"
    ),
    "lengths-mixed-constant-with-states-opset22": LstmSpec(
        lengths=(2, 5, 0), lengths_source="constant", initial_states="inputs", opset=22
    ),
    "lengths-all-zero": LstmSpec(direction=BIDIRECTIONAL, lengths=(0, 0, 0)),
    "only-Y_h": LstmSpec(outputs=("", "Y_h")),
    "only-Y": LstmSpec(direction=BIDIRECTIONAL, outputs=("Y",)),
    "Y-and-Y_c": LstmSpec(outputs=("Y", "", "Y_c")),
    "outputs-listed-out-of-order": LstmSpec(graph_outputs=("Y_c", "Y", "Y_h")),
    "zero-peepholes": LstmSpec(peepholes="zero"),
    "default-activations-spelled-out": LstmSpec(
        direction=BIDIRECTIONAL, attributes={"activations": ["Sigmoid", "Tanh", "Tanh"] * 2}
    ),
}


@pytest.mark.parametrize("spec", CASES.values(), ids=CASES.keys())
def test_imported_lstm_matches_onnxruntime(spec: LstmSpec) -> None:
    model, feeds = build_lstm_model(spec)
    expected = run_onnxruntime(model, feeds)

    module = import_onnx(model)

    assert_all_close(expected, module(*torch_inputs(model, feeds)))


@pytest.mark.parametrize("op_type", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("opset", [7, 14, 17, 21, 22, 24])
def test_recurrent_converter_is_found_for_every_opset_since_7(op_type: str, opset: int) -> None:
    register_converters()

    assert get_converter(op_type, opset) is convert_recurrent


def test_registering_twice_is_harmless() -> None:
    register_converters()
    register_converters()

    assert get_converter("LSTM", 22) is convert_recurrent


def test_the_node_becomes_one_real_nn_lstm_with_the_reordered_weights() -> None:
    model, _ = build_lstm_model(LstmSpec(direction=BIDIRECTIONAL))

    module = import_onnx(model)

    lstm_modules = [m for m in module.modules() if isinstance(m, FusedRecurrence)]
    assert len(lstm_modules) == 1
    assert lstm_modules[0].node_name == NODE_NAME
    assert lstm_modules[0].rnn.bidirectional
    assert {name for name, _ in lstm_modules[0].rnn.named_parameters()} == {
        f"{kind}_l0{suffix}"
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        for suffix in ("", "_reverse")
    }


def test_constant_weight_nodes_leave_no_module_behind() -> None:
    model, _ = build_lstm_model(LstmSpec(weights="constant", opset=22))

    module = import_onnx(model)

    assert [name for name, _ in module.named_children()] == ["rnn/lstm/0"]
