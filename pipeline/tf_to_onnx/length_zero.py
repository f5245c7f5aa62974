"""A length of 0 keeps the initial state, as in TF, around the fused nodes of tf2onnx's rewriters.

TF's ``dynamic_rnn`` copies the state through every step past an example's length, so an
example of length 0 ends in its initial state. ONNX ``LSTM``/``GRU``/``RNN`` with
``sequence_lens`` give zeros for it in ``Y_h``/``Y_c`` (rnn-semantics §5, §8) instead. The
rewriters of tf2onnx (and ours for TF1 cells) fuse such loops into one node all the same,
which is exact except there. So each final state of such a node that is read goes through

    Y_h := Where(Unsqueeze(sequence_lens == 0, [0, 2]), initial_h, Y_h)    [D, B, H]

and likewise ``Y_c`` with ``initial_c``. Every other length, and ``Y``, are unchanged (past
each length ``Y`` is zero in both). A node without ``sequence_lens`` or without the initial
state (zeros, which ONNX gives anyway) is left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import onnx
from onnx import helper, numpy_helper

logger = logging.getLogger(__name__)

FUSED_OPS = ("LSTM", "GRU", "RNN")
_SEQUENCE_LENS, _INITIAL_H, _INITIAL_C = 4, 5, 6
_Y_H, _Y_C = 1, 2


def keep_initial_state_at_length_zero(graph: onnx.GraphProto, skip: tuple[str, ...]) -> list[str]:
    """Rewrite ``graph`` in place (see the module docstring); return the nodes rewritten.

    Nodes whose name starts with one of ``skip`` (our own handlers' nodes, which take
    care of lengths themselves) are left out.
    """
    rewritten: list[str] = []
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        nodes.append(node)
        if node.domain or node.op_type not in FUSED_OPS or (skip and node.name.startswith(skip)):
            continue
        added = list(_state_guards(graph, node))
        if added:
            nodes += added
            rewritten.append(node.name)
    if rewritten:
        del graph.node[:]
        graph.node.extend(nodes)
        logger.info("length 0 keeps the initial state after %s", ", ".join(rewritten))
    return rewritten


def _state_guards(graph: onnx.GraphProto, node: onnx.NodeProto) -> Iterator[onnx.NodeProto]:
    inputs = [*node.input, *[""] * 8]
    lengths = inputs[_SEQUENCE_LENS]
    pairs = [(_Y_H, inputs[_INITIAL_H])]
    if node.op_type == "LSTM":
        pairs.append((_Y_C, inputs[_INITIAL_C]))
    pairs = [
        (index, initial)
        for index, initial in pairs
        if initial and index < len(node.output) and node.output[index]
    ]
    if not lengths or not pairs:
        return
    prefix = f"{node.name}/length_zero"
    zero, axes = f"{prefix}/zero", f"{prefix}/axes"
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.zeros((), np.int32), zero),
            numpy_helper.from_array(np.array([0, 2], np.int64), axes),
        ]
    )
    is_empty, mask = f"{prefix}/is_empty", f"{prefix}/mask"
    yield helper.make_node("Equal", [lengths, zero], [is_empty], name=is_empty)
    yield helper.make_node("Unsqueeze", [is_empty, axes], [mask], name=mask)
    for index, initial in pairs:
        final = node.output[index]
        raw = f"{final}/before_length_zero"
        node.output[index] = raw
        yield helper.make_node("Where", [mask, initial, raw], [final], name=f"{prefix}/{index}")
