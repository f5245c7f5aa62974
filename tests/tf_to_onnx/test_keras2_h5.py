"""A genuine Keras 2 ``.h5`` file converts, with Keras 2's hard_sigmoid.

The file was written by tf_keras 2.21 (Keras 2), along with what Keras 2 itself computes on
its inputs (``keras2_outputs.npz``), and kept in ``tests/fixtures/keras2``, so that the test
needs no Keras 2 installed (tf-keras would replace tensorflow-cpu by the full tensorflow
wheel). To write them again, with tf-keras installed::

    python -c "from tests.keras_models import write_keras2_h5 as w; w('tests/fixtures/keras2')"

Keras 2's hard_sigmoid is ``clip(0.2x + 0.5, 0, 1)``, while Keras 3 computes
``clip(x/6 + 0.5, 0, 1)`` under the same name. That is the model's meaning as trained:
``load_keras_model`` gives such a file its Keras 2 function back, so the reference
(``run_keras``), onnxruntime and torch must all agree with Keras 2's own outputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.keras_models import export_built, three_way_agreement

ATOL = 1e-5
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "keras2"


def write_keras2_file(folder: Path) -> dict:
    """The fixture, copied into ``folder``."""
    for name in ("keras2.h5", "inputs.npz", "keras2_outputs.npz"):
        shutil.copyfile(FIXTURE / name, folder / name)
    return {"path": str(folder / "keras2.h5"), "inputs_npz": str(folder / "inputs.npz")}


@pytest.mark.slow
def test_a_keras2_h5_file_converts_with_keras2_hard_sigmoid(framework_workers, tmp_path):
    written = write_keras2_file(tmp_path)

    record, onnx_path, reference = export_built(framework_workers, written, tmp_path)

    model = onnx.load(onnx_path)
    assert sorted(n.op_type for n in model.graph.node if n.op_type in ("LSTM", "GRU")) == [
        "GRU",
        "LSTM",
    ]
    assert not {"Loop", "Scan"} & {n.op_type for n in model.graph.node}
    by_op = {n.op_type: n for n in model.graph.node}
    gru_attributes = {a.name: onnx.helper.get_attribute_value(a) for a in by_op["GRU"].attribute}
    assert gru_attributes["linear_before_reset"] == 0
    assert gru_attributes["activations"] == [b"HardSigmoid", b"Tanh"]
    assert np.allclose(gru_attributes["activation_alpha"], [0.2])
    assert [r["node"] for r in record["recurrent_nodes"]] == ["gru", "lstm"]
    with np.load(reference) as ours, np.load(tmp_path / "keras2_outputs.npz") as keras2:
        assert sorted(ours.files) == sorted(keras2.files) == ["lstm:0", "lstm:1", "lstm:2"]
        errors = {name: float(np.abs(ours[name] - keras2[name]).max()) for name in ours.files}
    assert max(errors.values()) <= ATOL, errors
    agreement = three_way_agreement(framework_workers, onnx_path, written["inputs_npz"], reference)
    assert agreement.worst <= ATOL, agreement.describe()
