"""Every row of the "no exact single-op equivalent" table (``rnn-semantics.md`` §8) takes an
exact path, never a close one: each case converts, agrees within 1e-5, and says which path.

| source feature                         | ONNX                     | torch                      |
|----------------------------------------|--------------------------|----------------------------|
| TF ``cell_clip > 0``                   | exact op, never ``clip`` | exact module               |
| ONNX ``clip``                          | -                        | exact module               |
| peepholes                              | ``P``                    | exact module               |
| projection (``num_proj``)              | exact ``Scan``           | the Scan's body            |
| GRU reset before the matmul            | ``linear_before_reset=0``| exact module               |
| ``input_forget``, other activations    | attributes               | exact module               |
| per-example lengths, including 0       | ``sequence_lens``        | packed / grouped, 0 zeroed |
| length 0 in LSTMBlockFusedCell         | exact op (initial state) | exact module               |
| whole ``cs`` sequence, gates           | exact op                 | exact module               |
"""

from __future__ import annotations

from dataclasses import replace

import onnx
import pytest
import torch

from pipeline.onnx_to_torch.exact_module import ExactRecurrence
from pipeline.onnx_to_torch.fused_module import FusedRecurrence
from pipeline.onnx_to_torch.importer import import_onnx
from pipeline.sources.example import BlockLstmSpec
from pipeline.tf_to_onnx.records import EXACT_PATH, FUSED_PATH
from tests.end_to_end.helpers import convert_block_lstm, convert_cell_graph, describe_errors
from tests.onnx_to_torch.onnx_lstm_models import max_errors
from tests.onnx_to_torch.onnx_rnn_models import RnnSpec, build_rnn_model, reference_outputs
from tests.tf1_cells import CellGraph

BASE = BlockLstmSpec(input_size=5, hidden_size=6, steps=7, batch=3, weight_scale=1.5)

TF_ROWS = {
    "tf-cell-clip": (replace(BASE, cell_clip=0.5, extra_outputs=("cs",)), EXACT_PATH, "cell_clip"),
    "peepholes": (replace(BASE, cell_clip=-1.0, use_peephole=True), FUSED_PATH, "cell_clip off"),
    "length-0-in-the-wrapper": (
        replace(BASE, cell_clip=-1.0, sequence_lengths=(4, 0, 7), initial_state_inputs=True),
        EXACT_PATH,
        "cell-state sequence",
    ),
    "gates-and-cs-read": (
        replace(BASE, cell_clip=-1.0, extra_outputs=("i", "cs", "f", "o", "ci", "co")),
        EXACT_PATH,
        "gate outputs",
    ),
}

TORCH_ROWS = {
    "onnx-clip": (RnnSpec(weight_scale=2.0, attributes={"clip": 0.7}), "clip=0.7"),
    "peepholes": (RnnSpec(peepholes=True), "P (peepholes)"),
    "gru-reset-before-matmul": (RnnSpec("GRU"), "linear_before_reset=0"),
    "input-forget": (RnnSpec(attributes={"input_forget": 1}), "input_forget=1"),
    "hard-sigmoid": (
        RnnSpec(attributes={"activations": ["HardSigmoid", "Tanh", "Tanh"]}),
        "activations",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize(("spec", "path", "reason"), TF_ROWS.values(), ids=TF_ROWS.keys())
def test_tf_feature_takes_an_exact_path_and_never_onnx_clip(
    framework_workers, tmp_path, spec, path, reason
):
    result = convert_block_lstm(framework_workers, spec, tmp_path)

    assert result.passed, describe_errors(result)
    (node,) = result.recurrent_nodes
    assert (node.path, reason in node.reason) == (path, True)
    model = onnx.load(tmp_path / "out" / "model.onnx")
    attributes = {a.name for n in model.graph.node if n.op_type == "LSTM" for a in n.attribute}
    assert "clip" not in attributes


@pytest.mark.slow
def test_a_projection_stays_an_exact_scan(framework_workers, tmp_path):
    result = convert_cell_graph(framework_workers, CellGraph("lstm_full"), tmp_path)

    assert result.passed, describe_errors(result)
    assert [node.op for node in result.recurrent_nodes] == ["Scan"]


@pytest.mark.parametrize(("spec", "named"), TORCH_ROWS.values(), ids=TORCH_ROWS.keys())
def test_onnx_feature_becomes_the_exact_module_naming_why(spec: RnnSpec, named: str) -> None:
    model, feeds = build_rnn_model(spec)

    module = import_onnx(model)

    (recurrent,) = [m for m in module.modules() if isinstance(m, ExactRecurrence)]
    assert any(named in blocker for blocker in recurrent.blockers)
    inputs = tuple(torch.from_numpy(feeds[value.name]) for value in model.graph.input)
    with torch.no_grad():
        assert max(max_errors(reference_outputs(spec), module(*inputs))) <= 1e-6


def test_lengths_including_0_stay_on_nn_lstm_and_give_zeros() -> None:
    spec = RnnSpec(lengths=(5, 0, 3))
    model, feeds = build_rnn_model(spec)

    module = import_onnx(model)

    assert [type(m) for m in module.modules() if isinstance(m, FusedRecurrence)]
    inputs = tuple(torch.from_numpy(feeds[value.name]) for value in model.graph.input)
    with torch.no_grad():
        Y, Y_h, Y_c = module(*inputs)
    assert max(max_errors(reference_outputs(spec), (Y, Y_h, Y_c))) <= 1e-6
    assert not Y[:, :, 1].any() and not Y_h[:, 1].any() and not Y_c[:, 1].any()
