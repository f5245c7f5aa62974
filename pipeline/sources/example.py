"""Build TF1-style frozen graphs around one fused ``BlockLSTM`` / ``BlockLSTMV2`` node.

TF1 wheels do not exist for today's Python, so the bundled example and the test graphs are
built here with ``tf.compat.v1`` and ``tf.raw_ops``, node for node as
``tf.contrib.rnn.LSTMBlockFusedCell`` wrote them: a time-major input ``x [T, B, I]``,
constants ``lstm_fused_cell/kernel [I+H, 4H]`` and ``lstm_fused_cell/bias [4H]``, one fused
op, and the wrapper's outputs ``h`` (the whole output sequence) plus the final state
``cs_final = cs[-1]`` and ``h_final = h[-1]``.

TensorFlow is imported inside the functions, so a spec can be made in any process and the
graph built in the TensorFlow worker.

    python -m pipeline.sources.example OUT.pb      # the bundled example
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FUSED_OUTPUTS = ("i", "cs", "f", "o", "ci", "co", "h")


@dataclass(frozen=True)
class BlockLstmSpec:
    """What to build. ``cell_clip=None`` leaves the attribute off the node (op default)."""

    version: int = 1
    input_size: int = 64
    hidden_size: int = 100
    steps: int = 50
    batch: int = 1
    forget_bias: float = 1.0
    cell_clip: float | None = -1.0
    use_peephole: bool = False
    initial_state_inputs: bool = False
    seq_len_max: int | None = None
    sequence_lengths: tuple[int, ...] | None = None
    extra_outputs: tuple[str, ...] = ()
    seed: int = 0
    weight_scale: float = 0.3
    outputs: tuple[str, ...] = field(default=("h:0", "cs_final:0", "h_final:0"))

    @property
    def input_names(self) -> list[str]:
        names = ["x:0"]
        if self.initial_state_inputs:
            names += ["cs_prev:0", "h_prev:0"]
        if self.sequence_lengths is not None:
            names.append("sequence_length:0")
        return names

    @property
    def output_names(self) -> list[str]:
        return list(self.outputs) + [f"{name}_seq:0" for name in self.extra_outputs]

    def input_shapes(self) -> dict[str, list[int]]:
        shapes = {"x:0": [self.steps, self.batch, self.input_size]}
        if self.initial_state_inputs:
            shapes["cs_prev:0"] = shapes["h_prev:0"] = [self.batch, self.hidden_size]
        if self.sequence_lengths is not None:
            shapes["sequence_length:0"] = [self.batch]
        return shapes


EXAMPLE = BlockLstmSpec()


def build_block_lstm_graph(spec: BlockLstmSpec):  # -> tf.compat.v1.GraphDef
    """Return the frozen ``GraphDef`` that ``spec`` describes."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    rng = np.random.default_rng(spec.seed)
    size_in, units = spec.input_size, spec.hidden_size

    def weights(*shape: int) -> np.ndarray:
        return (rng.uniform(-1.0, 1.0, shape) * spec.weight_scale).astype(np.float32)

    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [spec.steps, spec.batch, size_in], name="x")
        if spec.initial_state_inputs:
            cs_prev = tf1.placeholder(tf.float32, [spec.batch, units], name="cs_prev")
            h_prev = tf1.placeholder(tf.float32, [spec.batch, units], name="h_prev")
        else:
            cs_prev = h_prev = tf.zeros([spec.batch, units], name="initial_state")
        with tf.name_scope("lstm_fused_cell"):
            kernel = tf.constant(weights(size_in + units, 4 * units), name="kernel")
            bias = tf.constant(weights(4 * units), name="bias")
            if spec.use_peephole:
                wci, wcf, wco = (
                    tf.constant(weights(units), name=n)
                    for n in ("w_i_diag", "w_f_diag", "w_o_diag")
                )
            else:
                wci = wcf = wco = tf.zeros([units], name="no_peephole")
        if spec.sequence_lengths is not None:
            lengths = tf1.placeholder(tf.int32, [spec.batch], name="sequence_length")
            seq_len_max = tf.cast(tf.reduce_max(lengths), tf.int64, name="seq_len_max")
        else:
            seq_len_max = tf.constant(
                spec.steps if spec.seq_len_max is None else spec.seq_len_max,
                tf.int64,
                name="seq_len_max",
            )
        attrs = {"use_peephole": spec.use_peephole}
        if spec.version == 1:
            attrs["forget_bias"] = spec.forget_bias
            op = tf.raw_ops.BlockLSTM
        else:
            op = tf.raw_ops.BlockLSTMV2
        if spec.cell_clip is not None:
            attrs["cell_clip"] = spec.cell_clip
        fused = op(
            seq_len_max=seq_len_max, x=x, cs_prev=cs_prev, h_prev=h_prev, w=kernel,
            wci=wci, wcf=wcf, wco=wco, b=bias, name="lstm_fused_cell/BlockLSTM", **attrs,
        )  # fmt: skip
        outputs = dict(zip(FUSED_OUTPUTS, fused, strict=True))
        if spec.sequence_lengths is None:
            tf.identity(outputs["h"], name="h")
            tf.identity(outputs["cs"][-1], name="cs_final")
            tf.identity(outputs["h"][-1], name="h_final")
        else:
            _wrapper_outputs(tf, outputs, lengths, cs_prev, h_prev, spec)
        for name in spec.extra_outputs:
            tf.identity(outputs[name], name=f"{name}_seq")
    graph_def = graph.as_graph_def()
    if spec.cell_clip is None:
        fused_node = next(n for n in graph_def.node if n.name == "lstm_fused_cell/BlockLSTM")
        del fused_node.attr["cell_clip"]
    return graph_def


def _wrapper_outputs(tf, outputs, lengths, cs_prev, h_prev, spec: BlockLstmSpec) -> None:
    """What ``LSTMBlockFusedCell`` does with a ``sequence_length``: mask, then gather.

    ``h`` is masked past each length; the final state of example ``b`` is row ``length[b]``
    of ``[initial; states]``, so a length of 0 returns the initial state.
    """
    mask = tf.transpose(tf.sequence_mask(lengths, spec.steps, dtype=tf.float32), [1, 0])
    mask = tf.tile(tf.expand_dims(mask, -1), [1, 1, spec.hidden_size])
    h = tf.multiply(outputs["h"], mask, name="h")
    indices = tf.stack([lengths, tf.range(spec.batch)], axis=1)
    for name, initial, sequence in (("cs", cs_prev, outputs["cs"]), ("h", h_prev, h)):
        states = tf.concat([tf.expand_dims(initial, 0), sequence], 0)
        tf.gather_nd(states, indices, name=f"{name}_final")


def write_block_lstm_graph(spec: BlockLstmSpec, path: str | Path) -> str:
    """Build the graph for ``spec`` and write it as a binary ``.pb`` (or ``.pbtxt``)."""
    from google.protobuf import text_format

    graph_def = build_block_lstm_graph(spec)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    if path.suffix == ".pbtxt":
        temporary.write_text(text_format.MessageToString(graph_def))
    else:
        temporary.write_bytes(graph_def.SerializeToString())
    temporary.replace(path)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the bundled example frozen graph.")
    parser.add_argument("path", type=Path, help="where to write the .pb")
    write_block_lstm_graph(EXAMPLE, parser.parse_args().path)


if __name__ == "__main__":
    main()
