"""A Keras mask as an exact re-ordering of the steps plus ONNX ``sequence_lens``.

What Keras computes with a mask ``m [B, T]`` (measured with Keras 3.15, TF backend, and
tf.keras 2): a masked step is skipped. The states are carried through it unchanged, so a
padded sequence runs from the initial state over its valid steps alone, wherever the
padding is (front, back or holes). The output at a masked step is

- zero when the layer's ``zero_output_for_mask`` is set (``Bidirectional`` sets it on both
  directions whenever it returns sequences);
- otherwise the output of the last valid step before it, or zero before the first one.

A ``return_sequences=False`` layer returns the last step of that output sequence.
``go_backwards`` reverses the input and the mask first.

ONNX ``sequence_lens`` only skips steps at the back, so the valid steps of each example are
first moved to the front, in order (a stable partition), the node runs with
``sequence_lens = sum(m)``, and its outputs are moved back. In integers, with ``t`` the step::

    count[b, t] = sum over s <= t of m[b, s]          valid steps up to t (no CumSum)
    dest[b, t]  = count - 1              if m[b, t]   where step t goes
                  length + t - count     otherwise
    perm[b, j]  = sum over t of t * (dest[b, t] == j) x_compact[b, j] = x[b, perm[b, j]]
    y[b, t]     = y_compact[b, max(count - 1, 0)] * keep
                  keep = m (zero outputs) or count > 0 (carried outputs)

Only ops that onnx2torch imports and ``torch.export`` captures once the shapes are folded
are used: no ``TopK`` or ``CumSum`` (they read their ``k`` or ``axis`` at run time), no
``GreaterOrEqual`` (onnx2torch stops at version 12).
Moving elements and multiplying by 0 or 1 are exact, so the result is Keras's to the bit
of the node itself. An ONNX reverse direction over the compacted steps visits the valid
steps backwards, as Keras's backward layer does. A sequence with no valid step keeps its
initial state in Keras; ONNX gives zeros for a length of 0, so the states are chosen with
``Where(length > 0, state, initial_state)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from onnx import TensorProto

from pipeline.tf_to_onnx.keras.graph_ops import GraphOps


@dataclass(frozen=True)
class CompactedSteps:
    """The re-ordering of one mask; every tensor name is batch-major."""

    mask: str  # float32 [B, T], 1 at valid steps
    lengths: str  # int32 [B], ONNX sequence_lens
    has_steps: str  # bool [B, 1], length > 0
    perm: str  # int64 [B, T]
    gather_back: str  # int64 [B, T], max(rank, 0)
    seen_valid: str  # float32 [B, T], count > 0


def compact_steps(ops: GraphOps, mask: str, x: str) -> CompactedSteps:
    """The re-ordering for ``mask [B, T]`` (bool or int64) of the sequences ``x [B, T, I]``."""
    valid = ops.cast(mask, TensorProto.INT64)
    steps = ops.dim(x, 1)
    time = ops.op("Range", [ops.const(0), steps, ops.const(1)])
    # up_to[t, s] = s <= t, as integers
    next_step = ops.unsqueeze(ops.op("Add", [time, ops.const(1)]), 1)  # t + 1, [T, 1]
    up_to = ops.cast(ops.op("Less", [ops.unsqueeze(time, 0), next_step]), TensorProto.INT64)
    count = _sum_last(ops, ops.op("Mul", [ops.unsqueeze(valid, 1), up_to]))
    length = ops.op("ReduceSum", [valid, ops.const([1])], keepdims=0)
    rank = ops.op("Sub", [count, ops.const(1)])
    padded_rank = ops.op("Sub", [ops.op("Add", [ops.unsqueeze(length, 1), time]), count])
    padding = ops.op("Sub", [ops.const(1), valid])
    dest = ops.op("Add", [ops.op("Mul", [valid, rank]), ops.op("Mul", [padding, padded_rank])])
    # lands[b, j, t] = dest[b, t] == j
    lands = ops.cast(
        ops.op("Equal", [ops.unsqueeze(dest, 1), ops.unsqueeze(time, 1)]), TensorProto.INT64
    )
    perm = _sum_last(ops, ops.op("Mul", [lands, time]))
    return CompactedSteps(
        mask=ops.as_float(mask),
        lengths=ops.cast(length, TensorProto.INT32),
        has_steps=ops.op("Greater", [ops.unsqueeze(length, 1), ops.const(0)]),
        perm=perm,
        gather_back=ops.op("Max", [rank, ops.const(0)]),
        seen_valid=ops.as_float(ops.op("Greater", [count, ops.const(0)])),
    )


def _sum_last(ops: GraphOps, tensor: str) -> str:
    return ops.op("ReduceSum", [tensor, ops.const([-1])], keepdims=0)


def gather_steps(ops: GraphOps, sequences: str, indices: str) -> str:
    """``sequences[b, indices[b, t], :]`` for ``sequences [B, T, F]``, ``indices [B, T]``."""
    expanded = ops.op("Expand", [ops.unsqueeze(indices, 2), ops.op("Shape", [sequences])])
    return ops.op("GatherElements", [sequences, expanded], axis=1)


def restore_steps(ops: GraphOps, steps: CompactedSteps, compact: str, zero_output: bool) -> str:
    """The Keras output sequence ``[B, T, H]`` from the node's compacted one."""
    keep = steps.mask if zero_output else steps.seen_valid
    gathered = gather_steps(ops, compact, steps.gather_back)
    return ops.op("Mul", [gathered, ops.unsqueeze(keep, 2)])
