"""``format: keras`` reads a Keras file whatever its suffix, by its content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.errors import ConversionError
from pipeline.isolation import Workers
from tests.end_to_end.test_sources import assert_matches_the_source, build, convert


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_keras_file_under_another_suffix_converts_with_the_format_override(
    framework_workers: Workers, tmp_path: Path, suffix: str
) -> None:
    saved = build(framework_workers, "write_keras_model", str(tmp_path), suffix)
    source = shutil.copyfile(saved, tmp_path / "lstm.model")

    result = convert(
        framework_workers, source, tmp_path, format="keras", inputs_npz=tmp_path / "expected.npz"
    )

    (output,) = result.config.outputs
    assert_matches_the_source(result, tmp_path / "expected.npz", {output: "y"})


@pytest.mark.slow
def test_a_file_that_is_no_keras_file_is_refused_by_its_content(
    framework_workers: Workers, tmp_path: Path
) -> None:
    source = tmp_path / "lstm.model"
    source.write_bytes(b"not a model")

    with pytest.raises(ConversionError, match="expected a .keras zip archive or an HDF5"):
        convert(framework_workers, source, tmp_path, format="keras")
    assert not (tmp_path / "out").exists()
