"""Tiny TF1 graphs whose defaults are hard to find, saved as users save them. Run in the TF worker.

- ``write_rnn_checkpoint``: ``dynamic_rnn`` over a ``DropoutWrapper``-ed ``LSTMCell``, output
  ``y``; with ``train`` a loss on a ``labels`` placeholder and an Adam step (a training
  graph); ``keep_prob`` a scalar ``Placeholder`` or a ``PlaceholderWithDefault`` of 1.0;
  TF1 control flow (``Enter``/``Exit``) unless ``control_flow_v2`` (a ``While`` op).
- ``write_unsigned_gru_saved_model``: a ``GRUCell`` under ``dynamic_rnn``, saved by a
  ``Builder`` under the tag ``train_tag`` without signatures; outputs ``rnn/transpose_1``
  (the sequence) and ``state``.
- ``write_keras_export``: Keras 3's ``model.export()`` of an ``LSTM`` (a TF2 while-loop).

Each writes ``expected.npz`` beside the model: TensorFlow's outputs on the model as saved,
with ``keep_prob`` 1.0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.sources.tf_models import EXPECTED_NPZ, FEATURES, STEPS, UNITS, sample_inputs
from tests.tf1_cells import tf1_graph


def write_rnn_checkpoint(
    folder: str, train: bool = True, keep_prob: str = "default", control_flow_v2: bool = False
) -> str:
    """``model.ckpt.meta`` and its variables; returns the ``.meta`` path."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    if not control_flow_v2:
        tf1.disable_control_flow_v2()
    try:
        return _save_rnn_checkpoint(tf, Path(folder), train, keep_prob)
    finally:
        tf1.enable_control_flow_v2()


def _save_rnn_checkpoint(tf, folder: Path, train: bool, keep_prob: str) -> str:  # noqa: ANN001
    from tensorflow.python.keras.layers.legacy_rnn import rnn_cell_impl as cells

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(3)
        x = tf1.placeholder(tf.float32, [None, STEPS, FEATURES], name="x")
        if keep_prob == "placeholder":
            kept = tf1.placeholder(tf.float32, [], name="keep_prob")
        else:
            kept = tf1.placeholder_with_default(1.0, [], name="keep_prob")
        cell = cells.DropoutWrapper(cells.LSTMCell(UNITS), output_keep_prob=kept)
        sequence, _ = tf1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        y = tf.identity(sequence, name="y")
        feeds = {x: sample_inputs(), kept: 1.0}
        step = None
        if train:
            labels = tf1.placeholder(tf.float32, [None, STEPS, UNITS], name="labels")
            loss = tf.reduce_mean(tf.square(y - labels))
            step = tf1.train.AdamOptimizer(0.01).minimize(loss)
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            if step is not None:
                session.run(step, {**feeds, labels: np.ones((2, STEPS, UNITS), np.float32)})
            prefix = tf1.train.Saver().save(session, str(folder / "model.ckpt"))
            values = session.run({"y:0": y}, feeds)
    np.savez(folder / EXPECTED_NPZ, **{"x:0": feeds[x]}, **values)
    return prefix + ".meta"


def write_unsigned_gru_saved_model(folder: str) -> str:
    """A TF1 ``Builder`` export tagged ``train_tag``, no signatures; returns its folder."""
    import tensorflow as tf
    from tensorflow.python.keras.layers.legacy_rnn import rnn_cell_impl as cells

    tf1 = tf.compat.v1
    export = Path(folder) / "builder_export"
    with tf1_graph(5) as graph:
        x = tf1.placeholder(tf.float32, [None, STEPS, FEATURES], name="x")
        sequence, state = tf1.nn.dynamic_rnn(cells.GRUCell(UNITS), x, dtype=tf.float32)
        tf.identity(state, name="state")
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            builder = tf1.saved_model.Builder(str(export))
            builder.add_meta_graph_and_variables(session, ["train_tag"])
            builder.save()
            inputs = sample_inputs()
            names = [sequence.name, "state:0"]
            values = dict(zip(names, session.run(names, {x: inputs}), strict=True))
    np.savez(Path(folder) / EXPECTED_NPZ, **{"x:0": inputs}, **values)
    return str(export)


def write_keras_export(folder: str) -> str:
    """``model.export()`` of a Keras ``LSTM(return_sequences=True)``; returns its folder.
    ``expected.npz`` is keyed by signature key (``x``, ``output_0``)."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((STEPS, FEATURES), name="x")
    model = keras.Model(inputs, keras.layers.LSTM(UNITS, return_sequences=True)(inputs))
    export = Path(folder) / "keras_export"
    model.export(str(export), verbose=False)
    values = sample_inputs()
    np.savez(Path(folder) / EXPECTED_NPZ, x=values, output_0=np.asarray(model(values)))
    return str(export)


def refusal_of_a_per_example_loss_graph() -> str:
    """The refusal ``default_outputs`` gives for a GRU whose ``logits`` feed a per-example
    loss (shape ``[batch]``, which only the gradients consume) on a ``labels`` placeholder."""
    import tensorflow as tf
    from tensorflow.python.keras.layers.legacy_rnn import rnn_cell_impl as cells

    from pipeline.errors import SourceError
    from pipeline.sources.graph_defaults import default_outputs

    tf1 = tf.compat.v1
    with tf1_graph() as graph:
        x = tf1.placeholder(tf.float32, [None, STEPS, FEATURES], name="x")
        labels = tf1.placeholder(tf.float32, [None, STEPS, UNITS], name="labels")
        sequence, _ = tf1.nn.dynamic_rnn(cells.GRUCell(UNITS), x, dtype=tf.float32)
        kernel = tf1.get_variable("w", [UNITS, UNITS])
        logits = tf.tensordot(sequence, kernel, 1, name="logits")
        loss = tf.reduce_mean(tf.square(logits - labels), axis=[1, 2], name="per_example")
        tf1.train.GradientDescentOptimizer(0.1).minimize(loss)
    try:
        default_outputs(graph.as_graph_def(), [], "per_example_loss")
    except SourceError as error:
        return str(error)
    return ""
