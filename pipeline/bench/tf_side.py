"""TensorFlow-side measurements; run in the TensorFlow worker.

- ``time_source_graph``: the frozen graph's latency in a TF1 session, with the same inputs
  and thread counts as every other party.
- ``build_keras_peer``: the same LSTM as a Keras 3 layer, converted by tf2onnx on its own
  (no handlers of ours). That is the peer: what a user gets from tf2onnx today. The same
  Keras model is also exported by our Keras export (``pipeline.tf_to_onnx.keras_export``),
  for the Keras speed-up of issue #4.

Keras keeps the kernel as ``kernel [I, 4H]`` and ``recurrent_kernel [H, 4H]`` in gate order
i, f, c, o, and adds no forget bias at run time (rnn-semantics §4). So the fused V1 kernel
``w [I+H, 4H]`` (i, c, f, o) splits at row ``I``, both halves are reordered, and the bias is
reordered with ``forget_bias`` added to its f block.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np
import tensorflow as tf

from pipeline.bench.models import FORGET_BIAS
from pipeline.bench.timing import time_interleaved
from pipeline.recurrent.gates import reorder_gates
from pipeline.sources.frozen_graph import load_graph_def

logger = logging.getLogger(__name__)

PEER_INPUT = "x"


def time_source_graph(
    pb_path: str,
    inputs_npz: str,
    output_names: list[str],
    warmup: int,
    repeats: int,
    threads: int,
) -> dict:
    """Median latency of one ``session.run`` of every output, fed ``inputs_npz``."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(load_graph_def(pb_path), name="")
    with np.load(inputs_npz) as data:
        feeds = {graph.get_tensor_by_name(name): data[name] for name in data.files}
    fetches = [graph.get_tensor_by_name(name) for name in output_names]
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads
    )
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        timings = time_interleaved(
            {"tensorflow": lambda: session.run(fetches, feed_dict=feeds)},
            warmup=warmup,
            repeats=repeats,
        )
    return timings["tensorflow"].as_plain()


def build_keras_peer(
    weights_npz: str, steps: int, batch: int, onnx_path: str, ours_path: str
) -> dict:
    """Convert the Keras 3 LSTM with ``weights_npz``'s layer 0 by tf2onnx; write ``onnx_path``.

    ``tf2onnx.convert.from_keras`` is tried first. When it fails on Keras 3, the same model
    goes through ``tf2onnx.convert.from_function`` and the failure is reported. Our own
    export of the same model goes to ``ours_path``.
    """
    import keras
    import tf2onnx

    from pipeline.sources.keras_model import input_names
    from pipeline.tf_to_onnx.keras_export import export_keras_model

    with np.load(weights_npz) as data:
        kernel, bias = data["kernel_0"], data["bias_0"]
    units = kernel.shape[1] // 4
    size_in = kernel.shape[0] - units
    model = keras.Sequential(
        [
            keras.Input((steps, size_in), batch_size=batch),
            keras.layers.LSTM(units, return_sequences=True),
        ]
    )
    model.layers[-1].set_weights(keras_lstm_weights(kernel, bias, size_in))
    signature = [tf.TensorSpec((batch, steps, size_in), tf.float32, name=PEER_INPUT)]

    start = time.perf_counter()
    converter, failure = "tf2onnx.convert.from_keras", None
    try:
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=17)
    except Exception as error:  # any failure of tf2onnx is the finding; it is reported
        failure = f"{type(error).__name__}: {error}"
        logger.warning("tf2onnx.convert.from_keras failed on Keras 3: %s", failure)
        converter = "tf2onnx.convert.from_function (from_keras failed)"
        function = tf.function(lambda x: model(x), input_signature=signature)
        proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=17)
    seconds = time.perf_counter() - start
    Path(onnx_path).write_bytes(proto.SerializeToString())
    counts = Counter(node.op_type for node in proto.graph.node)
    logger.info("keras peer: %s wrote %s, ops %s", converter, onnx_path, dict(counts))
    ours = export_keras_model(model, 17).model
    Path(ours_path).write_bytes(ours.SerializeToString())
    ours_counts = Counter(node.op_type for node in ours.graph.node)
    return {
        "ours_input": input_names(model)[0],
        "ours_op_counts": dict(sorted(ours_counts.items())),
        "converter": converter,
        "from_keras_error": failure,
        "convert_seconds": seconds,
        "op_counts": dict(sorted(counts.items())),
        "input": proto.graph.input[0].name,
        "keras": keras.__version__,
    }


def keras_lstm_weights(kernel: np.ndarray, bias: np.ndarray, input_size: int) -> list:
    """``[kernel, recurrent_kernel, bias]`` of a Keras LSTM equal to the fused V1 node."""
    units = kernel.shape[1] // 4
    keras_kernel = reorder_gates(kernel[:input_size], "tf_block_lstm", "tf_block_lstm2")
    recurrent = reorder_gates(kernel[input_size:], "tf_block_lstm", "tf_block_lstm2")
    keras_bias = reorder_gates(bias, "tf_block_lstm", "tf_block_lstm2").copy()
    forget = "ifco".index("f")
    keras_bias[forget * units : (forget + 1) * units] += np.float32(FORGET_BIAS)
    return [keras_kernel, recurrent, keras_bias]
