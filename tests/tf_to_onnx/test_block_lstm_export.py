"""TF BlockLSTM graphs through our tf2onnx handlers: node counts, exactness, refusals.

TensorFlow runs in the pipeline's TF worker process; this process never imports it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

from pipeline.errors import UnsupportedOpsError
from pipeline.isolation import Workers
from pipeline.sources.example import BlockLstmSpec
from pipeline.tf_to_onnx.records import EXACT_PATH

SMALL = BlockLstmSpec(input_size=5, hidden_size=6, steps=7, batch=3)


@pytest.fixture(scope="module")
def workers():
    with Workers() as pools:
        yield pools


def export(workers: Workers, folder: Path, spec: BlockLstmSpec) -> tuple[Path, dict]:
    graph = workers.run_tf(
        "pipeline.sources.example:write_block_lstm_graph", spec, str(folder / "g.pb"),
        timeout=120, model="test",
    )  # fmt: skip
    rng = np.random.default_rng(0)
    inputs = {
        name: rng.uniform(-1, 1, shape).astype(np.float32)
        for name, shape in spec.input_shapes().items()
    }
    if spec.sequence_lengths is not None:
        inputs["sequence_length:0"] = np.array(spec.sequence_lengths, np.int32)
    np.savez(folder / "inputs.npz", **inputs)
    onnx_path = folder / "model.onnx"
    record = workers.run_tf(
        "pipeline.tf_to_onnx.stage:export_and_reference",
        graph, spec.input_names, spec.output_names, {}, str(folder / "inputs.npz"), 17,
        str(onnx_path), str(folder / "reference.npz"),
        timeout=120, model="test",
    )  # fmt: skip
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    outputs = dict(zip(spec.output_names, session.run(spec.output_names, inputs), strict=True))
    with np.load(folder / "reference.npz") as reference:
        errors = {name: float(np.abs(outputs[name] - reference[name]).max()) for name in outputs}
    return onnx_path, {"record": record, "errors": errors}


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(replace(SMALL, version=1), id="v1"),
        pytest.param(replace(SMALL, version=2, cell_clip=None), id="v2-default-clip-off"),
        pytest.param(replace(SMALL, use_peephole=True, forget_bias=0.37), id="peephole"),
        pytest.param(replace(SMALL, seq_len_max=4, initial_state_inputs=True), id="seq-len-4"),
    ],
)
def test_each_block_lstm_becomes_one_lstm_node_that_matches_tensorflow(workers, tmp_path, spec):
    onnx_path, result = export(workers, tmp_path, spec)

    op_types = [node.op_type for node in onnx.load(onnx_path).graph.node]
    assert op_types.count("LSTM") == 1
    assert not {"Loop", "Scan"} & set(op_types)
    assert result["record"]["recurrent_nodes"][0]["path"] == "fused ONNX LSTM"
    assert max(result["errors"].values()) < 1e-6, result["errors"]


@pytest.mark.parametrize(
    ("spec", "blocker"),
    [
        pytest.param(replace(SMALL, cell_clip=0.5), "cell_clip=0.5", id="cell-clip"),
        pytest.param(replace(SMALL, cell_clip=None), "cell_clip=3", id="v1-clip-absent"),
        pytest.param(replace(SMALL, extra_outputs=("f",)), "gate outputs ['f']", id="gate"),
        pytest.param(replace(SMALL, extra_outputs=("cs",)), "cell-state sequence", id="cs"),
        pytest.param(
            replace(SMALL, sequence_lengths=(4, 0, 7)), "cell-state sequence", id="lengths"
        ),
    ],
)
def test_a_variant_without_exact_single_node_form_takes_the_exact_op_and_says_why(
    workers, tmp_path, spec, blocker
):
    onnx_path, result = export(workers, tmp_path, spec)

    (record,) = result["record"]["recurrent_nodes"]
    assert record["path"] == EXACT_PATH
    assert blocker in record["reason"]
    model = onnx.load(onnx_path)
    assert [n.op_type for n in model.graph.node if n.domain == "tfrnn"] == ["BlockLSTM"]
    assert not [n for n in model.graph.node if n.op_type in ("LSTM", "Loop", "Scan")]
    assert max(result["errors"].values()) < 1e-6, result["errors"]


def test_unsupported_ops_fail_the_export_listing_every_node(workers, tmp_path):
    graph = workers.run_tf(
        "tests.tf_graphs:write_unsupported_ops_graph", str(tmp_path / "g.pb"),
        timeout=120, model="test",
    )  # fmt: skip
    np.savez(tmp_path / "inputs.npz", **{"x:0": np.ones(3, np.float32)})

    with pytest.raises(UnsupportedOpsError) as failure:
        workers.run_tf(
            "pipeline.tf_to_onnx.stage:export_and_reference",
            graph, ["x:0"], ["y:0"], {}, str(tmp_path / "inputs.npz"), 17,
            str(tmp_path / "model.onnx"), str(tmp_path / "reference.npz"),
            timeout=120, model="test",
        )  # fmt: skip

    assert "Igamma (node 'gamma')" in str(failure.value)
    assert "Zeta (node 'zeta')" in str(failure.value)
    assert not (tmp_path / "model.onnx").exists()
