"""Which outputs are sequences over time, and along which axis their steps run.

The step count comes from the recurrent nodes of ``model.onnx``: ONNX ``LSTM``/``GRU``/
``RNN`` read ``X [T, B, I]`` (``[B, T, I]`` with ``layout=1``), our ``tfrnn.BlockLSTM``
reads ``x [T, B, I]`` (its second input) and a ``Scan`` iterates over axis 0 of its scan
inputs. An output of rank 3 or more is a sequence when axis 0 or axis 1 has one of those
step counts ``T > 1``:

- only axis 0 does: time-major (``h [T, B, H]``, ONNX ``Y [T, D, B, H]``);
- only axis 1 does: batch-major (a ``dynamic_rnn`` or Keras output ``[B, T, H]``);
- both do (``T == B``): the source's own layout decides (Keras is batch-major, TF's fused
  ops time-major), so axis 1 for a batch-major source and axis 0 otherwise.

A model without a recurrent node of known length falls back to the step counts of the
rank-3 inputs, read time-major.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx

logger = logging.getLogger(__name__)

SEQUENCE_RANK = 3
_FUSED_OPS = ("LSTM", "GRU", "RNN")


def recurrent_step_counts(model_path: Path) -> set[int]:
    """The step counts ``T`` the recurrent nodes of the ONNX model at ``model_path`` run."""
    try:
        model = onnx.shape_inference.infer_shapes(onnx.load(str(model_path)))
    except (OSError, onnx.onnx_cpp2py_export.shape_inference.InferenceError) as error:
        logger.debug("no step counts from %s: %s", model_path, error)
        return set()
    shapes = {
        value.name: _static_shape(value)
        for value in (*model.graph.input, *model.graph.value_info, *model.graph.output)
    }
    steps: set[int] = set()
    for node in model.graph.node:
        shape, axis = _sequence_input(node, shapes)
        if shape is not None and axis < len(shape) and shape[axis] is not None:
            steps.add(shape[axis])
    steps.discard(1)
    return steps


def sequence_axes(
    reference: Mapping[str, np.ndarray],
    outputs: Sequence[str],
    steps: set[int],
    inputs: Mapping[str, np.ndarray],
    *,
    batch_major: bool,
) -> dict[str, int]:
    """Each sequence output of ``outputs`` and its time axis (see the module docstring)."""
    if not steps:
        steps = {np.shape(a)[0] for a in inputs.values() if np.ndim(a) == SEQUENCE_RANK}
        steps.discard(1)
        batch_major = False
    axes: dict[str, int] = {}
    for name in outputs:
        if name not in reference or np.ndim(reference[name]) < SEQUENCE_RANK:
            continue
        shape = np.shape(reference[name])
        matching = [axis for axis in (0, 1) if shape[axis] in steps]
        if len(matching) == 2:
            axes[name] = 1 if batch_major else 0
        elif matching:
            axes[name] = matching[0]
    return axes


def _sequence_input(
    node: onnx.NodeProto, shapes: Mapping[str, tuple[int | None, ...] | None]
) -> tuple[tuple[int | None, ...] | None, int]:
    """The shape of the input ``node`` steps over and its time axis, if it is recurrent."""
    if node.op_type in _FUSED_OPS and not node.domain and node.input:
        layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
        return shapes.get(node.input[0]), 1 if layout else 0
    if node.op_type == "BlockLSTM" and node.domain and len(node.input) > 1:
        return shapes.get(node.input[1]), 0
    if node.op_type == "Scan" and not node.domain:
        num_scan = next((a.i for a in node.attribute if a.name == "num_scan_inputs"), 0)
        if num_scan:
            return shapes.get(node.input[len(node.input) - num_scan]), 0
    return None, 0


def _static_shape(value: onnx.ValueInfoProto) -> tuple[int | None, ...] | None:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return tuple(dim.dim_value if dim.HasField("dim_value") else None for dim in tensor.shape.dim)
