"""Recurrent layers in a TF1 frozen graph's constants (runs in the TF worker).

Fused ops are found by their op type, and their weights by following each input back
through ``Identity``/``Enter`` to its ``Const``:

    BlockLSTM, BlockLSTMV2   inputs seq_len_max, x, cs_prev, h_prev, w, wci, wcf, wco, b
    LSTMBlockCell            inputs x, cs_prev, h_prev, w, wci, wcf, wco, b
    GRUBlockCell             inputs x, h_prev, w_ru, w_c, b_ru, b_c (refused by ``weights``:
                             nn.GRU resets after the recurrent matmul)

An attribute absent from a NodeDef means the op's default: ``forget_bias`` 1.0 and
``cell_clip`` 3.0 for V1 and LSTMBlockCell, ``cell_clip`` 0.0 and no ``forget_bias`` for V2.
The remaining constants are searched for TF1 cells by their variable names
(``pipeline.port.variables``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from pipeline.errors import SourceError
from pipeline.port.layers import SourceLayer, layers_to_npz
from pipeline.port.variables import layers_from_variables, place_of
from pipeline.sources.frozen_graph import load_graph_def, node_name

logger = logging.getLogger(__name__)

# op -> (layer kind, index of w, default forget_bias, default cell_clip)
_FUSED_OPS = {
    "BlockLSTM": ("block_lstm", 4, 1.0, 3.0),
    "BlockLSTMV2": ("block_lstm2", 4, 0.0, 0.0),
    "LSTMBlockCell": ("lstm_block_cell", 3, 1.0, 3.0),
}
_PASS_THROUGH = ("Identity", "Enter")


def read_frozen_graph(path: str, npz_path: str, forget_bias: float) -> list[dict]:
    """Every recurrent layer of the graph at ``path``, as plain dicts; arrays to ``npz_path``.

    ``forget_bias`` applies to TF1 cells found by their variable names only: fused ops
    carry their own.
    """
    graph_def = load_graph_def(path)
    nodes = {node.name: node for node in graph_def.node}
    layers: list[SourceLayer] = []
    claimed: set[str] = set()
    for node in graph_def.node:
        if node.op in _FUSED_OPS:
            layer = _fused_layer(node, nodes, claimed)
            if layer is not None:
                layers.append(layer)
        elif node.op == "GRUBlockCell":
            names = [_const_name(name, nodes, node) for name in node.input[2:6]]
            if names[0] not in claimed:
                claimed.update(names)
                stack, layer_index, direction = place_of(names[0].rpartition("/")[0])
                arrays = {
                    role: tf.make_ndarray(nodes[name].attr["value"].tensor)
                    for role, name in zip(("w_ru", "w_c", "b_ru", "b_c"), names, strict=True)
                }
                layers.append(
                    SourceLayer(
                        name=node.name,
                        kind="gru_block_cell",
                        arrays=arrays,
                        stack=stack,
                        layer=layer_index,
                        direction=direction,
                        reset_after=False,
                    )  # fmt: skip
                )
    constants = {
        node.name: tf.make_ndarray(node.attr["value"].tensor)
        for node in graph_def.node
        if node.op == "Const" and node.name not in claimed and node.attr["dtype"].type == 1
    }
    layers += layers_from_variables(constants, forget_bias=forget_bias, where=Path(path).name)
    logger.info("%s: %d recurrent layer(s)", path, len(layers))
    return layers_to_npz(layers, npz_path)


def _fused_layer(node, nodes, claimed: set[str]) -> SourceLayer | None:
    kind, w_index, default_forget_bias, default_clip = _FUSED_OPS[node.op]
    attrs = node.attr
    use_peephole = bool(attrs["use_peephole"].b) if "use_peephole" in attrs else False
    roles = (0, 4, 1, 2, 3) if use_peephole else (0, 4)  # w, b, then wci, wcf, wco
    names = [_const_name(node.input[w_index + role], nodes, node) for role in roles]
    kernel_name = names[0]
    if kernel_name in claimed:  # static_rnn repeats one LSTMBlockCell per step
        return None
    claimed.update(names)
    w, b, *peephole_weights = (tf.make_ndarray(nodes[n].attr["value"].tensor) for n in names)
    forget_bias = attrs["forget_bias"].f if "forget_bias" in attrs else default_forget_bias
    cell_clip = attrs["cell_clip"].f if "cell_clip" in attrs else default_clip
    stack, layer, direction = place_of(kernel_name.rpartition("/")[0] or node.name)
    peepholes = any(np.any(array) for array in peephole_weights)
    arrays = {"kernel": w, "bias": b}
    if peephole_weights:
        arrays.update(zip(("wci", "wcf", "wco"), peephole_weights, strict=True))
    return SourceLayer(
        name=node.name,
        kind=kind,
        arrays=arrays,
        stack=stack,
        layer=layer,
        direction=direction,
        forget_bias=float(forget_bias) if kind != "block_lstm2" else 0.0,
        cell_clip=float(cell_clip),
        peepholes=bool(peepholes),
    )


def _const_name(tensor_name: str, nodes, user) -> str:
    name = node_name(tensor_name.lstrip("^"))
    while name in nodes and nodes[name].op in _PASS_THROUGH:
        name = node_name(nodes[name].input[0])
    if name not in nodes or nodes[name].op != "Const":
        found = "absent" if name not in nodes else f"a {nodes[name].op} node"
        raise SourceError(
            f"{user.name} ({user.op}): expected its weight {tensor_name!r} to be a constant, "
            f"found {found}; freeze the graph (convert_variables_to_constants) first"
        )
    return name
