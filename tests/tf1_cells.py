"""TF1 recurrent cells in graph mode, frozen to GraphDefs as TF1 code wrote them.

Run in the TF worker. TF 2.21 builds TF1 cells through the legacy module that Keras 3 left
behind, and writes while-loops with TF1 control flow (Enter/Exit/TensorArray), as the
frozen graphs users hold were written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INPUT_SIZE, UNITS, STEPS, BATCH = 5, 6, 7, 3


@dataclass(frozen=True)
class CellGraph:
    # lstm, lstm_peephole, lstm_peephole_clip, lstm_full, lstm_proj, basic_lstm, gru,
    # lstm_relu, basic_lstm_sigmoid, gru_relu (a non-default activation); kinds joined by
    # "+" are the layers of one MultiRNNCell,
    # lstm_block, gru_block; LSTMBlockCell with peepholes: lstm_block_peephole, and with
    # cell_clip=0.5 (lstm_block_peephole_clip) or no cell_clip attribute in the NodeDef, which
    # means the op default 3.0 (lstm_block_peephole_default_clip)
    cell: str
    runner: str = "dynamic"  # dynamic, static, bidirectional
    layers: int = 1
    time_major: bool = False

    @property
    def input_shape(self) -> list[int]:
        return [STEPS, BATCH, INPUT_SIZE] if self.time_major else [BATCH, STEPS, INPUT_SIZE]


@contextmanager
def tf1_graph(seed: int | None = None) -> Iterator[Any]:
    """A ``tf.Graph`` to build in with TF1 control flow (``Enter``/``Exit`` while-loops), as
    TF1 code built them; TF 2.x's default control flow is back on afterwards."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    tf1.disable_control_flow_v2()
    try:
        graph = tf.Graph()
        with graph.as_default():
            if seed is not None:
                tf1.set_random_seed(seed)
            yield graph
    finally:
        tf1.enable_control_flow_v2()


def write_cell_graph(spec: CellGraph, path: str) -> str:
    import tensorflow as tf

    tf1 = tf.compat.v1
    tf1.disable_control_flow_v2()
    try:
        graph_def = _build(tf, spec)
    finally:
        tf1.enable_control_flow_v2()
    Path(path).write_bytes(graph_def.SerializeToString())
    return path


def write_cell_graph_with_tf2_loops(spec: CellGraph, path: str) -> str:
    """As ``write_cell_graph``, with TF 2.x's default control flow (``While`` + TensorLists)."""
    import tensorflow as tf

    Path(path).write_bytes(_build(tf, spec).SerializeToString())
    return path


def _build(tf, spec: CellGraph):
    from tensorflow.python.keras.layers.legacy_rnn import rnn_cell_impl as cells

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(7)
        x = tf1.placeholder(tf.float32, spec.input_shape, name="x")

        def make_cell():
            kinds = spec.cell.split("+")  # one kind per layer of a mixed MultiRNNCell
            if spec.layers == 1 and len(kinds) == 1:
                return _cell(tf, cells, spec.cell)
            kinds = kinds if len(kinds) > 1 else kinds * spec.layers
            return cells.MultiRNNCell([_cell(tf, cells, kind) for kind in kinds])

        if spec.runner == "dynamic":
            y, state = tf1.nn.dynamic_rnn(
                make_cell(), x, dtype=tf.float32, time_major=spec.time_major
            )
        elif spec.runner == "static":
            y, state = tf1.nn.static_rnn(make_cell(), tf.unstack(x, axis=1), dtype=tf.float32)
            y = tf.stack(y, axis=1)
        else:
            (forward, backward), state = tf1.nn.bidirectional_dynamic_rnn(
                make_cell(), make_cell(), x, dtype=tf.float32, time_major=spec.time_major
            )
            y = tf.concat([forward, backward], axis=-1)
        frozen = freeze_outputs(tf, graph, y, state)
    if spec.cell == "lstm_block_peephole_default_clip":
        for node in frozen.node:
            if node.op == "LSTMBlockCell":
                del node.attr["cell_clip"]
    return frozen


def freeze_outputs(tf, graph, y, state):
    """Name ``y`` and the flattened ``state`` (concatenated) ``y``/``state``; freeze ``graph``
    with every variable drawn by ``_randomize_variables``."""
    tf1 = tf.compat.v1
    tf.identity(y, name="y")
    states = tf.nest.flatten(state)
    if len(states) == 1:
        tf.identity(states[0], name="state")
    else:
        tf.concat(states, axis=-1, name="state")
    with tf1.Session(graph=graph) as session:
        _randomize_variables(tf1, session)
        return tf1.graph_util.convert_variables_to_constants(
            session, graph.as_graph_def(), ["y", "state"]
        )


def _randomize_variables(tf1, session) -> None:
    """Trained-looking weights: every variable (biases too) uniform in [-0.5, 0.5)."""
    import numpy as np

    rng = np.random.default_rng(7)
    session.run(tf1.global_variables_initializer())
    for variable in tf1.global_variables():
        value = rng.uniform(-0.5, 0.5, variable.shape.as_list()).astype(np.float32)
        variable.load(value, session)


