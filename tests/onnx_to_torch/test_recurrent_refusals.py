"""What the recurrent converter still refuses, and how: before writing anything, naming the
node and the input or attribute, and saying what would be needed.

Every ONNX LSTM/GRU/RNN attribute now has an exact torch form
(``test_recurrent_attribute_grid``); only non-constant weights and malformed nodes are refused.
"""

from __future__ import annotations

import pickle

import pytest
import torch
from onnx import TensorProto, helper

from pipeline.errors import ConversionError, NoExactConversionError
from pipeline.onnx_to_torch.importer import import_onnx
from tests.onnx_to_torch.onnx_lstm_models import NODE_NAME, LstmSpec, build_lstm_model
from tests.onnx_to_torch.onnx_rnn_models import RnnSpec, build_rnn_model


def test_weights_from_a_graph_input_are_refused_naming_the_input() -> None:
    model, _ = build_lstm_model(LstmSpec())
    weight = next(tensor for tensor in model.graph.initializer if tensor.name == "R")
    model.graph.initializer.remove(weight)
    model.graph.input.append(helper.make_tensor_value_info("R", TensorProto.FLOAT, weight.dims))

    with pytest.raises(NoExactConversionError, match=r"input R \('R'\)") as refusal:
        import_onnx(model)

    assert NODE_NAME in str(refusal.value)
    assert "fold it to a constant" in str(refusal.value)


def test_peepholes_from_a_graph_input_are_refused_naming_p() -> None:
    model, _ = build_lstm_model(LstmSpec(peepholes="input"))

    with pytest.raises(NoExactConversionError, match=r"input P \('P'\)"):
        import_onnx(model)


@pytest.mark.parametrize(
    ("attributes", "named"),
    [
        ({"activations": ["Sigmoid", "Swish", "Tanh"]}, "['swish']"),
        ({"activations": ["Sigmoid", "Tanh"]}, "takes 3 functions"),
        ({"direction": "sideways"}, "direction='sideways'"),
    ],
    ids=["unknown-activation", "too-few-activations", "unknown-direction"],
)
def test_a_malformed_node_is_refused_naming_the_attribute(attributes, named) -> None:
    model, _ = build_rnn_model(RnnSpec())
    node = model.graph.node[0]
    kept = [a for a in node.attribute if a.name not in attributes]
    del node.attribute[:]
    node.attribute.extend(kept + [helper.make_attribute(k, v) for k, v in attributes.items()])

    with pytest.raises(ConversionError) as refusal:
        import_onnx(model)

    assert named in str(refusal.value)
    assert "rnn/cell.0" in str(refusal.value)


def test_a_refusal_survives_pickling_for_the_worker_process() -> None:
    model, _ = build_lstm_model(LstmSpec(peepholes="input"))
    with pytest.raises(NoExactConversionError) as refusal:
        import_onnx(model)

    copy = pickle.loads(pickle.dumps(refusal.value))

    assert str(copy) == str(refusal.value)


@pytest.mark.parametrize("spec", [RnnSpec(lengths=(5, 6, 3)), RnnSpec("GRU", lengths=(5, 6, 3))])
def test_lengths_above_the_steps_are_refused_naming_the_node(spec: RnnSpec) -> None:
    model, feeds = build_rnn_model(spec)
    module = import_onnx(model)
    inputs = tuple(torch.from_numpy(feeds[value.name]) for value in model.graph.input)

    with pytest.raises(ValueError, match=r"node 'rnn/cell.0': sequence_lens holds \[6\]"):
        module(*inputs)


def test_imported_outputs_need_no_detach() -> None:
    model, feeds = build_rnn_model(RnnSpec())
    module = import_onnx(model)
    inputs = tuple(torch.from_numpy(feeds[value.name]) for value in model.graph.input)

    assert not any(output.requires_grad for output in module(*inputs))
