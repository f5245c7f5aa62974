"""Check the exported ONNX model, then run it in onnxruntime on CPU.

onnxruntime clashes with neither TensorFlow nor torch, so this runs in the main process.
onnxruntime refuses some valid models (an ONNX ``LSTM`` with ``layout=1``, for one); those
failures raise ``OnnxRuntimeError``, so a caller with another reference can go on without it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime

from pipeline.errors import ConversionError

logger = logging.getLogger(__name__)

_PROVIDERS = ["CPUExecutionProvider"]
_LOG_ERRORS = 3

_EXPORTER_AT_FAULT = "The exporter wrote an invalid model"


class OnnxRuntimeError(ConversionError):
    """onnxruntime could not load or run a model; the message holds its own reason."""


@dataclass(frozen=True)
class OnnxModelSummary:
    """What the checked model holds: its opset, graph inputs and outputs, and op counts.

    ``op_counts`` counts nodes of the main graph and of every subgraph (Loop, Scan, If bodies).
    """

    opset: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    op_counts: dict[str, int] = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return sum(self.op_counts.values())


def check_model(path: Path, at_fault: str = _EXPORTER_AT_FAULT) -> OnnxModelSummary:
    """Run ``onnx.checker`` (full check) and strict shape inference on ``path``.

    Raises ``ConversionError`` naming the check that failed and what it reported;
    ``at_fault`` is the sentence that says who wrote the invalid model.
    """
    try:
        model = onnx.load(str(path))
    except Exception as error:
        raise ConversionError(f"cannot load {path} as an ONNX model: {error}") from error
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise ConversionError(
            f"{path} fails onnx.checker (full check): {error}. {at_fault}; "
            "the message names the node or attribute at fault"
        ) from error
    try:
        onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as error:
        raise ConversionError(
            f"{path} fails strict ONNX shape inference: {error}. A node's declared shapes or "
            "types contradict its inputs; the message names it"
        ) from error
    summary = _summarise(model)
    logger.debug("%s: opset %d, ops %s", path, summary.opset, summary.op_counts)
    return summary


def _summarise(model: onnx.ModelProto) -> OnnxModelSummary:
    opset = next(
        (entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 0
    )
    initializers = {tensor.name for tensor in model.graph.initializer}
    counts = Counter(node.op_type for node in _all_nodes(model.graph))
    return OnnxModelSummary(
        opset=opset,
        inputs=tuple(i.name for i in model.graph.input if i.name not in initializers),
        outputs=tuple(o.name for o in model.graph.output),
        op_counts=dict(sorted(counts.items())),
    )


def _all_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(attribute.g)
            for subgraph in attribute.graphs:
                yield from _all_nodes(subgraph)


def run_onnxruntime(
    path: Path, inputs: Mapping[str, np.ndarray], log_severity: int = _LOG_ERRORS
) -> dict[str, np.ndarray]:
    """Run the model at ``path`` on CPU with ``inputs`` and return every output by name.

    The feed must match the model's inputs exactly; a mismatch is reported with both lists
    (a ``ConversionError``). onnxruntime's own failures raise ``OnnxRuntimeError``.
    ``log_severity`` is onnxruntime's: 3 logs its errors, 4 only fatal ones.
    """
    options = onnxruntime.SessionOptions()
    options.log_severity_level = log_severity
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=_PROVIDERS)
    except Exception as error:
        raise OnnxRuntimeError(f"onnxruntime cannot load {path}: {error}") from error
    expected = [model_input.name for model_input in session.get_inputs()]
    missing = sorted(set(expected) - set(inputs))
    unexpected = sorted(set(inputs) - set(expected))
    if missing or unexpected:
        raise ConversionError(
            f"{path} expects inputs {expected}, but is fed {sorted(inputs)} "
            f"(missing {missing}, not model inputs {unexpected}); pinned inputs must not be "
            "model inputs, and every other input needs a value"
        )
    output_names = [output.name for output in session.get_outputs()]
    try:
        values = session.run(output_names, dict(inputs))
    except Exception as error:
        raise OnnxRuntimeError(f"onnxruntime failed to run {path}: {error}") from error
    return {name: np.asarray(value) for name, value in zip(output_names, values, strict=True)}
