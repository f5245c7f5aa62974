"""Frozen graphs of the benchmarked models, and the fused weights the other parties reuse.

Runs in the TensorFlow worker. A one-layer model is built by ``pipeline.sources.example``,
so the example here is the bundled example node for node. A stacked model chains V1
``BlockLSTM`` nodes the way stacked ``LSTMBlockFusedCell`` layers do: each layer in its own
scope (``layer_k/lstm_fused_cell/...``), its ``h`` the next layer's ``x``.

The weights are read back from the graph's constants, so the hand-built ONNX node and the
bare ``nn.LSTM`` use exactly what TensorFlow runs. ``weights_npz`` holds, per layer ``k``,
``kernel_k [I+H, 4H]`` and ``bias_k [4H]`` in TF's V1 gate order (i, c, f, o), without the
forget bias (it is added at run time, see ``FORGET_BIAS``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from pipeline.bench.models import FORGET_BIAS, BenchModel
from pipeline.sources.example import BlockLstmSpec, build_block_lstm_graph

logger = logging.getLogger(__name__)

_FUSED_OPS = ("BlockLSTM", "BlockLSTMV2")
_KERNEL_INPUT, _BIAS_INPUT = 4, 8


def write_source(model: dict, pb_path: str, weights_npz: str) -> dict:
    """Write ``model``'s frozen graph to ``pb_path`` and its weights to ``weights_npz``."""
    spec = BenchModel.from_plain(model)
    if spec.layers == 1:
        graph_def = build_block_lstm_graph(_single_layer_spec(spec))
    else:
        graph_def = _stacked_graph(spec)
    Path(pb_path).parent.mkdir(parents=True, exist_ok=True)
    Path(pb_path).write_bytes(graph_def.SerializeToString())
    weights = fused_weights(graph_def)
    if len(weights) != 2 * spec.layers:
        raise ValueError(
            f"{spec.name}: expected {spec.layers} fused nodes in the built graph, found "
            f"{len(weights) // 2}"
        )
    np.savez(weights_npz, **weights)
    logger.info("%s: wrote %s (%d fused layers)", spec.name, pb_path, spec.layers)
    return {"weight_bytes": int(sum(array.nbytes for array in weights.values()))}


def fused_weights(graph_def: tf.compat.v1.GraphDef) -> dict[str, np.ndarray]:
    """``kernel_k`` and ``bias_k`` of each fused node, in graph order."""
    nodes = {node.name: node for node in graph_def.node}
    weights: dict[str, np.ndarray] = {}
    fused = [node for node in graph_def.node if node.op in _FUSED_OPS]
    for layer, node in enumerate(fused):
        for key, position in (("kernel", _KERNEL_INPUT), ("bias", _BIAS_INPUT)):
            source = nodes[node.input[position].split(":")[0]]
            if source.op != "Const":
                raise ValueError(
                    f"fused node {node.name!r}: expected a Const as its {key}, found "
                    f"{source.op} {source.name!r}"
                )
            weights[f"{key}_{layer}"] = tf.make_ndarray(source.attr["value"].tensor)
    return weights


def _single_layer_spec(model: BenchModel) -> BlockLstmSpec:
    return BlockLstmSpec(
        input_size=model.input_size,
        hidden_size=model.hidden_size,
        steps=model.steps,
        batch=model.batch,
        forget_bias=FORGET_BIAS,
        seed=model.seed,
        weight_scale=model.scale,
    )


def _stacked_graph(model: BenchModel) -> tf.compat.v1.GraphDef:
    tf1 = tf.compat.v1
    rng = np.random.default_rng(model.seed)
    units = model.hidden_size

    def weights(*shape: int) -> np.ndarray:
        return (rng.uniform(-1.0, 1.0, shape) * model.scale).astype(np.float32)

    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, list(model.input_shape), name="x")
        zeros = tf.zeros([model.batch, units], name="initial_state")
        no_peephole = tf.zeros([units], name="no_peephole")
        seq_len_max = tf.constant(model.steps, tf.int64, name="seq_len_max")
        layer_input, fused = x, None
        for layer in range(model.layers):
            with tf.name_scope(f"layer_{layer}/lstm_fused_cell"):
                size_in = model.layer_input_size(layer)
                kernel = tf.constant(weights(size_in + units, 4 * units), name="kernel")
                bias = tf.constant(weights(4 * units), name="bias")
                fused = tf.raw_ops.BlockLSTM(
                    seq_len_max=seq_len_max, x=layer_input, cs_prev=zeros, h_prev=zeros,
                    w=kernel, wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=bias,
                    forget_bias=FORGET_BIAS, cell_clip=-1.0, use_peephole=False,
                    name="BlockLSTM",
                )  # fmt: skip
            layer_input = fused.h
        tf.identity(fused.h, name="h")
        tf.identity(fused.cs[-1], name="cs_final")
        tf.identity(fused.h[-1], name="h_final")
    return graph.as_graph_def()
