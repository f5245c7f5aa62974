"""onnxruntime-side measurements; run in the main process (onnxruntime clashes with nothing).

- ``write_hand_built_model``: the limit. The model's layers as bare ONNX ``LSTM`` nodes
  built straight from the TF weights with ``pipeline.recurrent.lstm`` (rnn-semantics §7),
  one node per layer and a ``Squeeze`` of the direction axis between layers. Nothing else:
  no ``Slice``, no final-state outputs beyond the node's own ``Y_h``/``Y_c``.
- ``time_sessions``: several ONNX files timed side by side in onnxruntime on CPU with the
  same thread counts, interleaved (``timing``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from pipeline.bench.models import INPUT_NAME, BenchModel, layer_onnx_weights
from pipeline.bench.timing import Timing, time_interleaved

logger = logging.getLogger(__name__)

HAND_BUILT_OPSET = 17


@dataclass(frozen=True)
class SessionRun:
    """One ONNX file's timing and its first output (for the agreement check)."""

    timing: Timing
    first_output: np.ndarray


def write_hand_built_model(model: BenchModel, weights_npz: Path, path: Path) -> Path:
    """Write ``model``'s layers as bare ONNX ``LSTM`` nodes to ``path``; input ``x:0``."""
    nodes, initializers = [], []
    layer_input = INPUT_NAME
    with np.load(weights_npz) as data:
        for layer in range(model.layers):
            weights = layer_onnx_weights(model, data, layer)
            names = [f"W_{layer}", f"R_{layer}", f"B_{layer}"]
            for name, array in zip(names, (weights.W, weights.R, weights.B), strict=True):
                initializers.append(numpy_helper.from_array(array, name))
            outputs = [f"Y_{layer}", f"Y_h_{layer}", f"Y_c_{layer}"]
            nodes.append(
                helper.make_node(
                    "LSTM",
                    [layer_input, *names],
                    outputs,
                    name=f"lstm_{layer}",
                    hidden_size=model.hidden_size,
                )
            )
            if layer + 1 < model.layers:
                layer_input = f"x_{layer + 1}"
                nodes.append(helper.make_node("Squeeze", [outputs[0], "axis_1"], [layer_input]))
    if model.layers > 1:
        initializers.append(numpy_helper.from_array(np.array([1], np.int64), "axis_1"))
    last = model.layers - 1
    steps, batch, units = model.steps, model.batch, model.hidden_size
    graph = helper.make_graph(
        nodes,
        "hand_built_lstm",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, list(model.input_shape))],
        [
            helper.make_tensor_value_info(f"Y_{last}", TensorProto.FLOAT, [steps, 1, batch, units]),
            helper.make_tensor_value_info(f"Y_h_{last}", TensorProto.FLOAT, [1, batch, units]),
            helper.make_tensor_value_info(f"Y_c_{last}", TensorProto.FLOAT, [1, batch, units]),
        ],
        initializers,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", HAND_BUILT_OPSET)])
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))
    logger.debug("wrote the hand-built model %s (%d LSTM nodes)", path, model.layers)
    return path


def time_sessions(
    models: Mapping[str, Path],
    feeds: Mapping[str, Mapping[str, np.ndarray]],
    *,
    warmup: int,
    repeats: int,
    threads: int,
) -> dict[str, SessionRun]:
    """Time each ONNX file of ``models`` fed ``feeds[name]``, interleaved; all outputs run."""
    sessions = {name: _session(path, threads) for name, path in models.items()}
    parties = {
        name: (lambda s=session, f=dict(feeds[name]): s.run(None, f))
        for name, session in sessions.items()
    }
    timings = time_interleaved(parties, warmup=warmup, repeats=repeats)
    return {
        name: SessionRun(timings[name], np.asarray(session.run(None, dict(feeds[name]))[0]))
        for name, session in sessions.items()
    }


def op_counts(path: Path) -> dict[str, int]:
    """Node counts of the main graph of ``path`` by op type."""
    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def _session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
