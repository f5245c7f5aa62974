"""Keep tf2onnx's TF1 LSTM rewriter off LSTM cells whose activation is not tanh.

tf2onnx 1.17's rewriter of TF1 ``LSTMCell``/``BasicLSTMCell`` loops accepts ``Tanh``,
``Relu`` or ``Sigmoid`` where the cell applies its activation, then writes an ONNX ``LSTM``
with the default activations: ``LSTMCell(activation=tf.nn.relu)`` would come out as a tanh
LSTM. Its GRU rewriter keeps the activation it matched, so only LSTM cells need this.

Before tf2onnx runs, each TF1 while-loop body that holds LSTM cells (a ``Split`` into 4
gate blocks each) but not exactly two ``Tanh`` and three ``Sigmoid`` per cell (a stack may
mix activations) has its ``Relu`` and ``Sigmoid`` ops rewritten into equal ops that the
rewriter's pattern does not match:

- ``Relu(x)`` becomes ``Maximum(x, x - x)``;
- ``Sigmoid(x)`` becomes ``Exp(-Softplus(-x))``, the same function written with ops that
  stay within float32 rounding of it.

No constants are added, so every new op stays in its loop's frame. The loop then converts
to an exact ``Scan`` of its body; the TF reference still runs the graph as it was given.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter, defaultdict

logger = logging.getLogger(__name__)

_LOOP_MARK = "while/"
_MATCHED = ("Relu", "Sigmoid")  # what the rewriter takes for an activation, besides Tanh


def hide_non_tanh_lstm_activations(graph_def):
    """``graph_def`` with the activations of non-tanh LSTM cell loops rewritten (see above).

    Returns the graph itself where no loop needs it, else a rewritten copy.
    """
    rewrites = {}
    for scope, nodes in _loop_bodies(graph_def).items():
        cells = sum(_is_gate_split(node) for node in nodes)
        ops = Counter(node.op for node in nodes)
        if not cells or (ops["Tanh"] == 2 * cells and ops["Sigmoid"] == 3 * cells):
            continue  # none, or each cell's two activations are tanh and its gates sigmoid
        for node in nodes:
            if node.op in _MATCHED:
                rewrites[node.name] = node.op
        if ops["Relu"] or ops["Sigmoid"]:
            logger.info(
                "%s: an LSTM cell whose activation is not tanh; tf2onnx's LSTM rewriter would "
                "drop it, so the loop converts as an exact Scan",
                scope.removesuffix("/"),
            )
    if not rewrites:
        return graph_def
    rewritten = copy.deepcopy(graph_def)
    kept = [node for node in rewritten.node if node.name not in rewrites]
    added = []
    for node in rewritten.node:
        if node.name in rewrites:
            added.extend(_equal_ops(node, rewrites[node.name]))
    del rewritten.node[:]
    rewritten.node.extend(kept + added)
    return rewritten


def _loop_bodies(graph_def) -> dict[str, list]:
    """The nodes of each TF1 while-loop, keyed by the loop's name scope (``rnn/while/``)."""
    bodies = defaultdict(list)
    for node in graph_def.node:
        name = node.name
        found = 0 if name.startswith(_LOOP_MARK) else name.find("/" + _LOOP_MARK) + 1
        if found or name.startswith(_LOOP_MARK):
            bodies[name[: found + len(_LOOP_MARK)]].append(node)
    return bodies


def _is_gate_split(node) -> bool:
    return node.op in ("Split", "SplitV") and node.attr["num_split"].i == 4


def _equal_ops(node, op: str) -> list:
    """Nodes computing ``node``'s function under ``node``'s name, from its data input."""
    data, controls = node.input[0], [name for name in node.input[1:] if name.startswith("^")]
    dtype = node.attr["T"]

    def make(name: str, op_type: str, *inputs: str):
        made = type(node)(name=name, op=op_type, device=node.device)
        made.input.extend([*inputs, *controls])
        made.attr["T"].CopyFrom(dtype)
        return made

    name = node.name
    if op == "Relu":
        return [
            make(f"{name}/zero", "Sub", data, data),
            make(name, "Maximum", data, f"{name}/zero"),
        ]
    return [
        make(f"{name}/negated", "Neg", data),
        make(f"{name}/softplus", "Softplus", f"{name}/negated"),
        make(f"{name}/log", "Neg", f"{name}/softplus"),
        make(name, "Exp", f"{name}/log"),
    ]
