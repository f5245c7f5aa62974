"""report.json is built from the records and is strict JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.config import config_from_model_path
from pipeline.report.json_report import build_report, write_report
from pipeline.validate.compare import compare_outputs
from pipeline.validate.onnx_check import OnnxModelSummary


@dataclass(frozen=True)
class Stage:
    name: str
    seconds: float
    timings: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Node:
    node: str = "rnn/BlockLSTM"
    op: str = "BlockLSTM"
    path: str = "one ONNX LSTM"
    reason: str = "exact"


def test_a_nan_error_is_written_as_a_string_and_the_file_is_strict_json(tmp_path: Path) -> None:
    source = tmp_path / "m.pb"
    source.write_bytes(b"")
    config = config_from_model_path(
        source, {"inputs": [{"name": "x:0", "shape": [1]}], "outputs": ["y:0"]}
    )
    parties = {"tensorflow": {"y:0": np.array([np.nan])}, "torch": {"y:0": np.array([1.0])}}
    comparison = compare_outputs(parties, ["y:0"], config.tolerance_for, [("tensorflow", "torch")])
    report = build_report(
        config=config,
        stages=[Stage("torch", 1.5, {"torch_run": 0.5}, {"modules": [], "name": "ignored"})],
        recurrent_nodes=[Node()],
        onnx_summary=OnnxModelSummary(17, ("x:0",), ("y:0",), {"LSTM": 1}),
        comparison=comparison,
        versions={"onnx": "1.23"},
        artifacts=["report.json"],
    )
    path = write_report(report, tmp_path / "report.json")

    loaded = json.loads(path.read_text(), parse_constant=lambda name: 1 / 0)
    assert loaded["comparisons"][0]["max_abs_error"] == "nan"
    assert loaded["passed"] is False and loaded["verdict"].startswith("FAILED")
    assert loaded["stages"] == [
        {"name": "torch", "seconds": 1.5, "timings": {"torch_run": 0.5}, "modules": []}
    ]
    assert loaded["recurrent_nodes"][0]["path"] == "one ONNX LSTM"
    assert loaded["onnx"]["op_counts"] == {"LSTM": 1}
