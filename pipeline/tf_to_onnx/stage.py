"""The TensorFlow stage: load the source, run it for the reference, export it to ONNX.

Runs inside the TensorFlow worker process; arguments and results are paths and plain data.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf2onnx

from pipeline.sources.frozen_graph import load_graph_def, pin_inputs, run_graph
from pipeline.sources.training_ops import fold_constant_floors
from pipeline.tf_to_onnx.export import export_graph_def

logger = logging.getLogger(__name__)


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
) -> dict:
    """Write TF's outputs on ``inputs_npz`` to ``reference_npz`` and the model to ``onnx_path``."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    graph_def = pin_inputs(load_graph_def(source), pinned)
    if pinned:
        graph_def = fold_constant_floors(graph_def)
    timings["load"] = time.perf_counter() - start

    start = time.perf_counter()
    with np.load(inputs_npz) as data:
        feeds = {name: data[name] for name in data.files}
    reference = run_graph(graph_def, feeds, output_names)
    np.savez(reference_npz, **reference)
    timings["tf_reference"] = time.perf_counter() - start

    start = time.perf_counter()
    result = export_graph_def(graph_def, input_names, output_names, opset, input_shapes)
    Path(onnx_path).write_bytes(result.model.SerializeToString())
    timings["export"] = time.perf_counter() - start
    logger.info("TensorFlow stage done for %s", source)
    return {
        "recurrent_nodes": [record.as_dict() for record in result.recurrent_nodes],
        "timings": timings,
        "versions": {"tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__},
    }
