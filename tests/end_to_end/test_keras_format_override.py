"""``format: keras`` reads a Keras file whatever its suffix, by its content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.isolation import Workers
from tests.sources.conversion import build, convert_as_saved, refusal, single_output_as


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_keras_file_under_another_suffix_converts_with_the_format_override(
    framework_workers: Workers, tmp_path: Path, suffix: str
) -> None:
    saved = build(framework_workers, "write_keras_model", str(tmp_path), suffix)
    source = shutil.copyfile(saved, tmp_path / "lstm.model")

    keys = single_output_as("y")
    convert_as_saved(framework_workers, source, tmp_path, keys=keys, format="keras")


@pytest.mark.slow
def test_a_file_that_is_no_keras_file_is_refused_by_its_content(
    framework_workers: Workers, tmp_path: Path
) -> None:
    source = tmp_path / "lstm.model"
    source.write_bytes(b"not a model")

    message = refusal(framework_workers, source, tmp_path, format="keras")
    assert "expected a .keras zip archive or an HDF5" in message
