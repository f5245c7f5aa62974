"""The Scan tf2onnx's loop rewriter writes for a ``dynamic_rnn`` while-loop, slot by slot.

tf2onnx's custom RNN rewriter turns such a loop into ``Scan(states..., x)``: the first inputs
are the loop's state variables (the cell's states, the time and the iteration counter), the
last is the time-major step input ``x [T, B, I]``. Its body reads one step ``x_t`` and
returns the new states, then each step's output. Body outputs are Identities of the
tensors that the cell computed; ``resolve`` looks through them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tf2onnx.graph import Graph, Node

from pipeline.tf_to_onnx.tf1_cells.body_view import ADD, BodyView, NoMatch


@dataclass(frozen=True)
class StateSlot:
    """One state variable of the loop: where it enters and leaves the body and the Scan."""

    initial: str  # the Scan input: the state before the first step
    body_input: str  # the state before a step, inside the body
    body_output: str  # the state after a step, inside the body (through Identities)
    final: str  # the Scan output: the state after the last step


@dataclass(frozen=True)
class ScanLoop:
    node: Node
    body: Graph
    states: list[StateSlot]
    x: str  # the Scan's step input [T, B, I], time-major
    x_t: str  # one step of it, inside the body
    step_output: str  # the body's one scan output (through Identities)
    outputs: str  # the Scan output that stacks it [T, B, H]


def read_scan_loop(graph: Graph, node: Node) -> ScanLoop:
    """The slots of a one-input, one-output ``dynamic_rnn`` Scan; ``NoMatch`` otherwise."""
    body = node.get_body_graphs()["body"]
    if node.get_attr_value("num_scan_inputs") != 1:
        raise NoMatch(f"expected a Scan of one step input, {node.name} has several")
    for attribute in ("scan_input_directions", "scan_output_directions"):
        if any(node.get_attr_value(attribute) or []):
            raise NoMatch(f"expected a forward Scan, {node.name} has {attribute}")
    inputs, outputs = body.input_names, list(body.outputs)
    num_states = len(inputs) - 1
    if len(outputs) != num_states + 1 or len(node.input) != len(inputs):
        raise NoMatch(
            f"expected one step output beside {num_states} states in {node.name}, "
            f"found {len(outputs) - num_states}"
        )
    x_shape = graph.get_shape(node.input[num_states])
    if x_shape is None or len(x_shape) != 3:
        raise NoMatch(f"expected a step input [T, B, I] of {node.name}, found shape {x_shape}")
    view = BodyView(body)
    states = [
        StateSlot(node.input[k], inputs[k], resolve(view, outputs[k]), node.output[k])
        for k in range(num_states)
    ]
    return ScanLoop(
        node=node,
        body=body,
        states=states,
        x=node.input[num_states],
        x_t=inputs[num_states],
        step_output=resolve(view, outputs[num_states]),
        outputs=node.output[num_states],
    )


def resolve(view: BodyView, tensor: str) -> str:
    """``tensor`` with the Identities in front of it looked through."""
    while view.produced_by(tensor, ("Identity",)):
        tensor = view.node(tensor, ("Identity",)).input[0]
    return tensor


def is_counter(view: BodyView, slot: StateSlot) -> bool:
    """True for the time or iteration counter: the state plus a constant, each step."""
    if not view.produced_by(slot.body_output, ADD):
        return False
    add = view.body.get_node_by_output(slot.body_output, search_in_parent_graphs=False)
    return slot.body_input in add.input and all(
        name == slot.body_input or view.is_constant(name) for name in add.input
    )
