"""Command-line values in tf2onnx's conventions, parsed into config data.

``--inputs x:0[50,1,64],h0:0[1,100]``, ``--outputs h:0,c:0``, ``--tags serve`` and
``--pin keep_prob:0=1.0`` become the ``inputs``, ``outputs``, ``tags`` and pinned values of a
``pipeline.config.ModelConfig``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from pipeline.config import PinValue
from pipeline.errors import ConfigError


def parse_input_specs(text: str) -> list[dict[str, Any]]:
    """Parse ``--inputs``: ``"x:0[50,1,64],h0:0[1,100]"`` -> ``[{"name", "shape"}, ...]``.

    Entries are split on commas outside brackets; an entry without brackets has no shape
    (its values must then come from ``--inputs-npz``).
    """
    specs: list[dict[str, Any]] = []
    for entry in _split_outside_brackets(text, "--inputs"):
        match = re.fullmatch(r"([^\[\]]+?)(?:\[([^\[\]]*)\])?", entry)
        if match is None:
            raise ConfigError(f"--inputs: expected NAME:0 or NAME:0[d0,d1,...], received {entry!r}")
        name, dims = match.groups()
        spec: dict[str, Any] = {"name": name.strip()}
        if dims is not None:
            spec["shape"] = _parse_dims(dims, entry)
        specs.append(spec)
    return specs


def parse_outputs(text: str) -> list[str]:
    """Parse ``--outputs``: ``"h:0,cs:0"`` -> ``["h:0", "cs:0"]``."""
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_tags(text: str) -> list[str]:
    """Parse ``--tags``: ``"serve,gpu"`` -> ``["serve", "gpu"]`` (a SavedModel's tag set)."""
    tags = [tag.strip() for tag in text.split(",") if tag.strip()]
    if not tags:
        raise ConfigError(f"--tags: expected TAG,... (e.g. serve), received {text!r}")
    return tags


def parse_pin(text: str) -> tuple[str, PinValue]:
    """Parse one ``--pin NAME:0=VALUE``; VALUE is a YAML scalar or list (``1.0``, ``[1, 2]``)."""
    name, separator, value_text = text.partition("=")
    if not separator or not name.strip() or not value_text.strip():
        raise ConfigError(f"--pin: expected NAME:0=VALUE (e.g. keep_prob:0=1.0), received {text!r}")
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as error:
        raise ConfigError(f"--pin {text!r}: cannot read the value: {error}") from error
    if not isinstance(value, bool | int | float | list):
        raise ConfigError(
            f"--pin {text!r}: expected a number, a bool or a list as the value, received {value!r}"
        )
    return name.strip(), value


def _split_outside_brackets(text: str, option: str) -> list[str]:
    entries: list[str] = []
    depth = 0
    current = ""
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth not in (0, 1):
            raise ConfigError(f"{option}: unbalanced or nested brackets in {text!r}")
        if char == "," and depth == 0:
            entries.append(current.strip())
            current = ""
        else:
            current += char
    if depth != 0:
        raise ConfigError(f"{option}: unbalanced brackets in {text!r}")
    entries.append(current.strip())
    return [entry for entry in entries if entry]


def _parse_dims(dims: str, entry: str) -> list[int]:
    try:
        return [int(dim) for dim in dims.split(",") if dim.strip()]
    except ValueError as error:
        raise ConfigError(
            f"--inputs: expected integer dimensions in {entry!r} (like x:0[50,1,64]); "
            "give unknown sizes such as ? a concrete value"
        ) from error
