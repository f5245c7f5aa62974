"""What a conversion leaves for a reader: report.md, its plots, outputs.npz, ONNX metadata."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import config_from_model_path
from pipeline.convert import StageTargets, convert_model
from pipeline.convert.fingerprint import file_sha256
from pipeline.isolation import Workers
from pipeline.report.markdown import torch_modules_table
from pipeline.report.onnx_metadata import read_metadata
from tests import worker_stand_ins as stand_ins

OFF = StageTargets(stand_ins.fake_tf_stage, stand_ins.fake_torch_stage_off_by_a_little)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def workers() -> Iterator[Workers]:
    with Workers(preload=False) as workers:
        yield workers


@pytest.fixture
def output_dir(tmp_path: Path, workers: Workers) -> Path:
    source = tmp_path / "tanh.pb"
    source.write_bytes(b"tanh")
    options = {
        "inputs": [{"name": "x:0", "shape": [7, 2, 3]}],
        "outputs": ["y:0"],
        "output_dir": tmp_path / "out",
        "tolerances": {"y:0": {"atol": 2e-3}},
    }
    convert_model(config_from_model_path(source, options), workers, OFF)
    return tmp_path / "out"


def test_report_md_holds_the_comparison_statistics_plot_stages_and_versions(
    output_dir: Path,
) -> None:
    text = (output_dir / "report.md").read_text()
    assert text.startswith("# tanh: PASSED\n")
    assert "| `y:0` | tensorflow vs torch | [7, 2, 3] | 0.001 |" in text
    for section in ("Error statistics", "Error per time step", "Stage times", "Tool versions"):
        assert f"## {section}" in text
    assert "![error per time step of y:0](error_per_step_y_0.png)" in text
    assert "| tensorflow | " in text and "| fake_torch | 0.0 |" in text


def test_the_error_per_step_plot_is_a_png_and_the_statistics_are_in_report_json(
    output_dir: Path,
) -> None:
    assert (output_dir / "error_per_step_y_0.png").read_bytes()[:8] == PNG_SIGNATURE
    report = json.loads((output_dir / "report.json").read_text())
    assert report["plots"] == {"y:0": "error_per_step_y_0.png"}
    row = next(r for r in report["statistics"] if r["candidate"] == "torch")
    assert row["max_abs"] == pytest.approx(1e-3, rel=1e-3)
    assert row["mean_abs"] == pytest.approx(1e-3, rel=1e-3)
    assert row["p99_abs"] <= row["max_abs"]
    assert row["max_rel"] >= row["p99_rel"] >= row["mean_rel"] > 0


def test_outputs_npz_keeps_every_party_but_the_reference(output_dir: Path) -> None:
    with np.load(output_dir / "outputs.npz") as stored:
        assert sorted(stored.files) == ["onnxruntime/y:0", "torch.export/y:0", "torch/y:0"]
        with np.load(output_dir / "reference.npz") as reference:
            difference = stored["torch/y:0"] - reference["y:0"]
    np.testing.assert_allclose(difference, 1e-3, rtol=1e-3)


def test_model_onnx_records_the_source_hash_versions_and_verdict(
    output_dir: Path, tmp_path: Path
) -> None:
    metadata = read_metadata(output_dir / "model.onnx")
    assert metadata["tfrnn.source_sha256"] == file_sha256(tmp_path / "tanh.pb")
    assert metadata["tfrnn.passed"] == "true"
    assert metadata["tfrnn.verdict"].startswith("PASSED: 1 output x 4 pairs")
    assert "onnxruntime" in json.loads(metadata["tfrnn.versions"])
    report = json.loads((output_dir / "report.json").read_text())
    assert metadata["tfrnn.fingerprint"] == report["fingerprint"]["sha256"]


def test_the_report_names_the_torch_module_of_each_recurrent_node_and_why() -> None:
    modules = [
        {"node": "lstm", "op": "LSTM", "module": "torch.nn.LSTM", "why_not_torch_module": []},
        {
            "node": "gru",
            "op": "GRU",
            "module": "pipeline.onnx_to_torch.exact_module.ExactRecurrence",
            "why_not_torch_module": ["linear_before_reset=0"],
        },
        {"node": "t", "op": "Transpose", "module": "onnx2torch.OnnxTranspose"},
    ]
    lines = torch_modules_table([{"name": "torch", "modules": modules}])

    assert lines[2:] == [
        "| `lstm` | LSTM | `torch.nn.LSTM` | - |",
        "| `gru` | GRU | `pipeline.onnx_to_torch.exact_module.ExactRecurrence` | "
        "linear_before_reset=0 |",
    ]
