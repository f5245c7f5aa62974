"""The config: strict keys, relative paths, defaults, and the command line's conventions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config import (
    config_from_model_path,
    load_config,
)
from pipeline.config_options import parse_input_specs, parse_outputs, parse_pin
from pipeline.errors import ConfigError


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "lstm.pb"
    path.parent.mkdir()
    path.write_bytes(b"")
    return path


def write_config(folder: Path, data: dict) -> Path:
    path = folder / "configs" / "model.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def minimal(**extra: object) -> dict:
    return {
        "source": "../models/lstm.pb",
        "inputs": [{"name": "x:0", "shape": [5, 1, 3]}],
        "outputs": ["h:0"],
        **extra,
    }


def test_an_unknown_top_level_key_is_named_with_the_nearest_valid_key(
    tmp_path: Path, model_file: Path
) -> None:
    path = write_config(tmp_path, minimal(outptus=["h:0"]))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    assert "outptus: unknown key; did you mean 'outputs'?" in message


def test_an_unknown_key_inside_an_input_names_its_position_and_suggests(
    tmp_path: Path, model_file: Path
) -> None:
    data = minimal()
    data["inputs"] = [{"name": "x:0", "shap": [5, 1, 3]}]
    with pytest.raises(ConfigError, match=r"inputs\[0\]\.shap: unknown key; did you mean 'shape'"):
        load_config(write_config(tmp_path, data))


def test_an_unknown_key_inside_a_tolerance_names_the_output(
    tmp_path: Path, model_file: Path
) -> None:
    path = write_config(tmp_path, minimal(tolerances={"h:0": {"atl": 1e-4}}))
    with pytest.raises(ConfigError, match=r"tolerances\['h:0'\]\.atl: unknown key; did you mean"):
        load_config(path)


def test_every_problem_is_reported_at_once(tmp_path: Path, model_file: Path) -> None:
    path = write_config(tmp_path, minimal(opset=13, sed=1))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "opset" in str(error.value) and "sed: unknown key" in str(error.value)


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    np_file = tmp_path / "data" / "inputs.npz"
    np_file.parent.mkdir()
    np_file.write_bytes(b"")
    monkeypatch.chdir(tmp_path / "data")
    config = load_config(
        write_config(tmp_path, minimal(inputs_npz="../data/inputs.npz", output_dir="../out/x"))
    )
    assert config.source == model_file.resolve()
    assert config.inputs_npz == np_file.resolve()
    assert config.output_dir == (tmp_path / "out" / "x").resolve()


def test_name_and_output_dir_default_to_the_source_stem_under_the_current_folder(
    tmp_path: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(write_config(tmp_path, minimal()))
    assert config.name == "lstm"
    assert config.output_dir == tmp_path / "out" / "lstm"
    assert config.opset == 17 and config.atol == config.rtol == 1e-5


def test_a_missing_source_file_is_an_error_that_shows_the_resolved_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found: .*models/lstm.pb"):
        load_config(write_config(tmp_path, minimal()))


def test_an_opset_below_14_is_refused(tmp_path: Path, model_file: Path) -> None:
    with pytest.raises(ConfigError, match="opset: .*greater than or equal to 14, received 13"):
        load_config(write_config(tmp_path, minimal(opset=13)))


def test_an_opset_above_the_last_tf2onnx_writes_is_refused(
    tmp_path: Path, model_file: Path
) -> None:
    with pytest.raises(ConfigError, match="opset: .*less than or equal to 18, received 19"):
        load_config(write_config(tmp_path, minimal(opset=19)))


def test_a_source_of_an_unknown_kind_is_refused_naming_the_kinds(tmp_path: Path) -> None:
    script = tmp_path / "model.py"
    script.write_text("print('not a graph')")

    with pytest.raises(ConfigError, match=r"model.py: expected a frozen graph \(.pb, .pbtxt\)"):
        config_from_model_path(script, {"inputs": ["x:0"], "outputs": ["h:0"]})


def test_a_pinned_input_is_not_fed_and_needs_no_shape(tmp_path: Path, model_file: Path) -> None:
    data = minimal()
    data["inputs"].append({"name": "keep_prob:0", "value": 1.0})
    config = load_config(write_config(tmp_path, data))
    assert [spec.name for spec in config.fed_inputs] == ["x:0"]
    assert config.pinned == {"keep_prob:0": 1.0}


def test_an_input_without_shape_or_npz_is_refused(tmp_path: Path, model_file: Path) -> None:
    data = minimal()
    data["inputs"] = [{"name": "x:0"}]
    with pytest.raises(ConfigError, match=r"inputs \['x:0'\] have no shape"):
        load_config(write_config(tmp_path, data))


def test_a_tensor_name_without_output_index_is_refused(tmp_path: Path, model_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"outputs: expected a tensor name like 'x:0'.*'h'"):
        load_config(write_config(tmp_path, minimal(outputs=["h"])))


def test_per_output_tolerances_override_the_global_ones(tmp_path: Path, model_file: Path) -> None:
    data = minimal(outputs=["h:0", "c:0"], atol=1e-4, tolerances={"c:0": {"rtol": 0.5}})
    config = load_config(write_config(tmp_path, data))
    assert config.tolerance_for("h:0") == (1e-4, 1e-5)
    assert config.tolerance_for("c:0") == (1e-4, 0.5)


def test_tolerances_for_an_unknown_output_are_refused(tmp_path: Path, model_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"tolerances name \['y:0'\], which are not outputs"):
        load_config(write_config(tmp_path, minimal(tolerances={"y:0": {"atol": 1}})))


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping of keys"):
        load_config(path)


def test_overrides_win_and_pins_replace_a_declared_input(tmp_path: Path, model_file: Path) -> None:
    data = minimal()
    data["inputs"].append({"name": "keep_prob:0", "shape": []})
    config = load_config(
        write_config(tmp_path, data),
        overrides={"opset": 18, "inputs": [{"name": "x:0", "shape": [2, 1, 3]}]},
        pins={"keep_prob:0": 1.0},
    )
    assert config.opset == 18
    assert config.fed_inputs[0].shape == (2, 1, 3)
    assert config.pinned == {"keep_prob:0": 1.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x:0[50,1,64]", [{"name": "x:0", "shape": [50, 1, 64]}]),
        (
            "x:0[50,1,64],h0:0[1,100]",
            [{"name": "x:0", "shape": [50, 1, 64]}, {"name": "h0:0", "shape": [1, 100]}],
        ),
        (
            "rnn/x:0[2, 3], k:0[]",
            [{"name": "rnn/x:0", "shape": [2, 3]}, {"name": "k:0", "shape": []}],
        ),
        ("x:0,y:0[4]", [{"name": "x:0"}, {"name": "y:0", "shape": [4]}]),
    ],
    ids=["one", "two-split-outside-brackets", "spaces-and-scalar", "one-without-shape"],
)
def test_inputs_option_splits_on_commas_outside_brackets(text: str, expected: list) -> None:
    assert parse_input_specs(text) == expected


@pytest.mark.parametrize("text", ["x:0[1,2", "x:0[1,[2]]", "x:0[1,?]"], ids=str)
def test_inputs_option_refuses_malformed_shapes(text: str) -> None:
    with pytest.raises(ConfigError, match="--inputs"):
        parse_input_specs(text)


def test_outputs_and_pins_parse_in_tf2onnx_style() -> None:
    assert parse_outputs("h:0, cs:0") == ["h:0", "cs:0"]
    assert parse_pin("keep_prob:0=1.0") == ("keep_prob:0", 1.0)
    assert parse_pin("mask:0=[1, 0]") == ("mask:0", [1, 0])
    with pytest.raises(ConfigError, match="expected NAME:0=VALUE"):
        parse_pin("keep_prob:0")


def test_a_model_path_config_names_command_line_options_in_errors(model_file: Path) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_model_path(model_file, {"inputs": parse_input_specs("x:0[1]")})
    assert "outputs (--outputs): required, but not given" in str(error.value)


def test_a_model_path_config_matches_the_equivalent_file(
    tmp_path: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    from_file = load_config(write_config(tmp_path, minimal()))
    from_options = config_from_model_path(
        model_file,
        {"inputs": parse_input_specs("x:0[5,1,3]"), "outputs": parse_outputs("h:0")},
    )
    assert from_options == from_file
