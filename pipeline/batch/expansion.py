"""Config files into batch entries: one per model, each validated on its own.

A config file describes one model (the keys of ``pipeline.config``), or several::

    defaults:              # optional: keys every model of the file shares
      inputs: [{name: "x:0", shape: [50, 1, 64]}]
      outputs: ["h:0"]
      atol: 1.0e-5
    models:                # required, a non-empty list; each entry's keys win over defaults
      - {name: small, source: small.pb}
      - {name: large, source: large.pb, atol: 1.0e-4}

The merge is shallow: a model's ``inputs`` replaces the defaults' ``inputs`` entirely.
``name`` and ``output_dir`` belong to one model, so ``defaults`` may not hold them. Relative
paths resolve against the file's folder, as for a one-model file. Keys are as strict as
ever, and every error names the file, the model's position, the line and the key.

A model whose config is invalid becomes an entry with its error, so the batch reports it and
goes on. So does a model whose ``output_dir`` another model already uses.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.batch.discovery import find_config_files
from pipeline.config import MODELS_KEY, ModelConfig, apply_overrides, load_config, validate_config
from pipeline.config_yaml import YamlDocument, child, locator, read_yaml
from pipeline.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULTS_KEY = "defaults"
FILE_KEYS = (DEFAULTS_KEY, MODELS_KEY)
NOT_SHARED = ("name", "output_dir")


@dataclass(frozen=True)
class BatchEntry:
    """One model of a batch: its config, or why it has none."""

    name: str
    config_file: Path
    line: int | None = None
    config: ModelConfig | None = None
    error: str = ""

    @property
    def where(self) -> str:
        return f"{self.config_file}:{self.line}" if self.line else str(self.config_file)


def expand_paths(
    paths: Sequence[Path], overrides: Mapping[str, Any] | None = None
) -> list[BatchEntry]:
    """Every model of every config under ``paths`` (``discovery``), with ``overrides`` applied."""
    entries = [entry for path in find_config_files(paths) for entry in expand_file(path, overrides)]
    return _refuse_shared_output_dirs(entries)


def is_multi_model(data: Any) -> bool:
    return isinstance(data, Mapping) and (MODELS_KEY in data or DEFAULTS_KEY in data)


def expand_file(path: Path, overrides: Mapping[str, Any] | None = None) -> list[BatchEntry]:
    """The entries of one config file (one, or one per item of ``models``)."""
    overrides = overrides or {}
    try:
        document = read_yaml(path)
    except ConfigError as error:
        return [BatchEntry(path.stem, path, error=str(error))]
    if not is_multi_model(document.data):
        return [_single_model(path, overrides)]
    problems = _file_problems(document)
    if problems:
        message = f"invalid config {path}:\n" + "\n".join(f"  - {p}" for p in problems)
        return [BatchEntry(path.stem, path, error=message)]
    return [
        _model_entry(document, index, item, overrides)
        for index, item in enumerate(document.data[MODELS_KEY])
    ]


def _single_model(path: Path, overrides: Mapping[str, Any]) -> BatchEntry:
    try:
        config = load_config(path, overrides)
    except ConfigError as error:
        return BatchEntry(_fallback_name(path, _read_mapping(path)), path, error=str(error))
    return BatchEntry(config.name, path, config=config)


def _model_entry(
    document: YamlDocument, index: int, item: Any, overrides: Mapping[str, Any]
) -> BatchEntry:
    path = document.path
    models_node = _value_node(document.root, MODELS_KEY)
    item_node = _value_node(models_node, index)
    line = item_node.start_mark.line + 1 if item_node is not None else None
    origin = f"config {path}, {MODELS_KEY}[{index}]"
    if not isinstance(item, Mapping):
        message = (
            f"invalid {origin}: line {line}: expected a mapping of keys (name, source, ...), "
            f"received {type(item).__name__}"
        )
        return BatchEntry(f"{path.stem}[{index}]", path, line, error=message)
    defaults = document.data.get(DEFAULTS_KEY) or {}
    data = apply_overrides({**defaults, **item}, overrides, {})
    try:
        config = validate_config(
            data,
            base_dir=path.resolve().parent,
            origin=origin,
            locate=locator(item_node, _value_node(document.root, DEFAULTS_KEY)),
        )
    except ConfigError as error:
        name = _fallback_name(path, data, index)
        return BatchEntry(name, path, line, error=str(error))
    return BatchEntry(config.name, path, line, config=config)


def _file_problems(document: YamlDocument) -> list[str]:
    data, root = document.data, document.root
    problems = []
    for key in data:
        if key not in FILE_KEYS:
            close = difflib.get_close_matches(str(key), FILE_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                f"line {_key_line(root, key)}: {key}: unknown key{hint} A file of several "
                f"models holds only {', '.join(FILE_KEYS)}; model keys go under them"
            )
    models = data.get(MODELS_KEY)
    if not isinstance(models, list) or not models:
        problems.append(
            f"line {_key_line(root, MODELS_KEY)}: {MODELS_KEY}: expected a non-empty list of "
            f"models, received {models!r}"
        )
    defaults = data.get(DEFAULTS_KEY)
    if defaults is not None and not isinstance(defaults, Mapping):
        problems.append(
            f"line {_key_line(root, DEFAULTS_KEY)}: {DEFAULTS_KEY}: expected a mapping of "
            f"model keys, received {type(defaults).__name__}"
        )
    elif defaults:
        for key in NOT_SHARED:
            if key in defaults:
                problems.append(
                    f"line {_key_line(_value_node(root, DEFAULTS_KEY), key)}: "
                    f"{DEFAULTS_KEY}.{key}: belongs to one model; move it into each model"
                )
    return problems


def _refuse_shared_output_dirs(entries: list[BatchEntry]) -> list[BatchEntry]:
    owners: dict[Path, BatchEntry] = {}
    checked = []
    for entry in entries:
        if entry.config is None:
            checked.append(entry)
            continue
        folder = entry.config.output_dir
        owner = next((other for path, other in owners.items() if _overlap(path, folder)), None)
        if owner is None:
            owners[folder] = entry
        else:
            relation = "is" if owner.config.output_dir == folder else "overlaps"
            message = (
                f"invalid config {entry.where}: output_dir {folder} {relation} the artifact "
                f"folder of {owner.name} ({owner.config.output_dir}, {owner.where}); give this "
                "model an output_dir of its own, neither inside nor around another's"
            )
            entry = BatchEntry(entry.name, entry.config_file, entry.line, error=message)
        checked.append(entry)
    return checked


def _overlap(first: Path, second: Path) -> bool:
    """True when one folder is the other or holds it."""
    return first == second or first in second.parents or second in first.parents


def _value_node(node: Any, part: Any) -> Any:
    found = child(node, part)
    return None if found is None else found[1]


def _key_line(node: Any, key: Any) -> int | None:
    found = child(node, key)
    if found is not None:
        return found[0].start_mark.line + 1
    return None if node is None else node.start_mark.line + 1


def _read_mapping(path: Path) -> Mapping[str, Any]:
    try:
        data = read_yaml(path).data
    except ConfigError:
        return {}
    return data if isinstance(data, Mapping) else {}


def _fallback_name(path: Path, data: Mapping[str, Any], index: int | None = None) -> str:
    """A label for a model whose config is invalid: its name, else its source's stem."""
    name = data.get("name")
    if isinstance(name, str) and name:
        return name
    source = data.get("source")
    if isinstance(source, str) and source:
        return Path(source).stem
    return path.stem if index is None else f"{path.stem}[{index}]"
