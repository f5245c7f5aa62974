"""The conversion config: one model, flat, typed and strict.

A config names the source, its inputs and outputs, the opset, the tolerances and the output
folder. It comes from a YAML file (``load_config``) or from command-line options given with
a model path (``config_from_model_path``); both end in the same ``ModelConfig``.

The source's path says what format it is (``pipeline.sources.formats``): a frozen graph, a
SavedModel, a TF1 checkpoint, a Keras file or an ONNX model; ``format`` overrides it.

Rules a reader can rely on:

- Unknown keys are errors that name the key, its line in the file, and suggest the nearest
  valid one.
- A file with a top-level ``models:`` list describes several models; ``pipeline.batch``
  expands it into one ``ModelConfig`` each.
- Relative paths resolve against the config file's folder (against the current folder for a
  config built from the command line). The default ``output_dir`` is ``out/<name>`` under
  the current folder.
- Tensor names keep TensorFlow's ``node:index`` form (``"x:0"``) for a TensorFlow source.
  An ONNX source uses its value names as they are, and its graph supplies the inputs
  (dtype, static shapes) and outputs the config leaves out (``pipeline.sources.onnx_model``).
- A SavedModel, a checkpoint or a Keras file may leave ``inputs`` and ``outputs`` out: the TF
  worker reads their defaults from the source (``pipeline.sources.signature``). A frozen
  graph must name them.
- ``tags`` and ``signature`` belong to a SavedModel, ``safe_mode`` to a Keras file; each is
  an error for another format.
- An input with a ``value`` is *pinned*: the exporter replaces it by that constant before
  export, so it is no model input any more and is never fed. Only a TensorFlow source is
  exported, so only its inputs can be pinned, and only its config takes an ``opset``.
- ``expected_npz`` holds expected outputs; they take part in the comparison of an ONNX
  source (TensorFlow's outputs are the reference of a TensorFlow source).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.config_yaml import Locator, locator, read_yaml
from pipeline.errors import ConfigError
from pipeline.sources import formats, onnx_model
from pipeline.sources.formats import SourceFormat

DType = Literal["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]
PinValue = bool | int | float | list[Any]

MIN_OPSET = 14
MAX_OPSET = 18
"""The last opset tf2onnx 1.17 writes (its ``constants.OPSET_TO_IR_VERSION``); importing
tf2onnx here would import TensorFlow, so the export checks it again against tf2onnx itself."""
DEFAULT_OPSET = 17
DEFAULT_TOLERANCE = 1.0e-5

TENSORFLOW_SOURCE = "tensorflow"
ONNX_SOURCE = "onnx"
DEFAULTS_FILLED = "defaults_filled"
"""Validation context key: the source's defaults are in (``pipeline.sources.signature``)."""
DEFAULT_TAGS = ("serve",)
DEFAULT_SIGNATURE = "serving_default"

_TENSOR_NAME = re.compile(r"^[^:\s]+:\d+$")
_CONFIG_SUFFIXES = (".yaml", ".yml")
MODELS_KEY = "models"
"""A file with this top-level key describes several models (``pipeline.batch.expansion``)."""


def source_format(source: Any, format_override: Any = None) -> str:
    """``"onnx"`` for an ONNX source, else ``"tensorflow"`` (every other format)."""
    if format_override is None and source is not None:
        format_override = formats.detect_format(Path(str(source)))
    return ONNX_SOURCE if format_override == formats.ONNX else TENSORFLOW_SOURCE


def detected_format(source: Any, format_override: Any, base_dir: Path) -> str | None:
    """The format ``format_override`` names, else the one the resolved path says."""
    if isinstance(format_override, str):
        return format_override
    if source is None:
        return None
    return formats.detect_format((base_dir / Path(str(source)).expanduser()).resolve())


def _is_onnx_source(info: ValidationInfo) -> bool:
    return (info.context or {}).get("source_format") == ONNX_SOURCE


def _format_of(info: ValidationInfo) -> str | None:
    return (info.context or {}).get("format")


def _defaults_pending(source_format: str | None, info: ValidationInfo) -> bool:
    """Whether the source's own defaults are still to complete the config: true for a
    described format until ``pipeline.sources.signature`` validates it again with them."""
    filled = bool((info.context or {}).get(DEFAULTS_FILLED))
    return source_format in formats.DESCRIBED_FORMATS and not filled


