"""The real TF1 frozen graphs in shared/models run through the whole pipeline.

They hold no fused op (a BasicLSTMCell and a GRUCell unrolled by static_rnn) and a dropout
fed by ``keep_prob``, which is pinned to 1.0 so that the random mask folds away before export.
Expected values are the outputs TensorFlow saved beside each graph.

The graphs live in ``shared/models`` beside the repository (where CI puts it);
``SHARED_MODELS=/path/to/models`` points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from pipeline.config import config_from_model_path
from pipeline.convert import convert_model
from pipeline.errors import SourceError

MODELS = Path(
    os.environ.get("SHARED_MODELS", Path(__file__).resolve().parents[2].parent / "shared/models")
)


@pytest.fixture(autouse=True, scope="module")
def _shared_models_are_there() -> None:
    if not (MODELS / "lstm_frozen.pb").is_file():
        pytest.fail(
            f"the real TF1 graphs are not in {MODELS}: put the repository beside shared/ "
            "(as CI does), or set SHARED_MODELS to the folder holding lstm_frozen.pb",
            pytrace=False,
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_real_tf1_graph_matches_its_saved_output_three_ways(framework_workers, tmp_path, name):
    example = np.load(MODELS / f"{name}_io_example.npz")
    np.savez(tmp_path / "inputs.npz", **{"X:0": example["X"]})
    config = config_from_model_path(
        MODELS / f"{name}_frozen.pb",
        {
            "inputs": [{"name": "X:0", "shape": [1, 784]}, {"name": "keep_prob:0", "value": 1.0}],
            "inputs_npz": tmp_path / "inputs.npz",
            "outputs": ["output:0"],
            "output_dir": tmp_path / "out",
            "atol": 1e-5,
            "rtol": 0.0,
        },
    )

    result = convert_model(config, framework_workers)

    assert result.passed, result.comparison.verdict
    model = onnx.load(tmp_path / "out" / "model.onnx")
    assert not {"RandomUniformLike", "RandomUniform"} & {node.op_type for node in model.graph.node}
    session = onnxruntime.InferenceSession(model.SerializeToString())
    (ort_output,) = session.run(["output:0"], {"X:0": example["X"]})
    program = torch.export.load(tmp_path / "out" / "model.pt2")
    (torch_output,) = program.module()(torch.from_numpy(example["X"]))
    for output in (ort_output, torch_output.detach().numpy()):
        np.testing.assert_allclose(output, example["output"], rtol=0, atol=1e-5)


@pytest.mark.slow
def test_an_unpinned_keep_prob_is_refused_with_the_pin_to_use(framework_workers, tmp_path):
    config = config_from_model_path(
        MODELS / "lstm_frozen.pb",
        {
            "inputs": [{"name": "X:0", "shape": [1, 784]}],
            "outputs": ["output:0"],
            "output_dir": tmp_path / "out",
        },
    )

    with pytest.raises(SourceError, match="keep_prob") as refusal:
        convert_model(config, framework_workers)

    assert "--pin NAME:0=VALUE" in str(refusal.value)
    assert not (tmp_path / "out").exists()
