"""TF1 cells under ``dynamic_rnn`` with per-example lengths and a fed initial state.

Run in the TF worker. Inputs ``x:0 [B, T, I]``, ``lengths:0 [B]`` (int32) and, unless
``bidirectional``, the initial state ``h0:0`` (and ``c0:0`` for an LSTM) ``[B, H]``; outputs
``y:0`` and ``state:0``. TF copies the state through every step past a length, so an
example of length 0 ends in its initial state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.tf1_cells import BATCH, INPUT_SIZE, STEPS, UNITS, _cell, freeze_outputs, tf1_graph

LENGTHS = (3, 0, STEPS)


@dataclass(frozen=True)
class LengthsGraph:
    cell: str  # as CellGraph.cell
    layers: int = 1
    bidirectional: bool = False

    @property
    def state_inputs(self) -> list[str]:
        if self.bidirectional or self.layers > 1:
            return []
        return ["c0:0", "h0:0"] if "lstm" in self.cell else ["h0:0"]


def write_lengths_graph(spec: LengthsGraph, path: str) -> str:
    import tensorflow as tf
    from tensorflow.python.keras.layers.legacy_rnn import rnn_cell_impl as cells

    tf1 = tf.compat.v1
    with tf1_graph(7) as graph:
        x = tf1.placeholder(tf.float32, [BATCH, STEPS, INPUT_SIZE], name="x")
        lengths = tf1.placeholder(tf.int32, [BATCH], name="lengths")

        def make_cell():
            if spec.layers == 1:
                return _cell(tf, cells, spec.cell)
            return cells.MultiRNNCell([_cell(tf, cells, spec.cell) for _ in range(spec.layers)])

        if spec.bidirectional:
            (forward, backward), state = tf1.nn.bidirectional_dynamic_rnn(
                make_cell(), make_cell(), x, sequence_length=lengths, dtype=tf.float32
            )
            y = tf.concat([forward, backward], axis=-1)
        else:
            initial = [tf1.placeholder(tf.float32, [BATCH, UNITS], name=n[:-2])
                       for n in spec.state_inputs]  # fmt: skip
            if len(initial) == 2:
                initial_state = cells.LSTMStateTuple(*initial)
            else:
                initial_state = initial[0] if initial else None
            y, state = tf1.nn.dynamic_rnn(
                make_cell(), x, sequence_length=lengths, initial_state=initial_state,
                dtype=tf.float32,
            )  # fmt: skip
        graph_def = freeze_outputs(tf, graph, y, state)
    Path(path).write_bytes(graph_def.SerializeToString())
    return path