def _check_tensor_name(name: str, info: ValidationInfo) -> str:
    if _is_onnx_source(info):
        if not name:
            raise ValueError("expected an ONNX value name, received an empty string")
        return name
    if not _TENSOR_NAME.match(name):
        raise ValueError(
            f"expected a tensor name like 'x:0' (node name, colon, output index), "
            f"received {name!r}; add the output index, usually ':0'"
        )
    return name


def _resolve_path(value: Path | None, info: ValidationInfo) -> Path | None:
    if value is None:
        return None
    base_dir = Path((info.context or {}).get("base_dir", Path.cwd()))
    return (base_dir / value.expanduser()).resolve()


def _undetectable(path: Path) -> str:
    if path.is_dir():
        received = "a folder without saved_model.pb"
    else:
        received = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
    return (
        f"{path.name}: expected {formats.FORMAT_HELP}, from its path; received {received}. "
        f"Name the format with `format:` (--format): {', '.join(formats.FORMATS)}"
    )


class Tolerance(BaseModel):
    """Per-output tolerance override; a field left out keeps the config's global value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    atol: float | None = Field(default=None, ge=0)
    rtol: float | None = Field(default=None, ge=0)


class InputSpec(BaseModel):
    """One graph input: its tensor name, shape and dtype, or a constant it is pinned to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    shape: tuple[int, ...] | None = None
    dtype: DType = "float32"
    value: PinValue | None = None

    @property
    def is_pinned(self) -> bool:
        return self.value is not None

    @field_validator("name")
    @classmethod
    def _name_is_a_tensor_name(cls, name: str, info: ValidationInfo) -> str:
        return _check_tensor_name(name, info)

    @field_validator("value")
    @classmethod
    def _pinned_only_for_tensorflow(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and _is_onnx_source(info):
            raise ValueError(
                "only inputs of a TensorFlow source can be pinned (its exporter folds the "
                "constant in); an ONNX source is converted as given: drop `value` (--pin), "
                "or give the input's values through inputs_npz"
            )
        if value is not None and _format_of(info) == formats.KERAS:
            raise ValueError(
                "only a graph's placeholders can be pinned; a Keras model is exported as a "
                "whole: drop `value` (--pin), or give the input's values through inputs_npz"
            )
        return value

    @field_validator("shape")
    @classmethod
    def _shape_is_concrete(cls, shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if shape is not None and any(dim < 0 for dim in shape):
            raise ValueError(
                f"expected non-negative dimensions, received {list(shape)}; "
                "give every dimension a concrete size"
            )
        return shape

    @model_validator(mode="after")
    def _value_is_numeric_and_fits_shape(self) -> InputSpec:
        if self.value is None:
            return self
        array = np.asarray(self.value)
        if array.dtype == object or array.dtype.kind not in "biuf":
            raise ValueError(
                f"input {self.name!r}: expected a number, a bool or a nested list of them "
                f"as its value, received {self.value!r}"
            )
        if self.shape is not None and array.shape != self.shape:
            raise ValueError(
                f"input {self.name!r}: its value has shape {list(array.shape)} but shape "
                f"says {list(self.shape)}; drop `shape` or make them agree"
            )
        return self


class ModelConfig(BaseModel):
    """Everything one conversion needs to know; see the module docstring for the rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    format: SourceFormat | None = None
    """From the source's path unless given (``pipeline.sources.formats``)."""
    source: Path
    tags: tuple[str, ...] | None = None
    """A SavedModel's MetaGraph tags; ``("serve",)`` unless given."""
    signature: str | None = None
    """A SavedModel's signature key; ``"serving_default"`` unless given."""
    safe_mode: bool | None = None
    """A Keras file loads in Keras's safe mode (no Lambda code runs) unless this is false."""
    inputs: tuple[InputSpec, ...]
    """Empty for a described format (see the module docstring) until its defaults are in."""
    inputs_npz: Path | None = None
    expected_npz: Path | None = None
    outputs: tuple[str, ...]
    opset: int | None = Field(default=None, ge=MIN_OPSET, le=MAX_OPSET)
    """The export's opset; ``None`` for an ONNX source, which keeps its own."""
    atol: float = Field(default=DEFAULT_TOLERANCE, ge=0)
    rtol: float = Field(default=DEFAULT_TOLERANCE, ge=0)
    tolerances: dict[str, Tolerance] = Field(default_factory=dict)
    output_dir: Path
    seed: int = 0
    timeout: float = Field(default=600.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any, info: ValidationInfo) -> Any:
        # format from the path; name defaults to the source's stem (a SavedModel's folder
        # name), output_dir to out/<name> under the current folder
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        base_dir = Path((info.context or {}).get("base_dir", Path.cwd()))
        kind = detected_format(data.get("source"), data.get("format"), base_dir)
        if data.get("format") is None and kind is not None:
            data["format"] = kind
        if data.get("name") is None and data.get("source") is not None:
            source = (base_dir / Path(str(data["source"])).expanduser()).resolve()
            data["name"] = formats.source_root(source, kind or "").stem
        if data.get("output_dir") is None and isinstance(data.get("name"), str):
            data["output_dir"] = Path.cwd() / "out" / data["name"]
        if data.get("opset") is None and kind is not None and formats.is_tensorflow(kind):
            data["opset"] = DEFAULT_OPSET
        defaults: dict[str, Any] = {}
        if kind == formats.SAVED_MODEL:
            defaults |= {"tags": list(DEFAULT_TAGS), "signature": DEFAULT_SIGNATURE}
        if kind == formats.KERAS:
            defaults |= {"safe_mode": True}
        if kind in formats.DESCRIBED_FORMATS:
            defaults |= {"inputs": [], "outputs": []}  # filled by the describe step
        for key, value in defaults.items():
            if data.get(key) is None:
                data[key] = value
        return data

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, name: str) -> str:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ValueError(f"expected a plain folder name, received {name!r}")
        return name

    @field_validator("source", "inputs_npz", "expected_npz", "output_dir")
    @classmethod
    def _resolve_against_base_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve_path(value, info)

    @field_validator("inputs_npz", "expected_npz")
    @classmethod
    def _file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file not found: {value}; check the path")
        return value

    @field_validator("source")
    @classmethod
    def _source_is_there(cls, value: Path, info: ValidationInfo) -> Path:
        kind = info.data.get("format")
        if kind is None:
            if not value.exists():
                raise ValueError(f"file not found: {value}; check the path")
            if formats.detect_format(value) is None:
                raise ValueError(_undetectable(value))
            return value  # the format key was given, and its own error says what is wrong
        value = formats.source_root(value, kind)
        problem = formats.missing_source(value, kind)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("tags", "signature")
    @classmethod
    def _saved_model_only(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("format")
        if value is not None and kind not in (None, formats.SAVED_MODEL):
            raise ValueError(
                f"{info.field_name} selects a SavedModel's MetaGraph or signature, but the "
                f"source is a {kind} (received {value!r}); drop {info.field_name}"
            )
        return value

    @field_validator("tags", "outputs", mode="before")
    @classmethod
    def _names_from_a_string(cls, names: Any) -> Any:
        """``tags: serve`` or ``outputs: "h:0,c:0"`` as ``--tags``/``--outputs`` take them."""
        if isinstance(names, str):
            return tuple(name.strip() for name in names.split(",") if name.strip())
        return names

    @field_validator("tags")
    @classmethod
    def _tags_are_given(cls, tags: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if tags is not None and not tags:
            raise ValueError("expected at least one tag, such as ['serve'], received []")
        return tags

    @field_validator("safe_mode")
    @classmethod
    def _keras_only(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        kind = info.data.get("format")
        if value is not None and kind not in (None, formats.KERAS):
            raise ValueError(
                f"safe_mode applies to Keras files only, but the source is a {kind} "
                f"(received {value!r}); drop safe_mode (--unsafe-load)"
            )
        return value

    @field_validator("expected_npz")
    @classmethod
    def _expected_only_for_onnx(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and not _is_onnx_source(info):
            raise ValueError(
                "expected outputs are compared for ONNX sources only; a TensorFlow source's "
                "own outputs are the reference: drop expected_npz"
            )
        return value

    @field_validator("opset")
    @classmethod
    def _opset_only_for_tensorflow(cls, opset: int | None, info: ValidationInfo) -> int | None:
        if opset is not None and _is_onnx_source(info):
            raise ValueError(
                f"an ONNX source keeps its own opset, so none can be asked for (received "
                f"{opset}); drop opset"
            )
        return opset

    @field_validator("outputs")
    @classmethod
    def _outputs_are_tensor_names(
        cls, outputs: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        for name in outputs:
            _check_tensor_name(name, info)
        duplicates = sorted({name for name in outputs if outputs.count(name) > 1})
        if duplicates:
            raise ValueError(f"outputs are listed twice: {duplicates}")
        return outputs

    @model_validator(mode="after")
    def _inputs_and_tolerances_are_consistent(self, info: ValidationInfo) -> ModelConfig:
        names = [spec.name for spec in self.inputs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"inputs are listed twice: {duplicates}")
        pending = _defaults_pending(self.format, info)
        for key, given in (("inputs", self.fed_inputs), ("outputs", self.outputs)):
            if not given and not pending and self.format != formats.ONNX:
                raise ValueError(
                    f"expected at least one of {key} for a {self.format}: it declares none to "
                    f"default to; name them (--{key} or the config's {key})"
                )
        if self.inputs_npz is None and not pending:
            shapeless = [s.name for s in self.inputs if not s.is_pinned and s.shape is None]
            where = " (the ONNX graph leaves dimensions symbolic)" if _is_onnx_source(info) else ""
            if shapeless:
                raise ValueError(
                    f"inputs {shapeless} have no shape{where} and no inputs_npz gives their "
                    "values; add `shape` to each (--inputs NAME[d0,d1,...]), or set `inputs_npz`"
                )
        unknown = sorted(set(self.tolerances) - set(self.outputs))
        if unknown and self.outputs:
            raise ValueError(
                f"tolerances name {unknown}, which are not outputs; outputs are "
                f"{list(self.outputs)}"
            )
        return self

    @property
    def source_format(self) -> str:
        """``"onnx"`` or ``"tensorflow"`` (every format but ONNX)."""
        return source_format(self.source, self.format)

    @property
    def fed_inputs(self) -> tuple[InputSpec, ...]:
        """The inputs the model is fed with, in config order (pinned ones left out)."""
        return tuple(spec for spec in self.inputs if not spec.is_pinned)

    @property
    def pinned(self) -> dict[str, PinValue]:
        """Pinned inputs: tensor name -> the constant the exporter folds in."""
        return {spec.name: spec.value for spec in self.inputs if spec.value is not None}

    def tolerance_for(self, output: str) -> tuple[float, float]:
        """The ``(atol, rtol)`` that applies to ``output``."""
        override = self.tolerances.get(output, Tolerance())
        atol = self.atol if override.atol is None else override.atol
        rtol = self.rtol if override.rtol is None else override.rtol
        return atol, rtol


# ---------------------------------------------------------------------------------------------
# Building a config


def is_config_path(path: Path) -> bool:
    """Whether ``path`` names a YAML config rather than a model."""
    return path.suffix.lower() in _CONFIG_SUFFIXES


def load_config(
    path: Path,
    overrides: Mapping[str, Any] | None = None,
    pins: Mapping[str, PinValue] | None = None,
) -> ModelConfig:
    """Read and validate a YAML config; ``overrides`` and ``pins`` win over the file.

    ``overrides`` holds config keys (the command line's options); a given ``inputs`` replaces
    the file's unpinned inputs and keeps its pinned ones. ``pins`` pins inputs by name.
    Relative paths in the file resolve against its folder; paths in ``overrides`` should
    already be absolute.
    """
    document = read_yaml(Path(path))
    data = document.data
    if not isinstance(data, dict):
        raise ConfigError(
            f"config {path}: expected a mapping of keys (name, source, inputs, ...) at the top, "
            f"received {type(data).__name__}"
        )
    if MODELS_KEY in data:
        raise ConfigError(
            f"config {path} describes several models (`{MODELS_KEY}:`); convert them with "
            f"`python -m pipeline batch {path}`"
        )
    data = apply_overrides(data, overrides or {}, pins or {})
    return validate_config(
        data,
        base_dir=Path(path).resolve().parent,
        origin=f"config {path}",
        locate=locator(document.root),
    )


def config_from_model_path(
    source: Path,
    overrides: Mapping[str, Any],
    pins: Mapping[str, PinValue] | None = None,
) -> ModelConfig:
    """Build the config for a model path from command-line values (config keys)."""
    data = apply_overrides({"source": str(source)}, overrides, pins or {})
    return validate_config(data, base_dir=Path.cwd(), origin=_COMMAND_LINE)


def apply_overrides(
    data: dict[str, Any], overrides: Mapping[str, Any], pins: Mapping[str, PinValue]
) -> dict[str, Any]:
    merged = dict(data)
    for key, value in overrides.items():
        if key != "inputs":
            merged[key] = value
    inputs = merged.get("inputs") or []
    if not isinstance(inputs, list):
        return merged  # validation reports the malformed inputs
    if "inputs" in overrides:
        pinned = [spec for spec in inputs if isinstance(spec, Mapping) and "value" in spec]
        inputs = [*overrides["inputs"], *pinned]
    if pins:
        inputs = _pin_inputs(inputs, pins)
    if inputs or "inputs" in merged:
        merged["inputs"] = inputs
    return merged


def _pin_inputs(inputs: Sequence[Any], pins: Mapping[str, PinValue]) -> list[Any]:
    pinned_inputs: list[Any] = []
    for spec in inputs:
        if isinstance(spec, Mapping) and spec.get("name") in pins:
            spec = {**spec, "value": pins[spec["name"]]}
            spec.pop("shape", None)
        pinned_inputs.append(spec)
    known = {spec.get("name") for spec in inputs if isinstance(spec, Mapping)}
    pinned_inputs += [
        {"name": name, "value": value} for name, value in pins.items() if name not in known
    ]
    return pinned_inputs


# ---------------------------------------------------------------------------------------------
# Validation errors that name the key

_COMMAND_LINE = "command line"
_OPTIONS = {"inputs": "--inputs/--pin", "safe_mode": "--unsafe-load"}


def validate_config(
    data: Mapping[str, Any],
    base_dir: Path,
    origin: str,
    locate: Locator | None = None,
    extra_context: Mapping[str, Any] | None = None,
) -> ModelConfig:
    """Validate ``data`` into a ``ModelConfig``; every problem at once, in one ``ConfigError``.

    Relative paths resolve against ``base_dir``. ``origin`` names the file (or the command
    line) in the message, and ``locate`` gives the line of each problem's key.
    """
    detected = detected_format(data.get("source"), data.get("format"), base_dir)
    kind = source_format(data.get("source"), detected)
    problems: list[str] = []
    if kind == ONNX_SOURCE:
        data, problems = _with_onnx_graph(data, base_dir)
    context = {"base_dir": base_dir, "source_format": kind, "format": detected}
    context.update(extra_context or {})
    try:
        config = ModelConfig.model_validate(data, context=context)
    except ValidationError as error:
        details = _without_consequential_errors(error.errors())
        if kind == ONNX_SOURCE:
            details = [d for d in details if not _is_filled_from_the_graph(d)]
        problems += [_describe_error(detail, origin, locate) for detail in details]
    if problems:
        message = f"invalid {origin}:\n" + "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(message) from None
    return config


def _with_onnx_graph(data: Mapping[str, Any], base_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """``data`` completed from the ONNX source's graph, when the file is there to read."""
    source = data.get("source")
    path = (base_dir / Path(str(source)).expanduser()).resolve()
    if not path.is_file():
        return dict(data), []  # validation reports the missing file
    return onnx_model.fill_from_graph(data, onnx_model.read_signature(path))


def _is_filled_from_the_graph(detail: Mapping[str, Any]) -> bool:
    # An ONNX source that could not be read leaves inputs and outputs unset; the source's
    # own error says why.
    return detail["type"] == "missing" and tuple(detail["loc"]) in (("inputs",), ("outputs",))


def _describe_error(detail: Mapping[str, Any], origin: str, locate: Locator | None) -> str:
    loc = tuple(detail["loc"])
    where = _format_location(loc, origin) or "config"
    line = locate(loc) if locate is not None else None
    if line is not None:
        where = f"line {line}: {where}"
    kind = detail["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key{_suggestion(loc)}"
    if kind == "missing":
        return f"{where}: required, but not given"
    message = str(detail["msg"]).removeprefix("Value error, ")
    if kind.startswith("value_error"):
        return f"{where}: {message}"
    return f"{where}: {message}, received {detail.get('input')!r}"


def _format_location(loc: tuple[Any, ...], origin: str) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    if origin == _COMMAND_LINE and loc and isinstance(loc[0], str):
        if loc[0] == "source":
            return "MODEL"  # the positional argument, not an option
        option = _OPTIONS.get(loc[0], "--" + loc[0].replace("_", "-"))
        text = f"{text} ({option})"
    return text


def _without_consequential_errors(details: Sequence[Any]) -> list[Any]:
    # A list whose items all failed also reports being too short; the item errors say why.
    def has_deeper_error(loc: tuple[Any, ...]) -> bool:
        return any(
            tuple(other["loc"])[: len(loc)] == loc and len(other["loc"]) > len(loc)
            for other in details
        )

    return [d for d in details if not (d["type"] == "too_short" and has_deeper_error(d["loc"]))]


def _suggestion(loc: tuple[Any, ...]) -> str:
    valid = sorted(_model_at(loc[:-1]).model_fields)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} Valid keys here: {', '.join(valid)}"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model class that owns the keys at ``loc`` (list indices and dict keys skipped)."""
    model: type[BaseModel] = ModelConfig
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is not None:
            model = _nested_model(field.annotation) or model
    return model


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for argument in typing.get_args(annotation):
            nested = _nested_model(argument)
            if nested is not None:
                return nested
    return None
