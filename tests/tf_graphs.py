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
