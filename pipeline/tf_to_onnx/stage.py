"""The TensorFlow stages: describe the source, then run it for the reference and export it.

Run inside the TensorFlow worker process; arguments and results are paths and plain data.

- ``describe_source`` reads a SavedModel, a checkpoint or a Keras file, and returns what it
  declares (``pipeline.sources.signature.SourceDescription``). A SavedModel or checkpoint
  is frozen on the way and its ``GraphDef`` written to ``frozen_path``: from then on it is a
  frozen graph like any other.
- ``export_and_reference`` loads a frozen graph (or, for ``source_format="keras"``, the Keras
  file), pins inputs, writes TensorFlow's outputs on the inputs and the ONNX model.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf2onnx

from pipeline.errors import ConfigError, SourceError
from pipeline.sources import formats
from pipeline.sources.checkpoint import freeze_checkpoint
from pipeline.sources.frozen_graph import load_graph_def, pin_inputs, run_graph
from pipeline.sources.graph_defaults import refuse_loop_internals
from pipeline.sources.saved_model import freeze_saved_model
from pipeline.sources.signature import SourceDescription, TensorDescription
from pipeline.sources.training_ops import fold_constant_floors, warn_of_random_ops
from pipeline.tf_to_onnx.export import ExportResult, export_graph_def

logger = logging.getLogger(__name__)

KERAS_KIND = "Keras model"


def describe_source(
    source: str,
    source_format: str,
    output_names: list[str],
    tags: list[str] | None,
    signature: str | None,
    safe_mode: bool | None,
    frozen_path: str,
) -> dict:
    """What the source declares, as ``SourceDescription.as_dict()``, plus timings/versions."""
    start = time.perf_counter()
    if source_format == formats.KERAS:
        description = _describe_keras(source, bool(safe_mode) if safe_mode is not None else True)
    else:
        if source_format == formats.CHECKPOINT:
            graph_def, description = freeze_checkpoint(source, output_names)
        elif source_format == formats.SAVED_MODEL:
            graph_def, description = freeze_saved_model(
                source, tags or ["serve"], signature or "serving_default", output_names
            )
        else:
            raise ConfigError(
                f"describe: expected a {', '.join(formats.DESCRIBED_FORMATS)} source, received "
                f"{source_format!r}; a frozen graph names its inputs and outputs itself"
            )
        Path(frozen_path).write_bytes(graph_def.SerializeToString())
        description = SourceDescription(
            description.kind,
            description.inputs,
            description.outputs,
            frozen_path,
            description.origin,
        )
    logger.info(
        "described %s: %s, %d input(s), %d output(s)",
        source,
        description.kind,
        len(description.inputs),
        len(description.outputs),
    )
    return {
        **description.as_dict(),
        "timings": {"describe": time.perf_counter() - start},
        "versions": {"tensorflow": tf.__version__},
    }


def _describe_keras(source: str, safe_mode: bool) -> SourceDescription:
    from pipeline.sources import keras_model

    model = keras_model.load_keras_model(source, safe_mode=safe_mode)
    inputs = tuple(
        TensorDescription(name, str(dtype), None if shape is None else tuple(shape), note="input")
        for name, dtype, shape in keras_model.input_signature(model)
    )
    outputs = tuple(
        TensorDescription(name, note="output") for name in keras_model.output_names(model)
    )
    return SourceDescription(KERAS_KIND, inputs, outputs, origin="its inputs and outputs")


def export_and_reference(
    source: str,
    input_names: list[str],
    output_names: list[str],
    pinned: dict[str, object],
    inputs_npz: str,
    opset: int,
    onnx_path: str,
    reference_npz: str,
    input_shapes: dict[str, list[int]] | None = None,
    source_format: str = formats.FROZEN_GRAPH,
    safe_mode: bool = True,
) -> dict:
    """Write TF's outputs on ``inputs_npz`` to ``reference_npz`` and the model to ``onnx_path``.

    ``source`` is a frozen graph, or a Keras file when ``source_format`` is ``"keras"``.
    """
    timings: dict[str, float] = {}
    with np.load(inputs_npz) as data:
        feeds = {name: data[name] for name in data.files}
    if source_format == formats.KERAS:
        result, reference = _keras_reference_and_export(
            source, feeds, output_names, opset, safe_mode, timings
        )
    else:
        result, reference = _graph_reference_and_export(
            source, feeds, input_names, output_names, pinned, opset, input_shapes, timings
        )
    np.savez(reference_npz, **reference)
    Path(onnx_path).write_bytes(result.model.SerializeToString())
    logger.info("TensorFlow stage done for %s", source)
    return {
        "recurrent_nodes": [record.as_dict() for record in result.recurrent_nodes],
        "timings": timings,
        "versions": {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__},
    }


def _graph_reference_and_export(
    source: str,
    feeds: dict[str, np.ndarray],
    input_names: list[str],
    output_names: list[str],
    pinned: dict[str, object],
    opset: int,
    input_shapes: dict[str, list[int]] | None,
    timings: dict[str, float],
) -> tuple[ExportResult, dict[str, np.ndarray]]:
    start = time.perf_counter()
    graph_def = load_graph_def(source)
    refuse_loop_internals(graph_def, output_names, Path(source).name)
    graph_def = fold_constant_floors(pin_inputs(graph_def, pinned), feeds)
    warn_of_random_ops(graph_def, output_names)
    timings["load"] = time.perf_counter() - start

    start = time.perf_counter()
    reference = run_graph(graph_def, feeds, output_names)
    timings["tf_reference"] = time.perf_counter() - start

    start = time.perf_counter()
    result = export_graph_def(graph_def, input_names, output_names, opset, input_shapes)
    timings["export"] = time.perf_counter() - start
    return result, reference


def _keras_reference_and_export(
    source: str,
    feeds: dict[str, np.ndarray],
    output_names: list[str],
    opset: int,
    safe_mode: bool,
    timings: dict[str, float],
) -> tuple[ExportResult, dict[str, np.ndarray]]:
    from pipeline.sources import keras_model
    from pipeline.tf_to_onnx.keras_export import export_keras_model

    start = time.perf_counter()
    model = keras_model.load_keras_model(source, safe_mode=safe_mode)
    timings["load"] = time.perf_counter() - start

    start = time.perf_counter()
    outputs = keras_model.run_keras(model, feeds)
    missing = [name for name in output_names if name not in outputs]
    if missing:
        raise SourceError(
            f"outputs {missing} are not outputs of the Keras model {Path(source).name}; its "
            f"outputs are {sorted(outputs)}"
        )
    reference = {name: np.asarray(outputs[name]) for name in output_names}
    timings["tf_reference"] = time.perf_counter() - start

    start = time.perf_counter()
    result = export_keras_model(model, opset, output_names)
    timings["export"] = time.perf_counter() - start
    return result, reference
