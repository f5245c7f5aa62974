"""Graphs for tests that the pipeline's own builders do not make. Run in the TF worker."""

from __future__ import annotations

from pathlib import Path


def write_unsupported_ops_graph(path: str) -> str:
    """``y = Igamma(x, x) + Zeta(x, x)``: two ops tf2onnx 1.17 cannot convert."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [3], name="x")
        first = tf.raw_ops.Igamma(a=x, x=x, name="gamma")
        second = tf.raw_ops.Zeta(x=x, q=x, name="zeta")
        tf.identity(first + second, name="y")
    Path(path).write_bytes(graph.as_graph_def().SerializeToString())
    return path


def write_stacked_lstm_block_cells(path: str) -> str:
    """TF's own LSTMBlockCell test: two stacked cells of 2 units, weights 0.5, bias 0,
    forget_bias 1, all states 0.1. Outputs ``c0, h0, c1, h1``; input ``x [1, 2]``."""
    import numpy as np
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, [1, 2], name="x")
        zeros = tf.zeros([2])
        state = tf.constant(np.full([1, 2], 0.1, np.float32))
        kernel = np.full([4, 8], 0.5, np.float32)
        for layer in range(2):
            cell = tf.raw_ops.LSTMBlockCell(
                x=inputs, cs_prev=state, h_prev=state, w=tf.constant(kernel),
                wci=zeros, wcf=zeros, wco=zeros, b=tf.zeros([8]), forget_bias=1.0,
                name=f"cell{layer}",
            )  # fmt: skip
            tf.identity(cell.cs, name=f"c{layer}")
            tf.identity(cell.h, name=f"h{layer}")
            inputs = cell.h
    Path(path).write_bytes(graph.as_graph_def().SerializeToString())
    return path


def write_dropout_before_lstm(path: str, keep_prob: str) -> str:
    """``tf.compat.v1.nn.dropout`` (TF2's ``u >= rate`` mask) on ``x [5, 2, 3]`` before a
    ``BlockLSTM`` of 4 units, output ``h``; ``keep_prob`` is a ``Placeholder``
    (``"placeholder"``) or a ``PlaceholderWithDefault`` of 1.0 (``"default"``)."""
    import numpy as np
    import tensorflow as tf

    tf1 = tf.compat.v1
    rng = np.random.default_rng(4)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [5, 2, 3], name="x")
        if keep_prob == "placeholder":
            kept = tf1.placeholder(tf.float32, [], name="keep_prob")
        else:
            kept = tf1.placeholder_with_default(1.0, [], name="keep_prob")
        dropped = tf1.nn.dropout(x, rate=1 - kept)
        zeros = tf.zeros([2, 4])
        lstm = tf.raw_ops.BlockLSTM(
            seq_len_max=tf.constant(5, tf.int64), x=dropped, cs_prev=zeros, h_prev=zeros,
            w=tf.constant(rng.uniform(-0.5, 0.5, (7, 16)).astype(np.float32)),
            wci=tf.zeros([4]), wcf=tf.zeros([4]), wco=tf.zeros([4]),
            b=tf.constant(rng.uniform(-0.5, 0.5, 16).astype(np.float32)),
            forget_bias=1.0, cell_clip=-1.0, use_peephole=False,
        )  # fmt: skip
        tf.identity(lstm.h, name="h")
    Path(path).write_bytes(graph.as_graph_def().SerializeToString())
    return path
