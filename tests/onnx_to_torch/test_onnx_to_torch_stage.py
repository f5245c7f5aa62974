"""The torch stage writes outputs keyed by ONNX names, a standalone .pt2 and a state dict."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from pipeline.errors import ConversionError, NoExactConversionError
from pipeline.onnx_to_torch.stage import import_and_run
from tests.onnx_to_torch.onnx_lstm_models import (
    NODE_NAME,
    LstmSpec,
    assert_all_close,
    build_lstm_model,
    run_onnxruntime,
)

SPEC = LstmSpec(direction="bidirectional", lengths=(5, 0, 2), initial_states="inputs")

LOAD_WITHOUT_PIPELINE = """
import sys
sys.modules["pipeline"] = None  # any import of our package now fails
import numpy as np, torch
program = torch.export.load(sys.argv[1]).module()
with np.load(sys.argv[2]) as data:
    outputs = program(*(torch.from_numpy(data[name]) for name in sys.argv[4:]))
np.savez(sys.argv[3], *(t.detach().numpy() for t in outputs))
"""


def stage_paths(tmp_path: Path) -> dict[str, str]:
    names = ("outputs_npz", "program_outputs_npz", "pt2_path", "state_dict_path")
    files = ("outputs.npz", "program.npz", "model.pt2", "state.pt")
    return {name: str(tmp_path / file) for name, file in zip(names, files, strict=True)}


def write_model(tmp_path: Path, spec: LstmSpec) -> tuple[onnx.ModelProto, dict, str, str]:
    model, feeds = build_lstm_model(spec)
    onnx.save(model, tmp_path / "model.onnx")
    np.savez(tmp_path / "inputs.npz", **feeds)
    return model, feeds, str(tmp_path / "model.onnx"), str(tmp_path / "inputs.npz")


def test_stage_outputs_and_program_outputs_match_onnxruntime_by_name(tmp_path: Path) -> None:
    model, feeds, onnx_path, inputs_npz = write_model(tmp_path, SPEC)
    paths = stage_paths(tmp_path)

    import_and_run(onnx_path, inputs_npz, **paths)

    expected = run_onnxruntime(model, feeds)
    names = [value.name for value in model.graph.output]
    for key in ("outputs_npz", "program_outputs_npz"):
        with np.load(paths[key]) as written:
            assert written.files == names
            assert_all_close(expected, [written[name] for name in names])


def test_stage_returns_timings_versions_and_the_module_of_each_node(tmp_path: Path) -> None:
    _, _, onnx_path, inputs_npz = write_model(tmp_path, SPEC)

    result = import_and_run(onnx_path, inputs_npz, **stage_paths(tmp_path))

    assert set(result["timings"]) == {"torch_import", "torch_run", "torch_export"}
    assert result["versions"] == {"torch": torch.__version__, "onnx2torch": "1.5.15"}
    assert [(m["node"], m["op"], m["module"]) for m in result["modules"]] == [
        (NODE_NAME, "LSTM", "torch.nn.LSTM")
    ]
    pickle.dumps(result)


def test_state_dict_holds_the_nn_lstm_parameters(tmp_path: Path) -> None:
    _, _, onnx_path, inputs_npz = write_model(tmp_path, SPEC)
    paths = stage_paths(tmp_path)

    import_and_run(onnx_path, inputs_npz, **paths)

    state = torch.load(paths["state_dict_path"])
    assert sorted(state) == sorted(
        f"rnn/lstm/0.rnn.{kind}_l0{suffix}"
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        for suffix in ("", "_reverse")
    )


def test_saved_program_runs_without_the_pipeline_package(tmp_path: Path) -> None:
    model, feeds, onnx_path, inputs_npz = write_model(tmp_path, SPEC)
    paths = stage_paths(tmp_path)
    import_and_run(onnx_path, inputs_npz, **paths)
    input_names = [value.name for value in model.graph.input]

    command = [sys.executable, "-c", LOAD_WITHOUT_PIPELINE, paths["pt2_path"], inputs_npz]
    command += [str(tmp_path / "standalone.npz"), *input_names]
    subprocess.run(command, check=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})

    with np.load(tmp_path / "standalone.npz") as written:
        actual = [written[f"arr_{index}"] for index in range(len(written.files))]
    assert_all_close(run_onnxruntime(model, feeds), actual)


def test_stage_refusal_is_a_picklable_pipeline_error(tmp_path: Path) -> None:
    _, _, onnx_path, inputs_npz = write_model(tmp_path, LstmSpec(peepholes="input"))

    with pytest.raises(NoExactConversionError) as refusal:
        import_and_run(onnx_path, inputs_npz, **stage_paths(tmp_path))

    assert "input P" in str(pickle.loads(pickle.dumps(refusal.value)))


def test_stage_names_the_graph_inputs_missing_from_the_inputs_file(tmp_path: Path) -> None:
    _, feeds, onnx_path, _ = write_model(tmp_path, SPEC)
    np.savez(tmp_path / "partial.npz", **{"x:0": feeds["x:0"]})

    with pytest.raises(ConversionError, match="sequence_lens"):
        import_and_run(onnx_path, str(tmp_path / "partial.npz"), **stage_paths(tmp_path))
