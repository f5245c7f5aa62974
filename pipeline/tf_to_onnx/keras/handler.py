"""The tf2onnx handler that writes a Keras stand-in op as one ONNX ``LSTM``/``GRU``/``RNN``.

The stand-in op (``stand_in.py``) is ``PyFunc(x [B, T, I], initial states..., mask?)``
with the Keras layer's outputs. Keras is batch-major and onnxruntime refuses ``layout=1``,
so the node runs at layout 0 between transposes::

    x [B, T, I] --go_backwards: reverse T--> --mask: compact (masking.py)--> X [T, B, I]
    Y [T, D, B, H], Y_h [D, B, H], Y_c [D, B, H] = LSTM(X, W, R, B, sequence_lens?,
                                                         initial_h?, initial_c?)
    direction d:  sequence  = Y[:, d] as [B, T, H]  (--mask: restored to Keras's steps)
                  last      = Y_h[d]                 (--mask and zero outputs: that step's)
                  states    = Y_h[d] (, Y_c[d])      (--mask: initial state if no step)

An ONNX reverse direction's ``Y`` is aligned with the input steps, as Keras's
``Bidirectional`` aligns its backward layer's output. ``go_backwards`` on a single layer
returns the steps in reversed order, so that layer reverses its input and runs forward.
Bidirectional merges: ``concat`` (last axis), ``sum``, ``mul``, ``ave`` (``(a + b) / 2``),
``None`` (both outputs). Outputs are in Keras's order: the output(s), then each direction's
states.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
from onnx import TensorProto
from tf2onnx.graph import Graph, Node

from pipeline.tf_to_onnx.keras.graph_ops import GraphOps
from pipeline.tf_to_onnx.keras.layers import RecurrentLayerSpec
from pipeline.tf_to_onnx.keras.masking import (
    CompactedSteps,
    compact_steps,
    gather_steps,
    restore_steps,
)
from pipeline.tf_to_onnx.records import ExportLog, RecurrentNodeRecord

logger = logging.getLogger(__name__)

STAND_IN_OP = "PyFunc"
MARKER_PREFIX = "tfrnn_keras_call_"
_MARKER = re.compile(rf"{MARKER_PREFIX}\d+")


@dataclass(frozen=True)
class StandInCall:
    """One call of a stand-in layer: its spec, which optional inputs the op has, and the
    static shapes of its outputs (-1 for unknown; a GraphDef does not keep them)."""

    marker: str
    spec: RecurrentLayerSpec
    has_initial_state: bool
    has_mask: bool
    output_shapes: tuple[tuple[int, ...], ...]


def fused_path(spec: RecurrentLayerSpec) -> str:
    return f"fused ONNX {spec.op_type} (Keras layer)"


def convert_stand_in(ctx: Graph, node: Node, calls: dict[str, StandInCall], log: ExportLog) -> None:
    """Replace the stand-in ``node`` by the ONNX node of its Keras layer."""
    found = _MARKER.search(node.name)
    call = calls.get(found.group(0)) if found else None
    if call is None:
        message = (
            f"PyFunc node {node.name!r} is no stand-in of a Keras recurrent layer; a "
            "tf.numpy_function or tf.py_function in the model has no ONNX form. Replace it "
            "with TensorFlow ops"
        )
        log.refusals.append(message)
        raise ValueError(message)
    spec = call.spec
    ops = GraphOps(ctx, spec.name)
    outputs = _write_layer(ops, node, call)
    if len(outputs) != len(node.output):
        raise RuntimeError(
            f"Keras layer {spec.name!r}: wrote {len(outputs)} outputs for the stand-in's "
            f"{len(node.output)}; this is a bug of pipeline/tf_to_onnx/keras/handler.py"
        )
    shapes = [list(shape) for shape in call.output_shapes]
    dtypes = [ctx.get_dtype(name) for name in node.output]
    old_names = list(node.output)
    ctx.remove_node(node.name)
    for old, new, shape, dtype in zip(old_names, outputs, shapes, dtypes, strict=True):
        ctx.make_node("Identity", [new], outputs=[old], shapes=[shape], dtypes=[dtype])
    log.nodes.append(
        RecurrentNodeRecord(
            node=spec.name,
            op=f"Bidirectional({spec.kind})" if spec.bidirectional else spec.kind,
            path=fused_path(spec),
            reason=_reason(call),
        )
    )
    logger.info("Keras %s %r -> %s", spec.kind, spec.name, fused_path(spec))


def _reason(call: StandInCall) -> str:
    spec = call.spec
    parts = [
        f"Keras {spec.kind} maps exactly to one ONNX {spec.op_type} node"
        + (" with both directions" if spec.bidirectional else "")
    ]
    if spec.go_backwards:
        parts.append("go_backwards: input reversed")
    if call.has_mask:
        parts.append("mask: valid steps moved to the front, sequence_lens, moved back")
    if call.has_initial_state:
        parts.append("initial states fed")
    return "; ".join(parts)


def _write_layer(ops: GraphOps, node: Node, call: StandInCall) -> list[str]:
    spec = call.spec
    directions, per_direction = spec.num_directions, spec.num_states
    x = node.input[0]
    initial = list(node.input[1 : 1 + directions * per_direction]) if call.has_initial_state else []
    mask = node.input[-1] if call.has_mask else None
    if spec.go_backwards:
        x = ops.reverse_steps(x)
        if mask is not None:
            mask = ops.reverse_steps(ops.cast(mask, TensorProto.INT64))
    steps = compact_steps(ops, mask, x) if mask is not None else None
    if steps is not None:
        x = gather_steps(ops, x, steps.perm)

    Y, Y_h, Y_c = _recurrent_node(ops, spec, ops.transpose(x, [1, 0, 2]), initial, steps)
    main: list[str] = []
    states: list[str] = []
    for d in range(directions):
        if spec.return_sequences:
            sequence = ops.transpose(ops.take(Y, d, axis=1), [1, 0, 2])
            if steps is not None:
                sequence = restore_steps(ops, steps, sequence, spec.zero_output_for_mask[d])
            main.append(sequence)
        else:
            main.append(_last_output(ops, spec, ops.take(Y_h, d, axis=0), steps, d))
        finals = [Y_h, Y_c][:per_direction]
        for k, final in enumerate(finals):
            state = ops.take(final, d, axis=0)
            if steps is not None and initial:
                state = ops.op("Where", [steps.has_steps, state, initial[d * per_direction + k]])
            states.append(state)
    outputs = _merge(ops, spec, main)
    return outputs + (states if spec.return_state else [])


def _recurrent_node(
    ops: GraphOps,
    spec: RecurrentLayerSpec,
    X: str,
    initial: list[str],
    steps: CompactedSteps | None,
) -> tuple[str, str, str | None]:
    weights = spec.weights
    inputs = [X] + [ops.const(value, np.float32) for value in (weights.W, weights.R, weights.B)]
    inputs.append(steps.lengths if steps is not None else "")
    if initial:
        per_direction = spec.num_states
        for k in range(per_direction):
            of_directions = [
                ops.unsqueeze(initial[d * per_direction + k], 0) for d in range(spec.num_directions)
            ]
            inputs.append(
                of_directions[0]
                if len(of_directions) == 1
                else ops.op("Concat", of_directions, axis=0)
            )
    while inputs[-1] == "":
        inputs.pop()
    outputs = ops.node(
        spec.op_type,
        inputs,
        3 if spec.op_type == "LSTM" else 2,
        hidden_size=spec.units,
        **spec.attributes,
    )
    return outputs[0], outputs[1], outputs[2] if len(outputs) > 2 else None


def _last_output(
    ops: GraphOps, spec: RecurrentLayerSpec, final: str, steps: CompactedSteps | None, d: int
) -> str:
    """Keras's last output: the final state, zero where zero outputs mask the last step."""
    if steps is None or not spec.zero_output_for_mask[d]:
        return final
    # The backward direction's last step, in its own reading order, is step 0.
    last = 0 if d == 1 else -1
    return ops.op("Mul", [final, ops.op("Gather", [steps.mask, ops.const([last])], axis=1)])


def _merge(ops: GraphOps, spec: RecurrentLayerSpec, main: list[str]) -> list[str]:
    if not spec.bidirectional or spec.merge_mode is None:
        return main
    forward, backward = main
    if spec.merge_mode == "concat":
        return [ops.op("Concat", [forward, backward], axis=-1)]
    if spec.merge_mode == "sum":
        return [ops.op("Add", [forward, backward])]
    if spec.merge_mode == "mul":
        return [ops.op("Mul", [forward, backward])]
    total = ops.op("Add", [forward, backward])
    return [ops.op("Div", [total, ops.const(2.0, np.float32)])]
