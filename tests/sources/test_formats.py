"""The format a source path holds, the files that make it up, and their content hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import config_from_model_path
from pipeline.convert.fingerprint import fingerprint
from pipeline.sources import formats


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def saved_model_folder(root: Path) -> Path:
    touch(root / "saved_model.pb")
    touch(root / "variables" / "variables.index", "index")
    touch(root / "variables" / "variables.data-00000-of-00001", "data")
    return root


def checkpoint_files(root: Path, prefix: str = "model.ckpt") -> Path:
    touch(root / f"{prefix}.index", "index")
    touch(root / f"{prefix}.data-00000-of-00001", "data")
    return touch(root / f"{prefix}.meta", "meta")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("graph.pb", "frozen_graph"),
        ("graph.PBTXT", "frozen_graph"),
        ("model.onnx", "onnx"),
        ("model.ckpt.meta", "checkpoint"),
        ("model.keras", "keras"),
        ("model.h5", "keras"),
        ("model.hdf5", "keras"),
        ("saved_model.pb", "saved_model"),
        ("model.bin", None),
    ],
)
def test_the_format_is_detected_from_the_file_name(
    tmp_path: Path, name: str, expected: str | None
) -> None:
    assert formats.detect_format(touch(tmp_path / name)) == expected


def test_a_folder_holding_saved_model_pb_is_a_saved_model_and_another_folder_is_nothing(
    tmp_path: Path,
) -> None:
    assert formats.detect_format(saved_model_folder(tmp_path / "export")) == "saved_model"
    assert formats.detect_format(tmp_path / "export" / "variables") is None


def test_a_checkpoint_prefix_is_beside_the_meta_file_or_the_latest_of_the_checkpoint_file(
    tmp_path: Path,
) -> None:
    meta = checkpoint_files(tmp_path)
    assert formats.checkpoint_prefix(meta) == tmp_path / "model.ckpt"

    touch(tmp_path / "graph" / "model.meta", "meta")
    checkpoint_files(tmp_path / "graph", "model.ckpt-20")
    touch(tmp_path / "graph" / "checkpoint", 'model_checkpoint_path: "model.ckpt-20"\n')
    prefix = formats.checkpoint_prefix(tmp_path / "graph" / "model.meta")
    assert prefix == tmp_path / "graph" / "model.ckpt-20"


def test_a_checkpoint_without_variables_says_what_it_looked_for(tmp_path: Path) -> None:
    meta = touch(tmp_path / "model.ckpt.meta")
    with pytest.raises(FileNotFoundError, match=r"expected model.ckpt.index .* or a 'checkpoint'"):
        formats.checkpoint_prefix(meta)


def test_every_file_of_a_checkpoint_or_saved_model_is_part_of_the_source(tmp_path: Path) -> None:
    meta = checkpoint_files(tmp_path / "ckpt")
    touch(tmp_path / "ckpt" / "model.ckpt-other.index")
    names = [path.name for path in formats.source_files(meta, formats.CHECKPOINT)]
    assert names == ["model.ckpt.meta", "model.ckpt.data-00000-of-00001", "model.ckpt.index"]

    folder = saved_model_folder(tmp_path / "export")
    files = formats.source_files(folder, formats.SAVED_MODEL)
    assert [path.relative_to(folder).as_posix() for path in files] == [
        "saved_model.pb",
        "variables/variables.data-00000-of-00001",
        "variables/variables.index",
    ]


@pytest.mark.parametrize("changed", ["variables/variables.data-00000-of-00001", "saved_model.pb"])
def test_the_fingerprint_of_a_saved_model_changes_with_any_of_its_files(
    tmp_path: Path, changed: str
) -> None:
    folder = saved_model_folder(tmp_path / "export")
    config = config_from_model_path(folder, {})
    before = fingerprint(config)

    (folder / changed).write_text("new bytes")

    after = fingerprint(config)
    assert after["source_sha256"] != before["source_sha256"]
    assert after["sha256"] != before["sha256"]


def test_the_fingerprint_of_a_checkpoint_changes_with_its_variables(tmp_path: Path) -> None:
    meta = checkpoint_files(tmp_path)
    config = config_from_model_path(meta, {})
    before = fingerprint(config)["sha256"]
    (tmp_path / "model.ckpt.data-00000-of-00001").write_text("retrained")
    assert fingerprint(config)["sha256"] != before
