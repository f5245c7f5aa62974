"""Atomic publishing: everything or nothing, and no staging folder left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.artifacts import ArtifactStaging
from pipeline.errors import ConfigError, ConversionError

OUR_REPORT = json.dumps(
    {"versions": {"pipeline": "0.1.0"}, "artifacts": ["report.json", "outputs_of_an_old_run.npz"]}
)


def test_published_files_appear_only_after_publish(tmp_path: Path) -> None:
    output_dir = tmp_path / "out" / "model"
    with ArtifactStaging(output_dir) as staging:
        staging.path("model.onnx").write_bytes(b"onnx")
        staging.path("report.json").write_text("{}")
        staging.path("scratch.npz").write_bytes(b"scratch")
        assert not output_dir.exists()
        published = staging.publish(["report.json", "model.onnx"])
    assert [path.name for path in published] == ["model.onnx", "report.json"]
    assert sorted(path.name for path in output_dir.iterdir()) == ["model.onnx", "report.json"]
    assert list((tmp_path / "out").iterdir()) == [output_dir]


def test_a_failed_run_leaves_no_file_and_no_staging_folder(tmp_path: Path) -> None:
    output_dir = tmp_path / "out" / "model"
    with pytest.raises(RuntimeError), ArtifactStaging(output_dir) as staging:
        staging.path("model.onnx").write_bytes(b"half")
        raise RuntimeError("the torch stage failed")
    assert list((tmp_path / "out").iterdir()) == []


def test_an_interrupted_run_cleans_up_too(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), ArtifactStaging(tmp_path / "model") as staging:
        staging.path("model.pt2").write_bytes(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_missing_artifact_publishes_nothing(tmp_path: Path) -> None:
    output_dir = tmp_path / "model"
    output_dir.mkdir()
    (output_dir / "model.onnx").write_bytes(b"previous run")
    (output_dir / "report.json").write_text(OUR_REPORT)
    with pytest.raises(ConversionError, match=r"did not write \['model.pt2'\]"):
        with ArtifactStaging(output_dir) as staging:
            staging.path("model.onnx").write_bytes(b"new run")
            staging.publish(["model.onnx", "model.pt2"])
    assert (output_dir / "model.onnx").read_bytes() == b"previous run"
    assert list(tmp_path.iterdir()) == [output_dir]


def test_a_rerun_removes_its_own_stale_files_and_keeps_the_users(tmp_path: Path) -> None:
    output_dir = tmp_path / "model"
    output_dir.mkdir()
    (output_dir / "report.json").write_text(OUR_REPORT)
    (output_dir / "outputs_of_an_old_run.npz").write_bytes(b"old")
    (output_dir / "my_notes.txt").write_text("keep me")

    with ArtifactStaging(output_dir) as staging:
        staging.path("report.json").write_text("new")
        staging.publish(["report.json"])

    assert sorted(path.name for path in output_dir.iterdir()) == ["my_notes.txt", "report.json"]
    assert (output_dir / "report.json").read_text() == "new"


def test_a_folder_where_an_artifact_goes_publishes_nothing(tmp_path: Path) -> None:
    output_dir = tmp_path / "model"
    (output_dir / "state_dict.pt").mkdir(parents=True)
    (output_dir / "report.json").write_text(OUR_REPORT)

    with pytest.raises(ConversionError, match=r"folders stand where \['state_dict.pt'\] go"):
        with ArtifactStaging(output_dir) as staging:
            for name in ("model.onnx", "state_dict.pt", "report.json"):
                staging.path(name).write_bytes(b"new")
            staging.publish(["model.onnx", "state_dict.pt", "report.json"])

    assert (output_dir / "report.json").read_text() == OUR_REPORT
    assert not (output_dir / "model.onnx").exists()


@pytest.mark.parametrize("kind", ["file", "folder of other files", "someone else's report"])
def test_an_output_dir_that_is_not_ours_is_refused_before_the_run(tmp_path: Path, kind) -> None:
    output_dir = tmp_path / "mine"
    if kind == "file":
        output_dir.write_text("a file")
    else:
        output_dir.mkdir()
        (output_dir / "notes.txt").write_text("keep me")
    if kind == "someone else's report":
        (output_dir / "report.json").write_text('{"tool": "someone else"}')

    with pytest.raises(ConfigError, match="output folder"):
        with ArtifactStaging(output_dir):
            pass

    assert sorted(path.name for path in tmp_path.iterdir()) == ["mine"]


def test_a_staging_folder_left_by_a_killed_run_is_removed(tmp_path: Path) -> None:
    abandoned = tmp_path / ".model.staging-999999999-abc"
    abandoned.mkdir()
    (abandoned / "model.onnx").write_bytes(b"half")

    with ArtifactStaging(tmp_path / "model") as staging:
        staging.path("report.json").write_text("{}")
        staging.publish(["report.json"])

    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]
