"""The custom rewriter: a ``dynamic_rnn`` Scan of TF1 cells becomes one fused node per layer.

Passed to ``tfonnx.process_tf_graph(custom_rewriter=[rewrite_tf1_cell_scans])``; see the
package docstring for why it reads Scans. A Scan is rewritten only when its body is nothing
but a stack of cells that ``lstm_cell``, ``gru_cell``, ``lstm_block_cell`` or
``gru_block_cell`` match, plus the loop's counters:

- layer 0 reads the step input, layer ``k + 1`` reads layer ``k``'s new ``h``;
- every state of the loop is a state of one layer, or a counter nobody reads after the loop;
- the step output is the last layer's new ``h``;
- every op of the body belongs to one of these.

Then layer ``k`` becomes ONNX ``LSTM``/``GRU`` ``k`` (forward, layout 0, as tf2onnx's own
rewriters write them), reading ``Y`` of layer ``k - 1``, and the Scan goes. Anything else
keeps the Scan, which is exact. A bidirectional ``dynamic_rnn`` has one Scan per direction,
the backward one reading the reversed sequence, so each direction becomes its own forward
node. tf2onnx's bilstm rewriter, which would merge them, has run before ours; it would
drop ``P`` anyway, as it copies only the inputs up to ``initial_c``.
"""

from __future__ import annotations

import logging

import numpy as np
from tf2onnx import utils
from tf2onnx.graph import Graph, Node
from tf2onnx.graph_builder import GraphBuilder

from pipeline.tf_to_onnx.tf1_cells import names
from pipeline.tf_to_onnx.tf1_cells.body_view import BodyView, NoMatch
from pipeline.tf_to_onnx.tf1_cells.cell_layer import CellLayer
from pipeline.tf_to_onnx.tf1_cells.gru_block_cell import match_gru_block_cell
from pipeline.tf_to_onnx.tf1_cells.gru_cell import match_gru_cell
from pipeline.tf_to_onnx.tf1_cells.lstm_block_cell import match_lstm_block_cell
from pipeline.tf_to_onnx.tf1_cells.lstm_cell import match_lstm_cell
from pipeline.tf_to_onnx.tf1_cells.scan_loop import (
    ScanLoop,
    StateSlot,
    is_counter,
    read_scan_loop,
)

logger = logging.getLogger(__name__)

MATCHERS = (match_lstm_cell, match_gru_cell, match_lstm_block_cell, match_gru_block_cell)


def rewrite_tf1_cell_scans(
    graph: Graph, ops: list[Node], stayed: dict[str, str] | None = None
) -> list[Node]:
    """Rewrite every Scan of ``graph`` that is a stack of TF1 cells; keep the others.

    ``stayed``, when given, receives for each Scan kept the reason it was kept, by node name
    (bind it with ``functools.partial`` for tf2onnx's ``custom_rewriter`` hook).
    """
    for node in list(ops):
        if node.type != "Scan":
            continue
        try:
            loop = read_scan_loop(graph, node)
            layers = _match_layers(graph, loop)
        except NoMatch as difference:
            logger.debug("Scan %s stays a Scan: %s", node.name, difference)
            if stayed is not None:
                stayed[node.name] = names.scan_stays_reason(str(difference))
            continue
        _emit(graph, loop, layers)
        logger.info(
            "Scan %s: %s", node.name, " + ".join(f"ONNX {layer.op_type}" for layer, _ in layers)
        )
    return graph.get_nodes()


def _match_layers(graph: Graph, loop: ScanLoop) -> list[tuple[CellLayer, list[StateSlot]]]:
    """The layers of the body, bottom first, each with its state slots; else ``NoMatch``."""
    counters = [slot for slot in loop.states if is_counter(BodyView(loop.body), slot)]
    for slot in counters:
        if graph.find_output_consumers(slot.final):
            raise NoMatch(f"the loop counter {slot.final} is read after the loop")
    remaining = [slot for slot in loop.states if slot not in counters]
    visited: set[str] = set()
    layers = []
    x_t = loop.x_t
    while remaining:
        layer, slots, view = _match_next_layer(loop, remaining, x_t)
        layers.append((layer, slots))
        visited |= view.visited
        remaining = [slot for slot in remaining if slot not in slots]
        x_t = layer.states_out[0]
    if not layers or loop.step_output != x_t:
        raise NoMatch(f"expected the step output to be the last layer's h, found {x_t}")
    _check_nothing_else(loop, visited, counters)
    return layers


