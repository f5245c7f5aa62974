"""TF layers for the porting tests, built and run in the TF worker.

Each function writes the TF source (a checkpoint, a Keras file, an npz) and an npz with the
input ``x`` and TensorFlow's own output ``y``: the expected values of the tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.tf1_cells import INPUT_SIZE, CellGraph


def run_frozen_graph(path: str, x_npz: str, outputs_npz: str, output: str = "y:0") -> str:
    """Feed ``x`` to ``x:0`` of the graph at ``path``; write ``x`` and ``y`` (``output``)."""
    from pipeline.sources.frozen_graph import load_graph_def, run_graph

    x = np.load(x_npz)["x"]
    y = run_graph(load_graph_def(path), {"x:0": x}, [output])[output]
    np.savez(outputs_npz, x=x, y=y)
    return outputs_npz


def write_cell_checkpoint(spec: CellGraph, folder: str) -> str:
    """A TF1 cell under dynamic_rnn, saved as a checkpoint; returns its prefix."""
    import tensorflow as tf
    from tensorflow.python.keras.layers.legacy_rnn import rnn_cell_impl as cells

    from tests.tf1_cells import _cell, _randomize_variables

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, spec.input_shape, name="x")
        y, _ = tf1.nn.dynamic_rnn(_cell(tf, cells, spec.cell), x, dtype=tf.float32)
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as session:
            _randomize_variables(tf1, session)
            prefix = saver.save(session, str(Path(folder) / "model.ckpt"))
            value = np.random.default_rng(3).uniform(-1, 1, spec.input_shape).astype(np.float32)
            np.savez(Path(folder) / "expected.npz", x=value, y=session.run(y, {x: value}))
    return prefix


def write_keras_model(kind: str, folder: str, suffix: str = ".keras") -> str:
    """A Keras model of one recurrent layer, saved as ``.keras`` (or ``.h5``); returns its path.

    Beside it: ``expected.npz`` (``x`` and Keras' own output ``y``; for ``merge_mode=None``,
    whose Keras output is the list ``[forward, backward]``, the two stacked: ``y[0]``, ``y[1]``)
    and ``weights.npz``, the model's weights in ``get_weights()`` order, keyed ``"0"``, ...
    """
    import keras

    def merged(layer: str, merge_mode: str | None, return_sequences: bool):
        return lambda: keras.layers.Bidirectional(
            getattr(keras.layers, layer)(6, return_sequences=return_sequences),
            merge_mode=merge_mode,
        )

    layers = {
        "lstm": lambda: keras.layers.LSTM(6, return_sequences=True),
        "gru": lambda: keras.layers.GRU(6, return_sequences=True),
        "gru_reset_before": lambda: keras.layers.GRU(6, return_sequences=True, reset_after=False),
        "simple_rnn": lambda: keras.layers.SimpleRNN(6, return_sequences=True),
        "bidirectional_lstm": lambda: keras.layers.Bidirectional(
            keras.layers.LSTM(6, return_sequences=True)
        ),
        "bidirectional_gru": lambda: keras.layers.Bidirectional(
            keras.layers.GRU(6, return_sequences=True)
        ),
        "lstm_last_state": lambda: keras.layers.LSTM(6),
        "bidirectional_lstm_last_state": lambda: keras.layers.Bidirectional(keras.layers.LSTM(6)),
        "bidirectional_gru_sum": merged("GRU", "sum", True),
        "bidirectional_gru_mul": merged("GRU", "mul", True),
        "bidirectional_lstm_ave": merged("LSTM", "ave", True),
        "bidirectional_lstm_none": merged("LSTM", None, True),
        "bidirectional_lstm_sum_last_state": merged("LSTM", "sum", False),
        "bidirectional_lstm_mul_last_state": merged("LSTM", "mul", False),
        "bidirectional_gru_ave_last_state": merged("GRU", "ave", False),
        "bidirectional_gru_none_last_state": merged("GRU", None, False),
    }
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((7, INPUT_SIZE)), layers[kind]()])
    rng = np.random.default_rng(5)
    for weight in model.weights:  # trained-looking biases too
        weight.assign(rng.uniform(-0.5, 0.5, weight.shape).astype(np.float32))
    path = str(Path(folder) / f"{kind}{suffix}")
    model.save(path)
    x = rng.uniform(-1, 1, (3, 7, INPUT_SIZE)).astype(np.float32)
    y = model(x)  # merge_mode=None: a list of the two directions
    y = np.stack([np.asarray(p) for p in y]) if isinstance(y, (list, tuple)) else np.asarray(y)
    np.savez(Path(folder) / "expected.npz", x=x, y=y)
    weights = {str(index): np.asarray(value) for index, value in enumerate(model.get_weights())}
    np.savez(Path(folder) / "weights.npz", **weights)
    return path


def graph_constants(path: str, names: list[str], npz_path: str) -> str:
    """The values of the ``Const`` nodes ``names`` of the graph at ``path``, as an npz."""
    import tensorflow as tf

    from pipeline.sources.frozen_graph import load_graph_def

    nodes = {node.name: node for node in load_graph_def(path).node}
    values = {name: tf.make_ndarray(nodes[name].attr["value"].tensor) for name in names}
    np.savez(npz_path, **values)
    return npz_path


def checkpoint_to_npz(prefix: str, path: str) -> str:
    """Every variable of the checkpoint, keyed by its name, as an npz of named arrays."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    names = reader.get_variable_to_shape_map()
    np.savez(path, **{name: reader.get_tensor(name) for name in names})
    return path


def graph_constant(path: str, name: str) -> list:
    """The value of the ``Const`` node ``name`` of the graph at ``path``, as nested lists."""
    import tensorflow as tf

    from pipeline.sources.frozen_graph import load_graph_def

    node = next(node for node in load_graph_def(path).node if node.name == name)
    return tf.make_ndarray(node.attr["value"].tensor).tolist()
