"""The command line: exit statuses, the table, and one verdict line last."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.cli import commands
from pipeline.config import ModelConfig
from pipeline.convert import ConversionResult, StageTargets, convert_model
from pipeline.isolation import Workers
from tests import worker_stand_ins as stand_ins


def use_stand_ins(monkeypatch: pytest.MonkeyPatch, stages: StageTargets) -> None:
    def convert(config: ModelConfig, workers: Workers) -> ConversionResult:
        return convert_model(config, workers, stages)

    monkeypatch.setattr(commands, "convert_model", convert)
    monkeypatch.setattr(commands, "Workers", functools.partial(Workers, preload=False))


def model_args(tmp_path: Path) -> list[str]:
    source = tmp_path / "tanh.pb"
    source.write_bytes(b"")
    return [
        "convert", str(source), "--inputs", "x:0[2,3]", "--outputs", "y:0",
        "--pin", "keep_prob:0=1.0", "--output-dir", str(tmp_path / "out"), "-q",
    ]  # fmt: skip


def test_a_passing_model_prints_the_table_and_the_verdict_last_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_stand_ins(monkeypatch, StageTargets(stand_ins.fake_tf_stage, stand_ins.fake_torch_stage))
    assert cli.main(model_args(tmp_path)) == cli.EXIT_PASSED
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("PASSED: 1 output x 4 pairs within tolerance")
    table = "\n".join(lines)
    assert table.count(" PASS ") == 4
    assert "tensorflow vs torch.export" in table
    assert "rnn/lstm (BlockLSTM): onnx LSTM - exact" in table
    assert (tmp_path / "out" / "report.json").is_file()


def test_a_mismatch_exits_1_with_a_failed_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    off = StageTargets(stand_ins.fake_tf_stage, stand_ins.fake_torch_stage_off_by_a_little)
    use_stand_ins(monkeypatch, off)
    assert cli.main(model_args(tmp_path)) == cli.EXIT_MISMATCH
    output = capsys.readouterr().out
    assert output.strip().splitlines()[-1].startswith("FAILED: 3 of 4 comparisons")
    assert "FAIL" in output


def test_a_conversion_error_exits_2_with_a_plain_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["convert", str(tmp_path / "missing.pb"), "--outputs", "y:0", "-q"])
    assert status == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: invalid command line:")
    assert "MODEL: file not found" in captured.err
    assert "inputs (--inputs/--pin): required, but not given" in captured.err
    assert "Traceback" not in captured.err


def test_a_config_file_takes_overrides_from_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tanh.pb").write_bytes(b"")
    config = tmp_path / "tanh.yaml"
    config.write_text(
        "source: tanh.pb\ninputs: [{name: 'x:0', shape: [2, 3]}]\noutputs: ['y:0']\n"
        "output_dir: out\natol: 1.0e-9\nrtol: 0\n"
    )
    off = StageTargets(stand_ins.fake_tf_stage, stand_ins.fake_torch_stage_off_by_a_little)
    use_stand_ins(monkeypatch, off)
    status = cli.main(["convert", str(config), "--atol", "1e-2", "-q"])
    assert status == cli.EXIT_PASSED
    assert (tmp_path / "out" / "model.onnx").is_file()
