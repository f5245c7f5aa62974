"""Read a YAML config and keep where each key stands, so errors can name the line.

``read_yaml`` parses the file twice over the same text: once into plain data, once into
PyYAML's node tree (``yaml.compose``), whose nodes carry their start marks. ``line_of`` walks
that tree along a validation error's location (``("inputs", 0, "shap")``) as far as it
goes, so a key that is missing or invalid points at the deepest entry that holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError

Location = tuple[Any, ...]
Locator = Callable[[Location], "int | None"]
"""A validation error's location -> the 1-based line it concerns, if known."""


@dataclass(frozen=True)
class YamlDocument:
    """A config file's data and its node tree."""

    path: Path
    data: Any
    root: yaml.Node | None


def read_yaml(path: Path) -> YamlDocument:
    """Read ``path``; unreadable files and YAML syntax errors name the file and the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror}") from error
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config {path}{where} is not valid YAML: {error}") from error
    return YamlDocument(Path(path), data, root)


def child(node: yaml.Node | None, part: Any) -> tuple[yaml.Node, yaml.Node] | None:
    """``(key node or the item itself, value node)`` of ``part`` under ``node``."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            return node.value[part], node.value[part]
    return None


def walk(node: yaml.Node | None, loc: Location) -> tuple[int, int | None]:
    """How many parts of ``loc`` exist under ``node``, and the line of the deepest one."""
    if node is None:
        return 0, None
    depth, line = 0, node.start_mark.line + 1
    for part in loc:
        found = child(node, part)
        if found is None:
            break
        key, node = found
        depth += 1
        line = key.start_mark.line + 1
    return depth, line


def line_of(roots: Sequence[yaml.Node | None], loc: Location) -> int | None:
    """The line of ``loc`` in the first of ``roots`` where it reaches deepest.

    A model of a multi-model file has two roots, its own entry and the shared ``defaults``;
    a key it inherits is found in the defaults.
    """
    best_depth, best_line = -1, None
    for root in roots:
        depth, line = walk(root, loc)
        if line is not None and depth > best_depth:
            best_depth, best_line = depth, line
    return best_line


def locator(*roots: yaml.Node | None) -> Locator:
    """A ``Locator`` over ``roots`` (see ``line_of``)."""
    return lambda loc: line_of(roots, loc)