def _cell(tf, cells, kind: str):
    if kind == "lstm":
        return cells.LSTMCell(UNITS)
    if kind == "lstm_peephole":
        return cells.LSTMCell(UNITS, use_peepholes=True)
    if kind == "lstm_peephole_clip":
        return cells.LSTMCell(UNITS, use_peepholes=True, cell_clip=0.5)
    if kind == "lstm_full":
        return cells.LSTMCell(UNITS, use_peepholes=True, cell_clip=0.5, num_proj=4, proj_clip=0.3)
    if kind == "lstm_proj":
        return cells.LSTMCell(UNITS, num_proj=4)
    if kind == "basic_lstm":
        return cells.BasicLSTMCell(UNITS)
    if kind == "gru":
        return cells.GRUCell(UNITS)
    if kind == "lstm_relu":
        return cells.LSTMCell(UNITS, activation=tf.nn.relu)
    if kind == "basic_lstm_sigmoid":
        return cells.BasicLSTMCell(UNITS, activation=tf.sigmoid)
    if kind == "gru_relu":
        return cells.GRUCell(UNITS, activation=tf.nn.relu)
    return _block_cell_class(tf, cells)(UNITS, kind)


def _block_cell_class(tf, cells):
    class BlockCell(cells.LayerRNNCell):
        """``tf.contrib.rnn.LSTMBlockCell`` / ``GRUBlockCell``: one fused op per step."""

        def __init__(self, units: int, kind: str) -> None:
            super().__init__()
            self.units, self.kind = units, kind

        @property
        def state_size(self):
            if self.kind.startswith("lstm_block"):
                return cells.LSTMStateTuple(self.units, self.units)
            return self.units

        @property
        def output_size(self):
            return self.units

        def build(self, inputs_shape):
            rows = int(inputs_shape[-1]) + self.units
            if self.kind.startswith("lstm_block"):
                self.kernel = self.add_weight("kernel", [rows, 4 * self.units])
                self.bias = self.add_weight("bias", [4 * self.units])
                self.peepholes = [
                    self.add_weight(name, [self.units]) for name in ("wci", "wcf", "wco")
                ]
            else:
                self.w_ru = self.add_weight("w_ru", [rows, 2 * self.units])
                self.w_c = self.add_weight("w_c", [rows, self.units])
                self.b_ru = self.add_weight("b_ru", [2 * self.units])
                self.b_c = self.add_weight("b_c", [self.units])
            self.built = True

        def call(self, inputs, state):
            if self.kind.startswith("lstm_block"):
                peephole = self.kind != "lstm_block"
                wci, wcf, wco = self.peepholes if peephole else [tf.zeros([self.units])] * 3
                c, h = state
                out = tf.raw_ops.LSTMBlockCell(
                    x=inputs, cs_prev=c, h_prev=h, w=self.kernel, wci=wci, wcf=wcf, wco=wco,
                    b=self.bias, forget_bias=0.7 if peephole else 1.0,
                    cell_clip=0.5 if self.kind.endswith("_clip") else -1.0,
                    use_peephole=peephole,
                )  # fmt: skip
                return out.h, cells.LSTMStateTuple(out.cs, out.h)
            out = tf.raw_ops.GRUBlockCell(
                x=inputs, h_prev=state, w_ru=self.w_ru, w_c=self.w_c, b_ru=self.b_ru, b_c=self.b_c
            )
            return out.h, out.h

    return BlockCell


def read_constants(path: str, suffixes: list[str]) -> dict[str, list]:
    """The frozen graph's Const values whose node names end with one of ``suffixes``, as lists
    (stages return plain data)."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(Path(path).read_bytes())
    values = {}
    for node in graph_def.node:
        for suffix in suffixes:
            if node.op == "Const" and node.name.endswith(suffix):
                values[node.name] = tf.make_ndarray(node.attr["value"].tensor).tolist()
    return values


GRU_STEP_OUTPUTS = ["r:0", "u:0", "c:0", "h:0"]


def write_gru_block_step(path: str, w_c_fed: bool = False) -> str:
    """One ``tf.raw_ops.GRUBlockCell`` on placeholders ``x [B, I]`` and ``h_prev [B, H]``,
    its weights constants (``w_c`` a placeholder too if ``w_c_fed``); outputs ``r, u, c, h``
    as named Identities."""
    import numpy as np
    import tensorflow as tf

    tf1 = tf.compat.v1
    rng = np.random.default_rng(11)

    def weight(*shape: int):
        return tf.constant(rng.uniform(-0.5, 0.5, shape).astype(np.float32))

    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [BATCH, INPUT_SIZE], name="x")
        h_prev = tf1.placeholder(tf.float32, [BATCH, UNITS], name="h_prev")
        rows = INPUT_SIZE + UNITS
        w_c = tf1.placeholder(tf.float32, [rows, UNITS], name="w_c") if w_c_fed else None
        out = tf.raw_ops.GRUBlockCell(
            x=x, h_prev=h_prev, w_ru=weight(rows, 2 * UNITS),
            w_c=weight(rows, UNITS) if w_c is None else w_c,
            b_ru=weight(2 * UNITS), b_c=weight(UNITS),
        )  # fmt: skip
        for name, tensor in zip("ruch", out, strict=True):
            tf.identity(tensor, name=name)
    Path(path).write_bytes(graph.as_graph_def().SerializeToString())
    return path


def why_scans_stay(path: str, spec: CellGraph) -> dict[str, str]:
    """The reason our TF1 cell rewriter gives for each Scan it keeps in ``path``'s graph."""
    from functools import partial

    import tensorflow as tf
    from tf2onnx import tfonnx

    from pipeline.tf_to_onnx.tf1_cells.rewriter import rewrite_tf1_cell_scans

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(Path(path).read_bytes())
    stayed: dict[str, str] = {}
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
        tfonnx.process_tf_graph(
            graph, continue_on_error=True, input_names=["x:0"], output_names=["y:0", "state:0"],
            opset=17, custom_rewriter=[partial(rewrite_tf1_cell_scans, stayed=stayed)],
            shape_override={"x:0": spec.input_shape},
        )  # fmt: skip
    return stayed
