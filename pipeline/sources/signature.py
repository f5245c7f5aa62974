"""What a source declares it takes and gives, and the config completed from it.

The TF worker's ``describe`` step (``pipeline.tf_to_onnx.stage.describe_source``) reads a
SavedModel's signature, a checkpoint graph's placeholders and unconsumed nodes, or a Keras
model's inputs and outputs, and returns them as plain data (``SourceDescription``). This
module, framework-free, completes the config from it in the main process:

- **inputs** the config leaves out default to the described ones (pinned ones left out);
  an input the config names but gives no ``dtype`` or ``shape`` takes the described ones;
- a default shape needs every dimension known but one: a single unknown dimension is the
  batch (the first of a batch-major ``[None, T, I]``, the second of a time-major
  ``[T, None, I]``) and defaults to 1. Two unknown dimensions, or an unknown rank, are an
  error naming the input and how to give its shape. With ``inputs_npz`` the file's arrays
  give the shapes;
- **outputs** the config leaves out default to the described ones.

Each default is logged at INFO in one line, so ``convert`` shows what it chose.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.config import DEFAULTS_FILLED, ModelConfig, validate_config
from pipeline.errors import ConfigError, ConversionError

logger = logging.getLogger(__name__)

BATCH_DEFAULT = 1


@dataclass(frozen=True)
class TensorDescription:
    """One declared input or output: its tensor name, numpy dtype name and shape (``None``
    for an unknown rank, a ``None`` dimension where unknown), the signature key it has, or
    else what it is (``note``: ``"placeholder"``, ``"unconsumed node"``), for the log."""

    name: str
    dtype: str = ""
    shape: tuple[int | None, ...] | None = None
    key: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        plain = asdict(self)
        plain["shape"] = None if self.shape is None else list(self.shape)
        return plain


@dataclass(frozen=True)
class SourceDescription:
    """What the source declares; ``kind`` says what it turned out to be (``TF2 SavedModel``),
    ``frozen_graph`` is where the worker wrote its frozen ``GraphDef`` (none for Keras)."""

    kind: str
    inputs: tuple[TensorDescription, ...]
    outputs: tuple[TensorDescription, ...]
    frozen_graph: str | None = None
    origin: str = "the graph"
    """Where the defaults come from, for the log: ``signature 'serving_default'``."""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "inputs": [tensor.as_dict() for tensor in self.inputs],
            "outputs": [tensor.as_dict() for tensor in self.outputs],
            "frozen_graph": self.frozen_graph,
            "origin": self.origin,
            **self.details,
        }

    @classmethod
    def from_plain(cls, plain: Mapping[str, Any]) -> SourceDescription:
        """Read the describe step's result; a malformed one is the stage's bug."""
        try:
            return cls(
                kind=str(plain["kind"]),
                inputs=tuple(_tensor(entry) for entry in plain["inputs"]),
                outputs=tuple(_tensor(entry) for entry in plain["outputs"]),
                frozen_graph=plain.get("frozen_graph"),
                origin=str(plain.get("origin", "the graph")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConversionError(
                f"the describe stage returned {plain!r}, expected kind, inputs and outputs "
                f"({type(error).__name__}: {error}); the stage breaks its contract"
            ) from error


def _tensor(entry: Mapping[str, Any]) -> TensorDescription:
    shape = entry.get("shape")
    return TensorDescription(
        name=str(entry["name"]),
        dtype=str(entry.get("dtype") or ""),
        shape=None if shape is None else tuple(shape),
        key=str(entry.get("key") or ""),
        note=str(entry.get("note") or ""),
    )


def fill_defaults(config: ModelConfig, description: SourceDescription) -> ModelConfig:
    """``config`` with its inputs and outputs completed from ``description`` (see above)."""
    data = config.model_dump(exclude_unset=True)
    given = [dict(spec) for spec in data.get("inputs", ())]
    pinned = [spec for spec in given if "value" in spec]
    fed = [spec for spec in given if "value" not in spec]
    described = {tensor.name: tensor for tensor in description.inputs}
    has_npz = config.inputs_npz is not None
    problems: list[str] = []
    if not fed:
        pinned_names = {spec["name"] for spec in pinned}
        fed = [{"name": t.name} for t in description.inputs if t.name not in pinned_names]
        for spec in fed:
            found = _complete(spec, described[spec["name"]], description, has_npz)
            if not found:
                _log_input(spec, described[spec["name"]], description)
            problems += found
    else:
        for spec in fed:
            if spec["name"] in described:
                problems += _complete(spec, described[spec["name"]], description, has_npz)
    if problems:
        raise ConfigError(
            f"invalid config of {config.name}: the defaults of its {description.kind} do not "
            "complete it:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )
    data["inputs"] = fed + pinned
    if not config.outputs:
        data["outputs"] = [tensor.name for tensor in description.outputs]
        for tensor in description.outputs:
            logger.info("default output %s%s", tensor.name, _key_note(tensor, description))
    return validate_config(
        data,
        base_dir=config.source.parent,
        origin=f"config of {config.name}, completed from its {description.kind}",
        extra_context={DEFAULTS_FILLED: True},
    )


def _complete(
    spec: dict[str, Any], tensor: TensorDescription, description: SourceDescription, has_npz: bool
) -> list[str]:
    """Give ``spec`` the described dtype and shape where it has none; return the problems."""
    if "dtype" not in spec and tensor.dtype:
        spec["dtype"] = tensor.dtype
    if "shape" in spec or has_npz:
        return []
    name = tensor.name
    how = f"give its shape: --inputs {name}[d0,d1,...] (or `shape:` in the config)"
    if tensor.shape is None:
        return [f"input {name!r} has an unknown rank in the {description.kind}; {how}"]
    unknown = [index for index, dim in enumerate(tensor.shape) if dim is None]
    if len(unknown) > 1:
        declared = [("?" if dim is None else dim) for dim in tensor.shape]
        return [
            f"input {name!r} has shape {declared} in the {description.kind}: dimensions "
            f"{unknown} unknown, and only a single unknown (batch) dimension defaults to "
            f"{BATCH_DEFAULT}; {how}"
        ]
    spec["shape"] = [BATCH_DEFAULT if dim is None else dim for dim in tensor.shape]
    return []


def _log_input(
    spec: Mapping[str, Any], tensor: TensorDescription, description: SourceDescription
) -> None:
    shape = spec.get("shape")
    unknown = [] if tensor.shape is None else [i for i, d in enumerate(tensor.shape) if d is None]
    note = ""
    if unknown and shape is not None:
        note = f", unknown dimension {unknown[0]} (the batch) set to {BATCH_DEFAULT}"
    logger.info(
        "default input %s: %s %s%s%s",
        spec["name"],
        spec.get("dtype", tensor.dtype),
        "shape from inputs_npz" if shape is None else list(shape),
        note,
        _key_note(tensor, description),
    )


def _key_note(tensor: TensorDescription, description: SourceDescription) -> str:
    if tensor.key:
        return f" (key {tensor.key!r} of {description.origin})"
    return f" ({tensor.note} of the {description.kind})" if tensor.note else ""


def tensor_names(tensors: Sequence[TensorDescription]) -> list[str]:
    return [tensor.name for tensor in tensors]
