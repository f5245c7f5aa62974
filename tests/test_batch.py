"""A batch through stand-in stages: each bad model is its own, reruns skip, the CLI sums up."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.batch.expansion import expand_paths
from pipeline.batch.schedule import plan_batch, run_batch
from pipeline.cli import commands
from pipeline.convert import StageTargets
from pipeline.isolation import Workers
from tests import batch_stand_ins as behaviour

STAND_INS = StageTargets(behaviour.tf_stage, behaviour.torch_stage)

CONFIG = """\
defaults:
  inputs: [{name: "x:0", shape: [6, 2, 3]}]
  outputs: ["y:0"]
models:
  - {name: good-a, source: good.pb, output_dir: out/good-a}
  - {name: good-b, source: good.pb, output_dir: out/good-b, seed: 1}
  - {name: "off", source: off.pb, output_dir: out/off}
  - {name: abort, source: abort.pb, output_dir: out/abort}
  - {name: hang, source: hang.pb, output_dir: out/hang, timeout: 2}
  - {name: missing, source: missing.pb, output_dir: out/missing}
"""
EXPECTED = {
    "good-a": "passed",
    "good-b": "passed",
    "off": "mismatch",
    "abort": "failed",
    "hang": "failed",
    "missing": "failed",
}


@pytest.fixture(scope="module")
def workers() -> Iterator[Workers]:
    with Workers(preload=False, max_workers=2) as workers:
        yield workers


@pytest.fixture
def batch_folder(tmp_path: Path) -> Path:
    for name in ("good", "off", "abort", "hang"):
        (tmp_path / f"{name}.pb").write_bytes(getattr(behaviour, name.upper()))
    (tmp_path / "models.yaml").write_text(CONFIG)
    return tmp_path


def statuses(outcomes) -> dict[str, str]:
    return {outcome.name: outcome.status for outcome in outcomes}


def test_each_bad_model_is_recorded_with_its_reason_and_the_batch_goes_on(
    batch_folder: Path, workers: Workers
) -> None:
    outcomes = run_batch(
        plan_batch(expand_paths([batch_folder])), workers, jobs=2, targets=STAND_INS
    )

    assert statuses(outcomes) == EXPECTED
    reasons = {outcome.name: outcome.reason for outcome in outcomes}
    assert "SIGABRT: the tensorflow worker aborted" in reasons["abort"]
    assert "ran past its limit of 2 s" in reasons["hang"]
    assert "line 10: source: file not found" in reasons["missing"]
    assert reasons["off"].startswith("FAILED: 3 of 4 comparisons")
    good = outcomes[0]
    assert good.worst_errors["tensorflow vs torch"] == 0.0
    assert good.recurrent_paths == ("rnn/lstm (BlockLSTM): onnx LSTM",)


def test_a_rerun_skips_the_converted_models_and_force_redoes_them(
    batch_folder: Path, workers: Workers
) -> None:
    text = CONFIG.split('  - {name: "off"')[0]  # the two good models only
    (batch_folder / "models.yaml").write_text(text)
    entries = expand_paths([batch_folder])
    first = run_batch(plan_batch(entries), workers, jobs=2, targets=STAND_INS)
    report = batch_folder / "out" / "good-a" / "report.json"
    published = report.stat().st_mtime_ns

    start = time.perf_counter()
    rerun = run_batch(plan_batch(entries), workers, jobs=2, targets=STAND_INS)
    assert time.perf_counter() - start < 1.0
    assert statuses(first) == {"good-a": "passed", "good-b": "passed"}
    assert statuses(rerun) == {"good-a": "skipped", "good-b": "skipped"}
    assert rerun[0].worst_errors == first[0].worst_errors
    assert report.stat().st_mtime_ns == published

    forced = run_batch(plan_batch(entries, force=True), workers, jobs=2, targets=STAND_INS)
    assert statuses(forced) == {"good-a": "passed", "good-b": "passed"}
    assert report.stat().st_mtime_ns != published


def test_a_changed_source_or_config_is_converted_again(
    batch_folder: Path, workers: Workers
) -> None:
    text = CONFIG.split('  - {name: "off"')[0]
    (batch_folder / "models.yaml").write_text(text)
    run_batch(plan_batch(expand_paths([batch_folder])), workers, jobs=2, targets=STAND_INS)

    (batch_folder / "models.yaml").write_text(text.replace("seed: 1", "seed: 2"))
    (batch_folder / "good.pb").write_bytes(behaviour.GOOD + b" ")  # still good, new bytes
    rerun = run_batch(plan_batch(expand_paths([batch_folder])), workers, jobs=2, targets=STAND_INS)
    assert statuses(rerun) == {"good-a": "passed", "good-b": "passed"}


def test_the_batch_command_prints_a_summary_writes_the_index_and_exits_non_zero(
    batch_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(commands, "BATCH_TARGETS", STAND_INS)
    monkeypatch.setattr(commands, "Workers", functools.partial(Workers, preload=False))
    index = batch_folder / "out" / "index.md"
    log_file = batch_folder / "batch.log"
    args = ["batch", str(batch_folder), "--jobs", "2", "--index", str(index)]
    status = cli.main([*args, "-q", "--log-file", str(log_file)])

    assert status == cli.EXIT_ERROR
    output = capsys.readouterr().out
    assert (
        output.strip().splitlines()[-1].startswith("6 models in ")
        and "2 passed, 1 mismatch, 3 failed, 0 skipped" in output
    )
    for name, expected in EXPECTED.items():
        assert any(name in line and expected in line for line in output.splitlines())
    text = index.read_text()
    assert "[good-a](<good-a/report.md>) | passed" in text
    assert "[off](<off/report.md>) | mismatch" in text
    assert "| abort | failed" in text
    assert "DEBUG" in log_file.read_text()


def test_an_unchanged_mismatch_is_not_redone_and_stays_a_mismatch(
    batch_folder: Path, workers: Workers
) -> None:
    text = CONFIG.split("  - {name: abort")[0].replace("out/good-b, seed: 1", "out/good-b")
    (batch_folder / "models.yaml").write_text(text)
    run_batch(plan_batch(expand_paths([batch_folder])), workers, jobs=2, targets=STAND_INS)
    report = batch_folder / "out" / "off" / "report.json"
    published = report.stat().st_mtime_ns

    rerun = run_batch(plan_batch(expand_paths([batch_folder])), workers, jobs=2, targets=STAND_INS)
    off = next(outcome for outcome in rerun if outcome.name == "off")
    assert off.status == "mismatch"
    assert off.reason.startswith("unchanged since its last conversion, not redone; last verdict")
    assert report.stat().st_mtime_ns == published


def test_a_folder_without_configs_is_an_error_not_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["batch", str(tmp_path), "-q"])

    assert status == cli.EXIT_ERROR
    assert "no config (.yaml, .yml) found in" in capsys.readouterr().err


def test_planning_removes_staging_left_by_a_killed_run_of_a_skipped_model(
    batch_folder: Path,
) -> None:
    entries = expand_paths([batch_folder])
    output_dir = next(entry.config.output_dir for entry in entries if entry.config is not None)
    abandoned = output_dir.parent / f".{output_dir.name}.staging-999999999-abc"
    abandoned.mkdir(parents=True)

    plan_batch(entries)

    assert not abandoned.exists()
