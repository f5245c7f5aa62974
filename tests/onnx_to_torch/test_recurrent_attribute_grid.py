"""Every attribute of ONNX LSTM, GRU and RNN imports exactly: torch eager and the
``torch.export`` program both match onnxruntime within 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.onnx_to_torch.exact_module import ExactRecurrence
from pipeline.onnx_to_torch.fused_module import FusedRecurrence
from pipeline.onnx_to_torch.importer import import_onnx
from tests.onnx_to_torch.onnx_lstm_models import max_errors
from tests.onnx_to_torch.onnx_rnn_models import RnnSpec, build_rnn_model, reference_outputs

pytestmark = pytest.mark.filterwarnings("ignore:The tensor attributes .*_flat_weights")

ATOL = 1e-6
LENGTHS = (5, 0, 3)

# case id -> (spec, the module the node must become)
CASES = {
    "lstm-defaults": (RnnSpec(), FusedRecurrence),
    "lstm-bidirectional-states": (
        RnnSpec(direction="bidirectional", initial_states="inputs"),
        FusedRecurrence,
    ),
    "lstm-lengths-with-zero": (RnnSpec(lengths=LENGTHS), FusedRecurrence),
    "lstm-constant-lengths": (
        RnnSpec(lengths=LENGTHS, lengths_source="initializer"),
        FusedRecurrence,
    ),
    "lstm-constant-states": (RnnSpec(initial_states="initializers"), FusedRecurrence),
    "lstm-layout-1": (RnnSpec(layout=1, initial_states="inputs"), FusedRecurrence),
    "lstm-peepholes": (RnnSpec(peepholes=True, initial_states="inputs"), ExactRecurrence),
    "lstm-clip": (RnnSpec(weight_scale=2.0, attributes={"clip": 0.7}), ExactRecurrence),
    "lstm-peepholes-clip-lengths": (
        RnnSpec(peepholes=True, lengths=LENGTHS, attributes={"clip": 1.5}),
        ExactRecurrence,
    ),
    "lstm-input-forget": (RnnSpec(attributes={"input_forget": 1}), ExactRecurrence),
    "lstm-reverse-lengths": (
        RnnSpec(direction="reverse", lengths=LENGTHS, initial_states="inputs"),
        ExactRecurrence,
    ),
    "lstm-hard-sigmoid-leaky-relu": (
        RnnSpec(
            attributes={
                "activations": ["HardSigmoid", "LeakyRelu", "Tanh"],
                "activation_alpha": [0.3, 0.05],
                "activation_beta": [0.4],
            }
        ),
        ExactRecurrence,
    ),
    "lstm-bidirectional-mixed-activations-layout-1": (
        RnnSpec(
            direction="bidirectional",
            layout=1,
            lengths=LENGTHS,
            attributes={
                "activations": ["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "Softsign", "Elu"],
            },
        ),
        ExactRecurrence,
    ),
    "gru-linear-before-reset": (
        RnnSpec("GRU", attributes={"linear_before_reset": 1}, initial_states="inputs"),
        FusedRecurrence,
    ),
    "gru-linear-before-reset-bidirectional-lengths": (
        RnnSpec(
            "GRU",
            direction="bidirectional",
            lengths=LENGTHS,
            attributes={"linear_before_reset": 1},
        ),  # fmt: skip
        FusedRecurrence,
    ),
    "gru-reset-before-matmul": (RnnSpec("GRU", initial_states="inputs"), ExactRecurrence),
    "gru-reset-before-matmul-bidirectional-lengths": (
        RnnSpec("GRU", direction="bidirectional", lengths=LENGTHS),
        ExactRecurrence,
    ),
    "gru-reverse-clip": (
        RnnSpec("GRU", direction="reverse", weight_scale=2.0, attributes={"clip": 0.8}),
        ExactRecurrence,
    ),
    "gru-layout-1": (
        RnnSpec("GRU", layout=1, attributes={"linear_before_reset": 1}),
        FusedRecurrence,
    ),
    "gru-scaled-tanh-affine": (
        RnnSpec(
            "GRU",
            attributes={
                "activations": ["Affine", "ScaledTanh"],
                "activation_alpha": [0.3, 0.9],
                "activation_beta": [0.5, 1.1],
            },
        ),
        ExactRecurrence,
    ),
    "rnn-tanh": (RnnSpec("RNN", initial_states="inputs"), FusedRecurrence),
    "rnn-relu-bidirectional-lengths": (
        RnnSpec(
            "RNN",
            direction="bidirectional",
            lengths=LENGTHS,
            attributes={"activations": ["Relu", "Relu"]},
        ),
        FusedRecurrence,
    ),  # fmt: skip
    "rnn-mixed-directions": (
        RnnSpec("RNN", direction="bidirectional", attributes={"activations": ["Tanh", "Relu"]}),
        ExactRecurrence,
    ),
    "rnn-sigmoid-reverse": (
        RnnSpec("RNN", direction="reverse", attributes={"activations": ["Sigmoid"]}),
        ExactRecurrence,
    ),
    "rnn-clip-layout-1": (
        RnnSpec("RNN", layout=1, weight_scale=2.0, attributes={"clip": 0.5}),
        ExactRecurrence,
    ),
}


def _feeds(model, feeds) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(feeds[value.name]) for value in model.graph.input)


@pytest.mark.parametrize(("spec", "module_type"), CASES.values(), ids=CASES.keys())
def test_node_imports_exactly_eager_and_exported(spec: RnnSpec, module_type: type) -> None:
    model, feeds = build_rnn_model(spec)
    expected = reference_outputs(spec)

    module = import_onnx(model)
    inputs = _feeds(model, feeds)
    with torch.no_grad():
        eager = module(*inputs)
    program = torch.export.export(module, inputs).module()
    with torch.no_grad():
        exported = program(*inputs)

    recurrent = [m for m in module.modules() if isinstance(m, ExactRecurrence | FusedRecurrence)]
    assert [type(m) for m in recurrent] == [module_type]
    eager_errors, exported_errors = max_errors(expected, eager), max_errors(expected, exported)
    assert max(eager_errors + exported_errors) <= ATOL, (eager_errors, exported_errors)


def test_clip_bounds_activation_inputs_so_the_case_differs_without_it() -> None:
    clipped = RnnSpec(weight_scale=2.0, attributes={"clip": 0.7})
    unclipped = RnnSpec(weight_scale=2.0)

    difference = np.abs(reference_outputs(clipped)[0] - reference_outputs(unclipped)[0]).max()

    assert difference > 0.1
