"""Atomic publishing: everything or nothing, and no staging folder left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.artifacts import ArtifactStaging
from pipeline.errors import ConversionError


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
    with pytest.raises(ConversionError, match=r"did not write \['model.pt2'\]"):
        with ArtifactStaging(output_dir) as staging:
            staging.path("model.onnx").write_bytes(b"new run")
            staging.publish(["model.onnx", "model.pt2"])
    assert (output_dir / "model.onnx").read_bytes() == b"previous run"
    assert list(tmp_path.iterdir()) == [output_dir]
