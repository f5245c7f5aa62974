"""Config files into batch entries: several models a file, strict keys, lines in errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.batch.discovery import find_config_files
from pipeline.batch.expansion import expand_file, expand_paths
from pipeline.config import load_config
from pipeline.errors import ConfigError

MULTI = """\
defaults:
  inputs: [{name: "x:0", shape: [5, 1, 3]}]
  outputs: ["h:0"]
  atol: 1.0e-4
models:
  - {name: small, source: ../models/lstm.pb}
  - name: large
    source: ../models/lstm.pb
    atol: 1.0e-3
    output_dir: ../out/large
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "lstm.pb").write_bytes(b"")
    (tmp_path / "configs").mkdir()
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / "configs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_file_of_several_models_gives_one_config_each_with_the_defaults_shared(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)
    small, large = expand_file(write(folder, "multi.yaml", MULTI))
    assert small.config is not None and large.config is not None
    assert (small.name, small.line, small.config.atol) == ("small", 6, 1e-4)
    assert (large.name, large.line, large.config.atol) == ("large", 7, 1e-3)
    assert small.config.source == large.config.source == folder / "models" / "lstm.pb"
    assert small.config.output_dir == folder / "out" / "small"
    assert large.config.output_dir == folder / "out" / "large"


def test_an_invalid_model_is_an_entry_with_its_error_and_the_others_stand(folder: Path) -> None:
    text = MULTI.replace("    atol: 1.0e-3\n", "    atoll: 1.0e-3\n")
    small, large = expand_file(write(folder, "multi.yaml", text))
    assert small.config is not None and not small.error
    assert large.config is None and large.name == "large"
    assert "multi.yaml, models[1]" in large.error
    assert "line 9: atoll: unknown key; did you mean 'atol'?" in large.error


def test_an_inherited_key_that_is_invalid_names_its_line_in_the_defaults(folder: Path) -> None:
    text = MULTI.replace('outputs: ["h:0"]', 'outputs: ["h"]')
    entries = expand_file(write(folder, "multi.yaml", text))
    assert all("line 3: outputs: expected a tensor name like 'x:0'" in e.error for e in entries)


def test_unknown_file_level_keys_and_per_model_keys_in_defaults_are_refused(
    folder: Path,
) -> None:
    text = "defaults: {name: shared}\nmodles: []\nmodels: []\n"
    (entry,) = expand_file(write(folder, "bad.yaml", text))
    assert entry.config is None
    assert "line 2: modles: unknown key; did you mean 'models'?" in entry.error
    assert "line 3: models: expected a non-empty list" in entry.error
    assert "line 1: defaults.name: belongs to one model" in entry.error


def test_a_missing_source_file_is_an_entry_with_the_resolved_path(folder: Path) -> None:
    text = MULTI.replace(
        "- {name: small, source: ../models/lstm.pb}", "- {name: small, source: no.pb}"
    )
    small, _ = expand_file(write(folder, "multi.yaml", text))
    assert f"line 6: source: file not found: {folder / 'configs' / 'no.pb'}" in small.error


def test_two_models_with_one_output_dir_leave_the_second_unconverted(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)  # small's output_dir defaults to out/small under it
    text = MULTI.replace("output_dir: ../out/large", "output_dir: ../out/small")
    write(folder, "multi.yaml", text)
    small, large = expand_paths([folder / "configs"])
    assert small.config is not None
    assert large.config is None and "is the artifact folder of small" in large.error


def test_an_output_dir_inside_another_models_is_refused_too(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)
    text = MULTI.replace("output_dir: ../out/large", "output_dir: ../out/small/large")
    write(folder, "multi.yaml", text)
    small, large = expand_paths([folder / "configs"])
    assert small.config is not None
    assert large.config is None and "overlaps the artifact folder of small" in large.error


def test_folders_are_searched_for_configs_in_path_order_and_hidden_ones_left_out(
    folder: Path,
) -> None:
    b = write(folder, "b.yaml", "")
    a = write(folder, "nested/a.yml", "")
    write(folder, ".hidden/c.yaml", "")
    (folder / "configs" / "notes.txt").write_text("")
    assert find_config_files([folder / "configs", b]) == [b.resolve(), a.resolve()]
    with pytest.raises(ConfigError, match="does not exist"):
        find_config_files([folder / "nowhere"])


def test_a_one_model_config_error_names_the_line_of_the_key(folder: Path) -> None:
    text = "source: ../models/lstm.pb\ninputs: [{name: 'x:0', shape: [1]}]\noutptus: ['h:0']\n"
    with pytest.raises(ConfigError, match="line 3: outptus: unknown key; did you mean 'outputs'"):
        load_config(write(folder, "one.yaml", text))


def test_convert_refuses_a_file_of_several_models_and_points_to_batch(folder: Path) -> None:
    with pytest.raises(ConfigError, match="describes several models .*python -m pipeline batch"):
        load_config(write(folder, "multi.yaml", MULTI))
