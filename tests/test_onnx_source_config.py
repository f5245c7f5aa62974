"""An ONNX model as the source: what its graph fills into the config, and what is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.config import config_from_model_path, load_config
from pipeline.errors import ConfigError, SourceError
from pipeline.inputs import load_expected_npz
from tests.onnx_source_models import write_elementwise, write_lstm


@pytest.fixture
def lstm_onnx(tmp_path: Path) -> Path:
    return write_lstm(tmp_path / "one_lstm.onnx")


def test_inputs_and_outputs_come_from_the_graph_with_its_names_dtypes_and_shapes(
    lstm_onnx: Path,
) -> None:
    config = config_from_model_path(lstm_onnx, {})

    assert config.source_format == "onnx"
    assert config.name == "one_lstm"
    assert [(s.name, s.shape, s.dtype) for s in config.inputs] == [("X", (5, 2, 3), "float32")]
    assert config.outputs == ("Y", "Y_h", "Y_c")
    assert config.opset is None


def test_a_symbolic_dimension_takes_its_size_from_the_inputs_option(tmp_path: Path) -> None:
    source = write_elementwise(tmp_path / "tanh.onnx", {"t": "Tanh"})
    config = config_from_model_path(source, {"inputs": [{"name": "X", "shape": [4, 3]}]})
    assert config.inputs[0].shape == (4, 3)


def test_a_symbolic_dimension_without_a_size_or_npz_is_refused_naming_the_input(
    tmp_path: Path,
) -> None:
    source = write_elementwise(tmp_path / "tanh.onnx", {"t": "Tanh"})
    with pytest.raises(ConfigError, match=r"inputs \['X'\] have no shape \(the ONNX graph"):
        config_from_model_path(source, {})


def test_names_the_graph_does_not_have_and_contradicting_shapes_are_all_refused(
    lstm_onnx: Path,
) -> None:
    overrides = {"inputs": [{"name": "X", "shape": [5, 3, 3]}, {"name": "Q"}], "outputs": ["Z"]}
    with pytest.raises(ConfigError) as error:
        config_from_model_path(lstm_onnx, overrides)
    message = str(error.value)
    assert "'Q' is not a fed input of the ONNX graph; its inputs are ['X']" in message
    assert "'X' is given shape [5, 3, 3], but the ONNX graph declares [5, 2, 3]" in message
    assert "'Z' is not an output of the ONNX graph; its outputs are ['Y', 'Y_h', 'Y_c']" in message


def test_pinning_and_an_opset_are_refused_for_an_onnx_source(lstm_onnx: Path) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_model_path(lstm_onnx, {"opset": 17}, pins={"X": 1.0})
    message = str(error.value)
    assert "inputs[0].value (--inputs/--pin): only inputs of a TensorFlow source" in message
    assert "opset (--opset): an ONNX source keeps its own opset" in message


def test_expected_outputs_are_refused_for_a_tensorflow_source(tmp_path: Path) -> None:
    source, expected = tmp_path / "m.pb", tmp_path / "expected.npz"
    source.write_bytes(b"")
    np.savez(expected, y=np.zeros(1))
    options = {"inputs": [{"name": "x:0", "shape": [1]}], "outputs": ["y:0"]}
    with pytest.raises(ConfigError, match="expected outputs are compared for ONNX sources only"):
        config_from_model_path(source, {**options, "expected_npz": expected})


def test_a_yaml_config_names_an_onnx_source_and_expected_outputs_beside_it(
    tmp_path: Path, lstm_onnx: Path
) -> None:
    np.savez(tmp_path / "expected.npz", Y=np.zeros(1))
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump({"source": "one_lstm.onnx", "expected_npz": "expected.npz"}))

    config = load_config(path)

    assert config.source == lstm_onnx.resolve()
    assert config.expected_npz == (tmp_path / "expected.npz").resolve()
    assert config.outputs == ("Y", "Y_h", "Y_c")


def test_a_misspelt_expected_npz_key_suggests_the_right_one(
    tmp_path: Path, lstm_onnx: Path
) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump({"source": "one_lstm.onnx", "expected_nzp": "e.npz"}))
    with pytest.raises(ConfigError, match="expected_nzp: unknown key; did you mean 'expected_npz'"):
        load_config(path)


def test_a_missing_onnx_file_is_only_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_model_path(tmp_path / "absent.onnx", {})
    assert "MODEL: file not found" in str(error.value)
    assert "required" not in str(error.value)


def test_a_truncated_onnx_file_is_a_source_error_naming_the_file(
    tmp_path: Path, lstm_onnx: Path
) -> None:
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(lstm_onnx.read_bytes()[:300])
    with pytest.raises(SourceError, match=r"cannot read .*truncated.onnx as an ONNX model"):
        config_from_model_path(truncated, {})


def test_expected_outputs_must_name_every_compared_output(tmp_path: Path) -> None:
    np.savez(tmp_path / "expected.npz", Y=np.zeros(1), X=np.zeros(1))
    with pytest.raises(ConfigError, match=r"has no array for the outputs \['Y_h'\]; it holds"):
        load_expected_npz(tmp_path / "expected.npz", ["Y", "Y_h"])
