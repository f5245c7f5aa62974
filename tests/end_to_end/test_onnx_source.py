"""An ONNX model as the source, through the command line: onnxruntime, expected outputs, torch.

These run the real torch worker and onnxruntime; TensorFlow takes no part and must not start.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from pipeline import cli
from pipeline.cli import commands
from pipeline.config import config_from_model_path
from pipeline.convert import convert_model
from pipeline.errors import ConversionError
from pipeline.isolation import Workers
from tests.onnx_source_models import write_backend_lstm_case, write_elementwise, write_lstm

ARTIFACTS = {"inputs.npz", "reference.npz", "model.onnx", "model.pt2", "state_dict.pt"}
ARTIFACTS |= {"outputs.npz", "report.md", "error_per_step_Y.png"}
ATOL = 1e-6


def convert(*args: str | Path) -> int:
    return cli.main(["convert", *(str(arg) for arg in args), "-q"])


def read_report(output_dir: Path) -> dict[str, Any]:
    return json.loads((output_dir / "report.json").read_text())


def max_errors(report: dict[str, Any]) -> dict[str, float]:
    """The largest max abs error of each pair, for the assertion messages."""
    errors: dict[str, float] = {}
    for row in report["comparisons"]:
        pair = f"{row['reference']} vs {row['candidate']}"
        errors[pair] = max(errors.get(pair, 0.0), row["max_abs_error"])
    return errors


@pytest.mark.slow
def test_an_onnx_lstm_converts_and_onnxruntime_and_torch_agree_without_tensorflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_lstm(tmp_path / "one_lstm.onnx")
    children_at_close: list[set[multiprocessing.Process]] = []

    class RecordingWorkers(Workers):
        def close(self, *, wait: bool = True) -> None:
            children_at_close.append(set(multiprocessing.active_children()))
            super().close(wait=wait)

    monkeypatch.setattr(commands, "Workers", RecordingWorkers)
    before = set(multiprocessing.active_children())
    output_dir = tmp_path / "out" / "one_lstm"

    status = convert(source, "--output-dir", output_dir, "--atol", ATOL, "--rtol", 0)

    report = read_report(output_dir)
    assert status == cli.EXIT_PASSED, max_errors(report)
    assert {path.name for path in output_dir.iterdir()} == ARTIFACTS | {"report.json"}
    assert report["parties"] == {
        "reference": "onnxruntime",
        "compared": ["onnxruntime", "torch", "torch.export"],
        "not_run": {},
    }
    assert max(max_errors(report).values()) <= ATOL
    assert [stage["name"] for stage in report["stages"]] == [
        "inputs", "source", "onnx_check", "torch_preflight", "onnxruntime", "torch", "compare",
    ]  # fmt: skip
    assert [(n["node"], n["op"], n["path"]) for n in report["recurrent_nodes"]] == [
        ("lstm", "LSTM", "ONNX source")
    ]
    assert len(children_at_close[0] - before) == 1, "only the torch worker may start"
    assert "tensorflow" not in sys.modules
    assert (
        capsys.readouterr()
        .out.strip()
        .splitlines()[-1]
        .startswith("PASSED: 3 outputs x 2 pairs within tolerance")
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "compared", "not_run"),
    [
        pytest.param(
            "test_lstm_defaults",
            ["expected", "onnxruntime", "torch", "torch.export"],
            [],
            id="onnxruntime-runs",
        ),
        # onnxruntime refuses layout=1, so the expected outputs are the only reference.
        pytest.param(
            "test_lstm_batchwise",
            ["expected", "torch", "torch.export"],
            ["onnxruntime"],
            id="layout-1",
        ),
    ],
)
def test_expected_outputs_from_onnx_backend_data_are_the_reference(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    compared: list[str],
    not_run: list[str],
) -> None:
    source, inputs, expected = write_backend_lstm_case(case, tmp_path)
    output_dir = tmp_path / "out"

    status = convert(
        source, "--inputs-npz", inputs, "--expected-npz", expected, "--output-dir", output_dir,
        "--atol", ATOL, "--rtol", 0,
    )  # fmt: skip

    printed = capsys.readouterr()
    assert status == cli.EXIT_PASSED, printed.err
    report = read_report(output_dir)
    assert report["parties"]["reference"] == "expected"
    assert report["parties"]["compared"] == compared
    assert list(report["parties"]["not_run"]) == not_run
    assert max(max_errors(report).values()) <= ATOL, max_errors(report)
    if not_run:
        assert "layout" in report["parties"]["not_run"]["onnxruntime"]
        assert "NOT RUN" in printed.out
        assert "Not run: onnxruntime - onnxruntime cannot load" in printed.out
        assert printed.out.strip().splitlines()[-1].endswith("; not run: onnxruntime")


@pytest.mark.slow
def test_without_onnxruntime_or_expected_outputs_there_is_no_reference_and_it_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, inputs, _ = write_backend_lstm_case("test_lstm_batchwise", tmp_path)
    output_dir = tmp_path / "out"

    status = convert(source, "--inputs-npz", inputs, "--output-dir", output_dir)

    printed = capsys.readouterr()
    assert status == cli.EXIT_MISMATCH, printed.err
    assert (
        printed.out.strip()
        .splitlines()[-1]
        .startswith(
            "FAILED: no reference to validate against (onnxruntime not run, no expected outputs"
        )
    )
    report = read_report(output_dir)
    assert report["passed"] is False and report["parties"]["reference"] is None
    assert "reference.npz" not in {path.name for path in output_dir.iterdir()}


@pytest.mark.slow
def test_ops_onnx2torch_cannot_import_are_all_named_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_elementwise(
        tmp_path / "ops.onnx", {"fine": "Tanh", "shrink_node": "Shrink", "hardmax_node": "Hardmax"}
    )

    status = convert(source, "--inputs", "X[2,3]", "--output-dir", tmp_path / "out" / "ops")

    assert status == cli.EXIT_ERROR
    error = capsys.readouterr().err
    assert "onnx2torch cannot import 2 node(s)" in error
    assert "node 'shrink_node' (Shrink) in graph: no converter for Shrink at opset 17" in error
    assert "node 'hardmax_node' (Hardmax)" in error
    assert "onnx2torch has no converter for this op" in error and "registry.py" not in error
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.slow
def test_a_node_our_converters_refuse_is_named_before_onnxruntime_runs(
    framework_workers: Workers, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = onnx.load(write_lstm(tmp_path / "lstm.onnx"))
    weight = next(t for t in model.graph.initializer if t.name == "W")
    model.graph.input.append(
        onnx.helper.make_tensor_value_info("W", weight.data_type, list(weight.dims))
    )
    model.graph.initializer.remove(weight)
    source = tmp_path / "w_input.onnx"
    onnx.save(model, source)
    config = config_from_model_path(source, {"output_dir": tmp_path / "out" / "w_input"})
    caplog.set_level(logging.INFO, logger="pipeline")

    with pytest.raises(ConversionError, match=r"(?s)LSTM node 'lstm' .*input W \('W'\)"):
        convert_model(config, framework_workers)

    assert not any(record.getMessage().startswith("onnxruntime") for record in caplog.records)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("problem", ["missing", "truncated"])
def test_an_unreadable_onnx_file_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: str
) -> None:
    source = tmp_path / "model.onnx"
    if problem == "truncated":
        source.write_bytes(write_lstm(tmp_path / "whole.onnx").read_bytes()[:300])

    status = convert(source, "--output-dir", tmp_path / "out")

    assert status == cli.EXIT_ERROR
    error = capsys.readouterr().err
    expected = "file not found" if problem == "missing" else "cannot read .* as an ONNX model"
    assert error.startswith("error: ") and re.search(expected, error)
    assert not (tmp_path / "out").exists()


def test_expected_outputs_missing_an_output_exit_2_before_any_framework_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, inputs, _ = write_backend_lstm_case("test_lstm_batchwise", tmp_path)
    np.savez(tmp_path / "partial.npz", Y=np.zeros((3, 1, 1, 7), np.float32))

    status = convert(
        source, "--inputs-npz", inputs, "--expected-npz", tmp_path / "partial.npz",
        "--output-dir", tmp_path / "out" / "m",
    )  # fmt: skip

    assert status == cli.EXIT_ERROR
    error = capsys.readouterr().err
    assert "has no array for the outputs ['Y_h']; it holds ['Y']" in error
    assert list((tmp_path / "out").iterdir()) == []
