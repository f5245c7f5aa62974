"""TensorFlow's published expected values for its cells, reproduced through ONNX and torch.

From TensorFlow's own LSTMBlockCell test: two stacked ``LSTMBlockCell(2)``, weights 0.5,
bias 0, forget_bias 1, input ``[[1, 1]]``, every state 0.1.
"""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from pipeline.config import config_from_model_path
from pipeline.convert import convert_model

PUBLISHED = {
    "c0:0": 0.68967271,
    "h0:0": 0.44848421,
    "c1:0": 0.39897051,
    "h1:0": 0.24024698,
}


@pytest.mark.slow
def test_stacked_lstm_block_cells_reproduce_tensorflows_published_values(
    framework_workers, tmp_path
):
    graph = framework_workers.run_tf(
        "tests.tf_graphs:write_stacked_lstm_block_cells", str(tmp_path / "cells.pb"),
        timeout=120, model="cells",
    )  # fmt: skip
    x = np.ones([1, 2], np.float32)
    np.savez(tmp_path / "inputs.npz", **{"x:0": x})
    config = config_from_model_path(
        graph,
        {
            "inputs": [{"name": "x:0", "shape": [1, 2]}],
            "inputs_npz": tmp_path / "inputs.npz",
            "outputs": list(PUBLISHED),
            "output_dir": tmp_path / "out",
            "atol": 1e-6,
            "rtol": 0.0,
        },
    )

    result = convert_model(config, framework_workers)

    assert result.passed, result.comparison.verdict
    out = tmp_path / "out"
    session = onnxruntime.InferenceSession(out / "model.onnx")
    onnx_values = dict(zip(PUBLISHED, session.run(list(PUBLISHED), {"x:0": x}), strict=True))
    torch_values = torch.export.load(out / "model.pt2").module()(torch.from_numpy(x))
    reference = np.load(out / "reference.npz")
    for index, (name, expected) in enumerate(PUBLISHED.items()):
        for value in (reference[name], onnx_values[name], torch_values[index].detach().numpy()):
            np.testing.assert_allclose(value, np.full([1, 2], expected), rtol=0, atol=1e-6)
