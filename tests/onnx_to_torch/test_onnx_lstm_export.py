"""torch.export captures the imported LSTM, and the reloaded .pt2 still matches onnxruntime."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pipeline.onnx_to_torch.importer import export_program, import_onnx
from tests.onnx_to_torch.onnx_lstm_models import (
    LstmSpec,
    assert_all_close,
    build_lstm_model,
    run_onnxruntime,
    torch_inputs,
)

MIXED = (5, 0, 2)

CASES = {
    "no-lengths": LstmSpec(direction="bidirectional", initial_states="inputs"),
    "constant-uniform-lengths": LstmSpec(lengths=(5, 5, 5), lengths_source="initializer"),
    "constant-mixed-lengths": LstmSpec(
        direction="bidirectional", lengths=MIXED, lengths_source="initializer"
    ),
    "dynamic-mixed-lengths": LstmSpec(
        direction="bidirectional", lengths=MIXED, initial_states="inputs"
    ),
    "dynamic-lengths-only-Y_c": LstmSpec(lengths=MIXED, outputs=("", "", "Y_c"), opset=22),
}


@pytest.mark.parametrize("spec", CASES.values(), ids=CASES.keys())
def test_reloaded_program_matches_onnxruntime(spec: LstmSpec, tmp_path: Path) -> None:
    model, feeds = build_lstm_model(spec)
    path = tmp_path / "model.pt2"

    export_program(import_onnx(model), torch_inputs(model, feeds), path)

    program = torch.export.load(path).module()
    assert_all_close(run_onnxruntime(model, feeds), program(*torch_inputs(model, feeds)))


def test_program_with_dynamic_lengths_is_not_specialised_to_the_example(tmp_path: Path) -> None:
    spec = LstmSpec(direction="bidirectional", lengths=MIXED, initial_states="inputs")
    model, feeds = build_lstm_model(spec)
    export_program(import_onnx(model), torch_inputs(model, feeds), tmp_path / "model.pt2")
    program = torch.export.load(tmp_path / "model.pt2").module()

    for lengths in ([1, 4, 3], [0, 0, 5], [5, 5, 5]):
        feeds["sequence_lens"] = feeds["sequence_lens"].copy()
        feeds["sequence_lens"][:] = lengths
        assert_all_close(run_onnxruntime(model, feeds), program(*torch_inputs(model, feeds)))
