"""What a cell matcher returns, and the two pieces every TF1 cell is built from.

Every TF1 cell computes its gates as one dense layer of the step input and a state::

    gates = BiasAdd(MatMul(ConcatV2([x_t, h_prev], axis=1), kernel), bias)
    g_0, ..., g_{n-1} = Split(gates, n, axis=1)            # or of sigmoid(gates)

``read_dense`` reads the first line, ``read_split`` the second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tf2onnx.graph import Node

from pipeline.tf_to_onnx.tf1_cells.body_view import (
    BIAS_ADD,
    CONCAT,
    MATMUL,
    SPLIT,
    BodyView,
    NoMatch,
)


@dataclass(frozen=True)
class CellLayer:
    """One layer of a loop body, as the ONNX node that computes it exactly (layout 0)."""

    cell: str  # a key of names.REASONS
    op_type: str  # "LSTM" or "GRU"
    x_t: str  # the layer's step input, in the body
    states_in: tuple[str, ...]  # the states before a step, in ONNX order (h, then c)
    states_out: tuple[str, ...]  # the same states after the step; states_out[0] is h
    W: np.ndarray  # [1, G*H, I]
    R: np.ndarray  # [1, G*H, H]
    B: np.ndarray  # [1, 2*G*H]
    P: np.ndarray | None = None  # [1, 3H], LSTM peepholes
    attributes: dict[str, int] = field(default_factory=dict)

    @property
    def hidden_size(self) -> int:
        return int(self.R.shape[-1])


@dataclass(frozen=True)
class Dense:
    x_t: str
    state: str
    kernel: np.ndarray  # [I + H, width]
    bias: np.ndarray  # [width]


def read_dense(view: BodyView, tensor: str) -> Dense:
    """``BiasAdd(MatMul(ConcatV2([x_t, state], axis=1), kernel), bias)`` producing ``tensor``."""
    bias_add = view.node(tensor, BIAS_ADD)
    data_format = bias_add.get_attr_value("data_format", b"NHWC")
    if data_format not in (b"NHWC", "NHWC"):
        raise NoMatch(f"expected BiasAdd {bias_add.name} in NHWC, found {data_format!r}")
    product, bias = view.operands(bias_add, 2)
    matmul = view.node(product, MATMUL)
    if matmul.get_attr_value("transpose_a", 0) or matmul.get_attr_value("transpose_b", 0):
        raise NoMatch(f"expected MatMul {matmul.name} without transposes")
    concatenated, kernel = view.operands(matmul, 2)
    concat = view.node(concatenated, CONCAT)
    x_t, state, axis = view.operands(concat, 3)
    if view.axis(axis) != 1:
        raise NoMatch(f"expected {concat.name} to concatenate along axis 1")
    dense = Dense(x_t, state, view.constant(kernel), view.constant(bias))
    if dense.kernel.ndim != 2 or dense.bias.shape != (dense.kernel.shape[1],):
        raise NoMatch(
            f"expected a kernel [I + H, n] and a bias [n] in {matmul.name}, found "
            f"{dense.kernel.shape} and {dense.bias.shape}"
        )
    return dense


def read_split(view: BodyView, tensors: list[str]) -> Node:
    """The one ``Split`` along axis 1 whose output ``k`` is ``tensors[k]``, for every ``k``."""
    splits = [view.output_index(tensor, SPLIT) for tensor in tensors]
    split = splits[0][0]
    indices = [index for _, index in splits]
    if any(node is not split for node, _ in splits) or indices != list(range(len(tensors))):
        raise NoMatch(f"expected the gates to be outputs 0..{len(tensors) - 1} of one Split")
    axis, _ = view.operands(split, 2)
    if split.get_attr_value("num_split") != len(tensors) or view.axis(axis) != 1:
        raise NoMatch(f"expected {split.name} to split axis 1 into {len(tensors)} gates")
    return split
