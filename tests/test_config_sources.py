"""Config of every source format: detection, the ``format`` override, and per-format keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.cli.arguments import build_parser, config_from_args
from pipeline.config import config_from_model_path, load_config
from pipeline.errors import ConfigError
from tests.sources.test_formats import checkpoint_files, saved_model_folder, touch


def test_a_saved_model_needs_no_inputs_or_outputs_and_gets_the_default_tag_and_signature(
    tmp_path: Path,
) -> None:
    folder = saved_model_folder(tmp_path / "export")

    config = config_from_model_path(folder / "saved_model.pb", {})

    assert config.format == "saved_model"
    assert config.source == folder.resolve()
    assert config.name == "export"
    assert config.tags == ("serve",) and config.signature == "serving_default"
    assert config.inputs == () and config.outputs == ()
    assert config.opset == 17


def test_a_checkpoint_and_a_keras_file_need_no_inputs_or_outputs(tmp_path: Path) -> None:
    checkpoint = config_from_model_path(checkpoint_files(tmp_path), {})
    keras = config_from_model_path(touch(tmp_path / "lstm.keras"), {})

    assert (checkpoint.format, checkpoint.name) == ("checkpoint", "model.ckpt")
    assert (keras.format, keras.safe_mode) == ("keras", True)
    assert checkpoint.tags is None and keras.tags is None


def test_a_frozen_graph_still_needs_its_inputs_and_outputs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_model_path(touch(tmp_path / "graph.pb"), {})
    assert "inputs (--inputs/--pin): required, but not given" in str(error.value)
    assert "outputs (--outputs): required, but not given" in str(error.value)


def test_an_undetectable_path_lists_the_formats_and_the_override(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_model_path(touch(tmp_path / "model.bin"), {})
    message = str(error.value)
    assert "MODEL: model.bin: expected a frozen graph (.pb, .pbtxt), a SavedModel" in message
    assert "received suffix '.bin'" in message
    assert "`format:` (--format): frozen_graph, saved_model, checkpoint, keras, onnx" in message


def test_the_format_key_overrides_the_path(tmp_path: Path) -> None:
    checkpoint_files(tmp_path)
    graph = touch(tmp_path / "model.graph", "meta")
    touch(tmp_path / "checkpoint", 'model_checkpoint_path: "model.ckpt"\n')

    config = config_from_model_path(graph, {"format": "checkpoint"})

    assert config.format == "checkpoint"
    assert config.source == graph.resolve()


def test_an_unknown_format_is_refused_naming_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_model_path(touch(tmp_path / "g.pb"), {"format": "tflite"})
    assert "format (--format): Input should be 'frozen_graph', 'saved_model'" in str(error.value)


def test_saved_model_and_keras_keys_are_errors_for_other_formats(tmp_path: Path) -> None:
    options = {"inputs": [{"name": "x:0", "shape": [1]}], "outputs": ["y:0"]}
    options |= {"tags": ["serve"], "signature": "serving_default", "safe_mode": False}

    with pytest.raises(ConfigError) as error:
        config_from_model_path(touch(tmp_path / "g.pb"), options)

    message = str(error.value)
    assert "tags (--tags): tags selects a SavedModel's MetaGraph" in message
    assert "but the source is a frozen_graph" in message
    assert "signature (--signature): signature selects" in message
    assert "safe_mode (--unsafe-load): safe_mode applies to Keras files only" in message


def test_a_keras_input_cannot_be_pinned(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a Keras model is exported as a whole"):
        config_from_model_path(touch(tmp_path / "m.keras"), {}, pins={"x:0": 1.0})


def test_a_yaml_config_names_a_saved_model_folder_with_its_keys(tmp_path: Path) -> None:
    saved_model_folder(tmp_path / "export")
    path = tmp_path / "model.yaml"
    data = {"source": "export", "tags": ["serve", "gpu"], "signature": "predict"}
    path.write_text(yaml.safe_dump(data))

    config = load_config(path)

    assert config.source == (tmp_path / "export").resolve()
    assert (config.tags, config.signature) == (("serve", "gpu"), "predict")


@pytest.mark.parametrize(
    ("tags", "expected"), [("serve", ("serve",)), ("mytag, gpu", ("mytag", "gpu"))]
)
def test_tags_may_be_one_string_as_the_command_line_takes_them(
    tmp_path: Path, tags: str, expected: tuple[str, ...]
) -> None:
    saved_model_folder(tmp_path / "export")
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump({"source": "export", "tags": tags}))

    assert load_config(path).tags == expected


def test_outputs_may_be_one_string_as_the_command_line_takes_them(tmp_path: Path) -> None:
    touch(tmp_path / "model.pb")
    path = tmp_path / "model.yaml"
    data = {"source": "model.pb", "inputs": [{"name": "x:0", "shape": [1]}], "outputs": "h:0, c:0"}
    path.write_text(yaml.safe_dump(data))

    assert load_config(path).outputs == ("h:0", "c:0")


def test_a_misspelt_signature_key_suggests_the_right_one(tmp_path: Path) -> None:
    saved_model_folder(tmp_path / "export")
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump({"source": "export", "signatuer": "x"}))
    with pytest.raises(ConfigError, match="line 1: signatuer: unknown key; did you mean 'sig"):
        load_config(path)


def test_the_command_line_sets_format_tags_signature_and_unsafe_load(tmp_path: Path) -> None:
    folder = saved_model_folder(tmp_path / "export")
    keras_file = touch(tmp_path / "m.keras")
    parser = build_parser()

    saved = config_from_args(
        parser.parse_args(["convert", str(folder), "--tags", "serve,tpu", "--signature", "s"])
    )
    keras = config_from_args(parser.parse_args(["convert", str(keras_file), "--unsafe-load"]))
    graph = touch(tmp_path / "model.bin", "meta")
    checkpoint_files(tmp_path)
    touch(tmp_path / "checkpoint", 'model_checkpoint_path: "model.ckpt"\n')
    forced = config_from_args(parser.parse_args(["convert", str(graph), "--format", "checkpoint"]))

    assert (saved.tags, saved.signature) == (("serve", "tpu"), "s")
    assert keras.safe_mode is False
    assert forced.format == "checkpoint"


def test_a_saved_model_folder_without_saved_model_pb_is_refused_by_the_override(
    tmp_path: Path,
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no SavedModel found at .*empty: expected a folder"):
        config_from_model_path(tmp_path / "empty", {"format": "saved_model"})


def test_inputs_and_outputs_may_be_repeated_as_well_as_comma_separated(tmp_path: Path) -> None:
    graph = touch(tmp_path / "model.pb")
    args = ["convert", str(graph), "--inputs", "x:0[4,4,3]", "--inputs", "sl:0[4]"]
    args += ["--outputs", "y:0", "--outputs", "c:0,h:0"]

    config = config_from_args(build_parser().parse_args(args))

    assert [(spec.name, spec.shape) for spec in config.inputs] == [
        ("x:0", (4, 4, 3)), ("sl:0", (4,))
    ]  # fmt: skip
    assert config.outputs == ("y:0", "c:0", "h:0")
