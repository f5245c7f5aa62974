"""A small writer of ONNX nodes into a tf2onnx graph, scoped under one Keras layer's name."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto
from tf2onnx import utils
from tf2onnx.graph import Graph


class GraphOps:
    """Make ONNX nodes and constants in ``ctx``, each named under ``scope``."""

    def __init__(self, ctx: Graph, scope: str) -> None:
        self.ctx = ctx
        self.scope = scope

    def const(self, value: np.ndarray | list | int | float, dtype=np.int64) -> str:
        array = np.asarray(value, dtype=dtype)
        return self.ctx.make_const(utils.make_name(f"{self.scope}/const"), array).output[0]

    def op(self, op_type: str, inputs: list[str], **attr) -> str:
        return self.node(op_type, inputs, 1, **attr)[0]

    def node(self, op_type: str, inputs: list[str], output_count: int, **attr) -> list[str]:
        made = self.ctx.make_node(
            op_type, inputs, attr=attr, output_count=output_count, op_name_scope=self.scope
        )
        return list(made.output)

    def transpose(self, tensor: str, perm: list[int]) -> str:
        return self.op("Transpose", [tensor], perm=perm)

    def take(self, tensor: str, index: int, axis: int) -> str:
        """``tensor`` at ``index`` of ``axis``, that axis removed."""
        return self.op("Gather", [tensor, self.const(index)], axis=axis)

    def unsqueeze(self, tensor: str, axis: int) -> str:
        return self.op("Unsqueeze", [tensor, self.const([axis])])

    def reverse_steps(self, tensor: str) -> str:
        """``tensor [B, T, ...]`` with its steps (axis 1) in reverse order.

        NOTE: a ``ReverseSequence`` over all ``T`` steps. A ``Gather`` of ``Range(T-1, -1, -1)``
        is turned into an empty result by onnxruntime 1.32's extended graph optimizations,
        and a ``Slice`` with step -1 imports into torch in a form ``torch.export`` refuses.
        """
        batch = self.op("Reshape", [self.dim(tensor, 0), self.const([1])])
        steps = self.op("Reshape", [self.dim(tensor, 1), self.const([1])])
        lengths = self.op("Expand", [steps, batch])
        return self.op("ReverseSequence", [tensor, lengths], batch_axis=0, time_axis=1)

    def cast(self, tensor: str, to: int) -> str:
        return self.op("Cast", [tensor], to=to)

    def as_float(self, tensor: str) -> str:
        return self.cast(tensor, TensorProto.FLOAT)

    def dim(self, tensor: str, axis: int) -> str:
        """The size of ``axis`` of ``tensor`` as an int64 scalar."""
        return self.take(self.op("Shape", [tensor]), axis, axis=0)
