"""TensorFlow's output for a fused LSTM, the reference of a diagnosis (runs in the TF worker).

A kernel runs in ``tf.raw_ops.BlockLSTM`` (or ``BlockLSTMV2``) with zero initial state, as
``LSTMBlockFusedCell`` calls it, on two readings of the input: time-major ``[T, B, I]``
exactly as the user fed it, and transposed (what TF computes for the steps a batch-major
reader sees). A frozen graph is then run as it is for the first reading: the input fed to
its placeholder, the ``h`` output (``:6``) of its fused node fetched.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pipeline.errors import SourceError
from pipeline.sources.frozen_graph import load_graph_def, run_graph

_FUSED_OPS = ("BlockLSTM", "BlockLSTMV2")


def graph_reference(path: str, input_npz: str, output_npz: str, input_name: str | None) -> str:
    """Run the graph's fused LSTM on the input; returns the fused node's name.

    Replaces ``h`` in ``output_npz``, which ``kernel_reference`` wrote first; the graph's
    placeholder may accept the input's shape only, so the other reading stays the op's.
    """
    graph_def = load_graph_def(path)
    fused = [node for node in graph_def.node if node.op in _FUSED_OPS]
    if len(fused) != 1:
        raise SourceError(
            f"{path}: expected one BlockLSTM/BlockLSTMV2 node to diagnose, found "
            f"{[node.name for node in fused]}"
        )
    if input_name is None:
        placeholders = [node.name for node in graph_def.node if node.op == "Placeholder"]
        if len(placeholders) != 1:
            raise SourceError(
                f"{path}: cannot tell which placeholder is the input among {placeholders}; "
                "name it with --input-name NAME:0"
            )
        input_name = placeholders[0] + ":0"
    with np.load(input_npz) as arrays:
        x = arrays["x"]
    outputs = run_graph(graph_def, {input_name: x}, [f"{fused[0].name}:6"])
    with np.load(output_npz) as arrays:  # kernel_reference's, for the other reading
        h_transposed = arrays["h_transposed"]
    np.savez(output_npz, h=outputs[f"{fused[0].name}:6"], h_transposed=h_transposed)
    return fused[0].name


def kernel_reference(
    input_npz: str, output_npz: str, kind: str, forget_bias: float, cell_clip: float = -1.0
) -> str:
    """Run ``BlockLSTM`` (``kind="block_lstm"``) or ``BlockLSTMV2`` on ``kernel``/``bias``.

    Writes ``h`` for ``x`` read time-major as given, and ``h_transposed`` for
    ``x.transpose(1, 0, 2)``, transposed back: TF's output had it been fed the other reading.
    """
    with np.load(input_npz) as arrays:
        x, w, b = arrays["x"], arrays["kernel"], arrays["bias"]
    h = _block_lstm(x, w, b, kind, forget_bias, cell_clip)
    h_transposed = _block_lstm(x.transpose(1, 0, 2).copy(), w, b, kind, forget_bias, cell_clip)
    np.savez(output_npz, h=h, h_transposed=h_transposed.transpose(1, 0, 2))
    return kind


def _block_lstm(x, w, b, kind: str, forget_bias: float, cell_clip: float) -> np.ndarray:
    steps, batch, _ = x.shape
    units = w.shape[1] // 4
    zeros_state = np.zeros((batch, units), x.dtype)
    zeros = np.zeros(units, x.dtype)
    arguments = dict(
        seq_len_max=np.int64(steps), x=x, cs_prev=zeros_state, h_prev=zeros_state, w=w,
        wci=zeros, wcf=zeros, wco=zeros, b=b, cell_clip=cell_clip, use_peephole=False,
    )  # fmt: skip
    if kind == "block_lstm2":
        outputs = tf.raw_ops.BlockLSTMV2(**arguments)
    else:
        outputs = tf.raw_ops.BlockLSTM(forget_bias=forget_bias, **arguments)
    return outputs.h.numpy()
