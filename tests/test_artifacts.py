"""Atomic publishing: everything or nothing, and no staging folder left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.artifacts import ArtifactStaging
from pipeline.errors import ConfigError, ConversionError


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
    (output_dir / "report.json").write_text("{}")
    with pytest.raises(ConversionError, match=r"did not write \['model.pt2'\]"):
        with ArtifactStaging(output_dir) as staging:
            staging.path("model.onnx").write_bytes(b"new run")
            staging.publish(["model.onnx", "model.pt2"])
    assert (output_dir / "model.onnx").read_bytes() == b"previous run"
    assert list(tmp_path.iterdir()) == [output_dir]


def test_a_rerun_replaces_the_whole_folder_so_no_old_file_stays(tmp_path: Path) -> None:
    output_dir = tmp_path / "model"
    output_dir.mkdir()
    (output_dir / "report.json").write_text("old")
    (output_dir / "outputs_of_an_old_run.npz").write_bytes(b"old")

    with ArtifactStaging(output_dir) as staging:
        staging.path("report.json").write_text("new")
        staging.publish(["report.json"])

    assert sorted(path.name for path in output_dir.iterdir()) == ["report.json"]
    assert (output_dir / "report.json").read_text() == "new"
    assert list(tmp_path.iterdir()) == [output_dir]


@pytest.mark.parametrize("kind", ["file", "folder of other files"])
def test_an_output_dir_that_is_not_ours_is_refused_before_the_run(tmp_path: Path, kind) -> None:
    output_dir = tmp_path / "mine"
    if kind == "file":
        output_dir.write_text("a file")
    else:
        output_dir.mkdir()
        (output_dir / "notes.txt").write_text("keep me")

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