def _match_next_layer(
    loop: ScanLoop, remaining: list[StateSlot], x_t: str
) -> tuple[CellLayer, list[StateSlot], BodyView]:
    """The layer reading ``x_t``, found from any remaining state as its new ``h``.

    Without one, ``NoMatch`` says where the matcher that read furthest into the body stopped:
    that is the cell the body holds (a clipped ``LSTMBlockCell`` fails ``lstm_cell`` at its
    first node, ``lstm_block_cell`` only at its attribute).
    """
    differences: list[tuple[int, str]] = []
    for root in remaining:
        for matcher in MATCHERS:
            view = BodyView(loop.body)
            try:
                layer = matcher(view, root.body_output)
            except NoMatch as difference:
                differences.append((len(view.visited), str(difference)))
                logger.debug("%s(%s): %s", matcher.__name__, root.body_output, difference)
                continue
            if layer.x_t == x_t:
                return layer, _slots_of(layer, remaining), view
            differences.append((-1, f"the cell at {root.body_output} reads {layer.x_t}"))
    deepest = max(differences, default=(0, "the loop has no state"), key=lambda each: each[0])
    raise NoMatch(f"no TF1 cell it knows computes the state from {x_t}: {deepest[1]}")


def _slots_of(layer: CellLayer, remaining: list[StateSlot]) -> list[StateSlot]:
    """The loop's state slot of each of the layer's states, in the layer's order."""
    slots = []
    for before, after in zip(layer.states_in, layer.states_out, strict=True):
        found = [s for s in remaining if (s.body_input, s.body_output) == (before, after)]
        if len(found) != 1:
            raise NoMatch(f"expected one loop state from {before} to {after}, found {found}")
        slots.append(found[0])
    return slots


def _check_nothing_else(loop: ScanLoop, visited: set[str], counters: list[StateSlot]) -> None:
    """Every op of the body is a layer's, a counter's, a body input or an output Identity."""
    view = BodyView(loop.body)
    counter_ops = {view.node(slot.body_output, ("Add", "AddV2")).name for slot in counters}
    outputs = set(loop.body.outputs)
    extra = [
        node.name
        for node in loop.body.get_nodes()
        if node.name not in visited | counter_ops
        and node.type != "Placeholder"
        and not (node.type == "Identity" and set(node.output) <= outputs)
    ]
    if extra:
        raise NoMatch(f"the body also computes {sorted(extra)}, which no matched cell does")


def _emit(graph: Graph, loop: ScanLoop, layers: list[tuple[CellLayer, list[StateSlot]]]) -> None:
    """One fused node per layer in place of ``loop``'s Scan, which is removed."""
    builder = GraphBuilder(graph)
    steps, batch = graph.get_shape(loop.x)[:2]
    dtype = graph.get_dtype(loop.x)
    x = loop.x
    for index, (layer, slots) in enumerate(layers):
        scope = names.node_scope(layer.cell, index)
        hidden = layer.hidden_size
        node = graph.make_node(
            layer.op_type,
            _inputs(graph, builder, scope, x, layer, slots),
            attr={"direction": "forward", "hidden_size": hidden, **layer.attributes},
            output_count=1 + len(slots),
            shapes=[[steps, 1, batch, hidden]] + [[1, batch, hidden]] * len(slots),
            dtypes=[dtype] * (1 + len(slots)),
            op_name_scope=scope,
        )
        for state, slot in zip(node.output[1:], slots, strict=True):
            squeezed = builder.make_squeeze(
                {"data": state, "axes": [0]}, shapes=[[batch, hidden]], dtypes=[dtype]
            )
            graph.replace_all_inputs(slot.final, squeezed)
        x = builder.make_squeeze(
            {"data": node.output[0], "axes": [1]}, shapes=[[steps, batch, hidden]], dtypes=[dtype]
        )
    graph.replace_all_inputs(loop.outputs, x)
    graph.remove_node(loop.node.name)


def _inputs(
    graph: Graph,
    builder: GraphBuilder,
    scope: str,
    x: str,
    layer: CellLayer,
    slots: list[StateSlot],
) -> list[str]:
    """``X, W, R, B, sequence_lens, initial_h[, initial_c, P]`` of one layer's node."""
    dtype = utils.map_onnx_to_numpy_type(graph.get_dtype(x))
    weights = [layer.W, layer.R, layer.B]
    inputs = [x]
    for name, value in zip("WRB", weights, strict=True):
        inputs.append(_constant(graph, f"{scope}_{name}", value.astype(dtype)))
    inputs.append(utils.ONNX_EMPTY_INPUT)
    for slot in slots:
        inputs.append(builder.make_unsqueeze({"data": slot.initial, "axes": [0]}))
    if layer.P is not None:
        inputs.append(_constant(graph, f"{scope}_P", layer.P.astype(dtype)))
    return inputs


def _constant(graph: Graph, name: str, value: np.ndarray) -> str:
    return graph.make_const(utils.make_name(name), value, skip_conversion=True).output[0]
