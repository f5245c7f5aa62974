"""Read a Scan body's TensorFlow ops as expressions, remembering every node that was read.

The matchers walk from a cell's output back to its inputs. Each step names the op it
expects; a node of another op, a constant that is not one, or an operand that is not where
the cell puts it raises ``NoMatch``, whose message says what differed. That is no error:
the rewriter then leaves the Scan as tf2onnx wrote it, which is exact.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tf2onnx.graph import Graph, Node

ADD = ("Add", "AddV2")
MUL = ("Mul",)
SUB = ("Sub",)
SIGMOID = ("Sigmoid",)
TANH = ("Tanh",)
SPLIT = ("Split",)
CONCAT = ("ConcatV2",)
MATMUL = ("MatMul",)
BIAS_ADD = ("BiasAdd",)


class NoMatch(Exception):
    """The Scan body is not the cell a matcher expects; the message says where it differs."""


class BodyView:
    """The nodes of one Scan body, read by tensor name; ``visited`` holds every node read."""

    def __init__(self, body: Graph) -> None:
        self.body = body
        self.visited: set[str] = set()

    def node(self, tensor: str, op_types: tuple[str, ...]) -> Node:
        """The body node that produces ``tensor``, which must be one of ``op_types``."""
        node = self.body.get_node_by_output(tensor, search_in_parent_graphs=False)
        if node is None or node.type not in op_types:
            found = "an input of the body" if node is None else f"a {node.type} ({node.name})"
            raise NoMatch(f"expected {'/'.join(op_types)} to produce {tensor}, found {found}")
        self.visited.add(node.name)
        return node

    def output_index(self, tensor: str, op_types: tuple[str, ...]) -> tuple[Node, int]:
        """The node of ``op_types`` that produces ``tensor``, and which output it is."""
        node = self.node(tensor, op_types)
        return node, list(node.output).index(tensor)

    def constant(self, tensor: str) -> np.ndarray:
        """The value of ``tensor``: a Const, in the body or outside it, behind any Identity."""
        node = self.body.get_node_by_output(tensor)
        while node is not None and node.type == "Identity":
            node = node.inputs[0]
        if node is None or not node.is_const():
            found = "nothing" if node is None else f"a {node.type} ({node.name})"
            raise NoMatch(f"expected a constant for {tensor}, found {found}")
        return node.get_tensor_value(as_list=False)

    def scalar(self, tensor: str) -> float:
        """The value of ``tensor``, a constant with one element."""
        value = self.constant(tensor)
        if value.size != 1:
            raise NoMatch(f"expected a scalar constant for {tensor}, found shape {value.shape}")
        return float(value.reshape(()))

    def is_constant(self, tensor: str) -> bool:
        try:
            self.constant(tensor)
        except NoMatch:
            return False
        return True

    def operands(self, node: Node, count: int) -> list[str]:
        """The data inputs of ``node``, which must number ``count``."""
        inputs = list(node.input)
        if len(inputs) != count:
            raise NoMatch(f"expected {count} inputs of {node.name}, found {len(inputs)}")
        return inputs

    def pick(self, node: Node, is_first: Callable[[str], bool]) -> tuple[str, str]:
        """A commutative binary ``node``'s operands: first the one ``is_first`` accepts."""
        a, b = self.operands(node, 2)
        if is_first(a):
            return a, b
        if is_first(b):
            return b, a
        raise NoMatch(f"neither input of {node.name} is the operand expected ({a}, {b})")

    def produced_by(self, tensor: str, op_types: tuple[str, ...]) -> bool:
        node = self.body.get_node_by_output(tensor, search_in_parent_graphs=False)
        return node is not None and node.type in op_types

    def is_product_with(self, op_types: tuple[str, ...]) -> Callable[[str], bool]:
        """For ``pick``: whether a tensor is a ``Mul`` with an operand ``op_types`` produce
        (the LSTM input term ``sigmoid(i') * tanh(j)``, the GRU ``(1 - u) * c``)."""

        def is_product(tensor: str) -> bool:
            if not self.produced_by(tensor, MUL):
                return False
            node = self.body.get_node_by_output(tensor, search_in_parent_graphs=False)
            return any(self.produced_by(operand, op_types) for operand in node.input)

        return is_product

    def axis(self, tensor: str, rank: int = 2) -> int:
        """The constant axis ``tensor``, normalised to be non-negative."""
        value = int(self.scalar(tensor))
        return value + rank if value < 0 else value
