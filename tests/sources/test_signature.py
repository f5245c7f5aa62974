"""The config completed from what a source declares (the describe step's result)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import config_from_model_path
from pipeline.errors import ConfigError
from pipeline.sources.signature import SourceDescription, TensorDescription, fill_defaults
from tests.sources.test_formats import saved_model_folder

DESCRIPTION = SourceDescription(
    kind="TF1 SavedModel",
    inputs=(
        TensorDescription("x:0", "float32", (None, 4, 3), "inputs"),
        TensorDescription("keep_prob:0", "float32", (), "keep"),
    ),
    outputs=(TensorDescription("h:0", "float32", (4, None, 5), "sequence"),),
    origin="signature 'serving_default'",
)


def test_the_declared_inputs_and_outputs_fill_the_config_and_the_batch_defaults_to_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_from_model_path(saved_model_folder(tmp_path / "export"), {})

    with caplog.at_level(logging.INFO, logger="pipeline.sources.signature"):
        filled = fill_defaults(config, DESCRIPTION)

    assert [(s.name, s.shape, s.dtype) for s in filled.inputs] == [
        ("x:0", (1, 4, 3), "float32"),
        ("keep_prob:0", (), "float32"),
    ]
    assert filled.outputs == ("h:0",)
    assert (
        "default input x:0: float32 [1, 4, 3], unknown dimension 0 (the batch) set to 1 "
        "(key 'inputs' of signature 'serving_default')" in caplog.messages
    )
    assert "default output h:0 (key 'sequence' of signature 'serving_default')" in caplog.messages


def test_a_pinned_input_is_no_default_input_and_a_given_output_wins(tmp_path: Path) -> None:
    folder = saved_model_folder(tmp_path / "export")
    config = config_from_model_path(folder, {"outputs": ["h:0"]}, pins={"keep_prob:0": 1.0})

    filled = fill_defaults(config, DESCRIPTION)

    assert [spec.name for spec in filled.fed_inputs] == ["x:0"]
    assert filled.pinned == {"keep_prob:0": 1.0}


def test_a_named_input_without_a_shape_takes_the_declared_one(tmp_path: Path) -> None:
    config = config_from_model_path(
        saved_model_folder(tmp_path / "export"), {"inputs": [{"name": "x:0"}]}
    )
    filled = fill_defaults(config, DESCRIPTION)
    assert [(spec.name, spec.shape) for spec in filled.inputs] == [("x:0", (1, 4, 3))]


def test_a_second_unknown_dimension_is_refused_naming_the_input_and_the_fix(
    tmp_path: Path,
) -> None:
    config = config_from_model_path(saved_model_folder(tmp_path / "export"), {})
    description = SourceDescription(
        "TF1 checkpoint",
        (
            TensorDescription("x:0", "float32", (None, None, 3)),
            TensorDescription("y:0", "float32", None),
        ),
        (TensorDescription("h:0"),),
    )

    with pytest.raises(ConfigError) as error:
        fill_defaults(config, description)

    message = str(error.value)
    assert "input 'x:0' has shape ['?', '?', 3] in the TF1 checkpoint: dimensions [0, 1]" in message
    assert "give its shape: --inputs x:0[d0,d1,...]" in message
    assert "input 'y:0' has an unknown rank in the TF1 checkpoint" in message


def test_a_single_unknown_dimension_is_the_batch_also_when_time_major(tmp_path: Path) -> None:
    config = config_from_model_path(saved_model_folder(tmp_path / "export"), {})
    description = SourceDescription(
        "TF1 checkpoint",
        (TensorDescription("x:0", "float32", (4, None, 3)),),
        (TensorDescription("h:0"),),
    )
    filled = fill_defaults(config, description)
    assert [(spec.name, spec.shape) for spec in filled.inputs] == [("x:0", (4, 1, 3))]


def test_an_inputs_npz_gives_the_shapes_the_source_leaves_unknown(tmp_path: Path) -> None:
    np.savez(tmp_path / "in.npz", **{"x:0": np.zeros((2, 7, 3), np.float32)})
    config = config_from_model_path(
        saved_model_folder(tmp_path / "export"), {"inputs_npz": tmp_path / "in.npz"}
    )
    description = SourceDescription(
        "TF2 SavedModel",
        (TensorDescription("x:0", "float32", (None, None, 3)),),
        (TensorDescription("Identity:0"),),
    )

    filled = fill_defaults(config, description)

    assert [(spec.name, spec.shape) for spec in filled.inputs] == [("x:0", None)]
