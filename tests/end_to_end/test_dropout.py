"""A TF2-style dropout mask (``u >= rate``, what ``tf.compat.v1.nn.dropout`` builds) folds
away once ``keep_prob`` is 1.0: pinned, or the default of an unfed ``PlaceholderWithDefault``.
The export then holds no random op, and the model agrees three ways."""

from __future__ import annotations

import onnx
import pytest

from pipeline.config import config_from_model_path
from pipeline.convert import convert_model
from tests.end_to_end.helpers import describe_errors


@pytest.mark.slow
@pytest.mark.parametrize("keep_prob", ["placeholder", "default"])
def test_dropout_with_keep_prob_one_folds_away(framework_workers, tmp_path, keep_prob):
    source = framework_workers.run_tf(
        "tests.tf_graphs:write_dropout_before_lstm", str(tmp_path / "dropout.pb"), keep_prob,
        timeout=120, model="dropout graph builder",
    )  # fmt: skip
    inputs = [{"name": "x:0", "shape": [5, 2, 3]}]
    if keep_prob == "placeholder":
        inputs.append({"name": "keep_prob:0", "value": 1.0})
    options = {"inputs": inputs, "outputs": ["h:0"], "output_dir": tmp_path / "out"}
    result = convert_model(config_from_model_path(source, options), framework_workers)

    assert result.passed, describe_errors(result)
    model = onnx.load(tmp_path / "out" / "model.onnx")
    ops = {node.op_type for node in model.graph.node}
    assert not {"RandomUniform", "RandomUniformLike"} & ops, ops
    assert "LSTM" in ops
