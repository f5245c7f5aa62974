"""A whole conversion through stand-in framework stages: records, report, artifacts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import ModelConfig, config_from_model_path
from pipeline.convert import ARTIFACTS, StageTargets, convert_model
from pipeline.errors import StageFailedError
from pipeline.isolation import Workers
from tests import worker_stand_ins as stand_ins

STAND_INS = StageTargets(tensorflow=stand_ins.fake_tf_stage, torch=stand_ins.fake_torch_stage)


@pytest.fixture(scope="module")
def workers() -> Iterator[Workers]:
    with Workers(preload=False) as workers:
        yield workers


def make_config(tmp_path: Path, **overrides: object) -> ModelConfig:
    source = tmp_path / "tanh.pb"
    source.write_bytes(b"")
    options = {
        "inputs": [{"name": "x:0", "shape": [2, 3]}, {"name": "keep_prob:0", "value": 1.0}],
        "outputs": ["y:0"],
        "output_dir": tmp_path / "out" / "tanh",
        **overrides,
    }
    return config_from_model_path(source, options)


def test_a_conversion_publishes_every_artifact_and_a_report_built_from_the_records(
    tmp_path: Path, workers: Workers
) -> None:
    config = make_config(tmp_path)
    result = convert_model(config, workers, STAND_INS)

    assert result.passed
    assert sorted(path.name for path in config.output_dir.iterdir()) == sorted(ARTIFACTS)
    assert list((tmp_path / "out").iterdir()) == [config.output_dir]
    report = json.loads((config.output_dir / "report.json").read_text())
    assert report["passed"] is True
    assert report["verdict"] == result.comparison.verdict
    assert report["verdict"].startswith("PASSED: 1 output x 4 pairs within tolerance")
    assert [stage["name"] for stage in report["stages"]] == [
        "inputs", "tensorflow", "onnx_check", "onnxruntime", "torch", "compare",
    ]  # fmt: skip
    assert report["stages"][1]["timings"] == {"export": 0.01}
    assert report["stages"][4]["modules"] == []
    assert report["recurrent_nodes"] == [
        {"node": "rnn/lstm", "op": "BlockLSTM", "path": "onnx LSTM", "reason": "exact"}
    ]
    assert {"fake_tensorflow", "fake_torch", "onnxruntime", "numpy"} <= set(report["versions"])
    assert report["onnx"]["op_counts"] == {"Tanh": 1}
    assert report["config"]["inputs"][1] == {
        "name": "keep_prob:0", "shape": None, "dtype": "float32", "value": 1.0,
    }  # fmt: skip
    assert len(report["comparisons"]) == 4


def test_a_disagreement_is_a_failed_result_that_still_publishes_its_report(
    tmp_path: Path, workers: Workers
) -> None:
    config = make_config(tmp_path)
    stages = StageTargets(stand_ins.fake_tf_stage, stand_ins.fake_torch_stage_off_by_a_little)
    result = convert_model(config, workers, stages)

    assert not result.passed
    assert [row.passed for row in result.comparison.rows] == [True, False, False, False]
    report = json.loads((config.output_dir / "report.json").read_text())
    assert report["verdict"].startswith("FAILED: 3 of 4 comparisons out of tolerance")


def test_a_looser_tolerance_for_one_output_lets_it_pass(tmp_path: Path, workers: Workers) -> None:
    config = make_config(tmp_path, tolerances={"y:0": {"atol": 2e-3}})
    stages = StageTargets(stand_ins.fake_tf_stage, stand_ins.fake_torch_stage_off_by_a_little)
    assert convert_model(config, workers, stages).passed


def test_a_failing_stage_publishes_nothing_and_leaves_no_staging_folder(
    tmp_path: Path, workers: Workers
) -> None:
    config = make_config(tmp_path)
    stages = StageTargets(stand_ins.fake_tf_stage, stand_ins.fake_torch_stage_that_fails)
    with pytest.raises(StageFailedError, match="tanh: the torch stage failed: RuntimeError"):
        convert_model(config, workers, stages)
    assert list((tmp_path / "out").iterdir()) == []
