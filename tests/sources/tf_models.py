"""Tiny recurrent models saved in every source format. Run in the TF worker.

Each builder saves one model with a fused ``BlockLSTMV2`` (or a Keras ``LSTM``) fed by
variables, runs the *source* model itself on ``inputs`` and writes its outputs to
``expected.npz`` beside it: the expected values come from TensorFlow running the model as
saved, never from the pipeline. The input ``x`` is batch-major ``[batch, STEPS, FEATURES]``
with an unknown batch dimension, transposed to time-major for the fused op.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

STEPS, FEATURES, UNITS = 4, 3, 5
EXPECTED_NPZ = "expected.npz"
GRAPH_OUTPUTS = ("h:0", "cs_final:0")


def sample_inputs(batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, STEPS, FEATURES)).astype(np.float32)


def _weights(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    kernel = rng.uniform(-0.5, 0.5, (FEATURES + UNITS, 4 * UNITS)).astype(np.float32)
    bias = rng.uniform(-0.5, 0.5, (4 * UNITS,)).astype(np.float32)
    return kernel, bias


def _block_lstm(tf, x, kernel, bias):  # noqa: ANN001, ANN202 - TF objects
    """``h [STEPS, batch, UNITS]`` and the final cell state of a zero-state BlockLSTMV2."""
    time_major = tf.transpose(x, [1, 0, 2])
    zeros = tf.zeros(tf.stack([tf.shape(x)[0], UNITS]))
    no_peephole = tf.zeros([UNITS])
    fused = tf.raw_ops.BlockLSTMV2(
        seq_len_max=tf.constant(STEPS, tf.int64), x=time_major, cs_prev=zeros, h_prev=zeros,
        w=kernel, wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=bias, cell_clip=-1.0,
        use_peephole=False, name="lstm/BlockLSTMV2",
    )  # fmt: skip
    return fused.h, fused.cs[-1]


def _tf1_graph(tf, seed: int):  # noqa: ANN001, ANN202
    tf1 = tf.compat.v1
    kernel, bias = _weights(seed)
    x = tf1.placeholder(tf.float32, [None, STEPS, FEATURES], name="x")
    w = tf1.get_variable("lstm/kernel", initializer=kernel)
    b = tf1.get_variable("lstm/bias", initializer=bias)
    h, cs_final = _block_lstm(tf, x, w, b)
    return x, tf.identity(h, name="h"), tf.identity(cs_final, name="cs_final")


def _write_expected(folder: Path, inputs: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
    np.savez(folder / EXPECTED_NPZ, **{"x:0": inputs}, **outputs)


def write_checkpoint(folder: str, seed: int = 0) -> str:
    """``model.ckpt.meta`` + variables, written by a ``Saver``; returns the ``.meta`` path."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    folder_path = Path(folder)
    folder_path.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        x, h, cs_final = _tf1_graph(tf, seed)
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            prefix = saver.save(session, str(folder_path / "model.ckpt"))
            inputs = sample_inputs()
            values = session.run({"h:0": h, "cs_final:0": cs_final}, {x: inputs})
    _write_expected(folder_path, inputs, values)
    return prefix + ".meta"


def write_tf1_saved_model(folder: str, seed: int = 0, signed: bool = True) -> str:
    """A TF1 ``SavedModelBuilder`` export, tag ``serve``, signature ``serving_default``
    (none when ``signed`` is false)."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    export = Path(folder) / "tf1_saved_model"
    graph = tf.Graph()
    with graph.as_default():
        x, h, cs_final = _tf1_graph(tf, seed)
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            signature = tf1.saved_model.signature_def_utils.predict_signature_def(
                inputs={"inputs": x}, outputs={"sequence": h, "final_cell": cs_final}
            )
            builder = tf1.saved_model.Builder(str(export))
            signatures = {"serving_default": signature} if signed else None
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map=signatures)
            builder.save()
            inputs = sample_inputs()
            values = session.run({"h:0": h, "cs_final:0": cs_final}, {x: inputs})
    _write_expected(Path(folder), inputs, values)
    return str(export)


def write_tf2_saved_model(folder: str, seed: int = 0) -> str:
    """``tf.saved_model.save`` of a ``tf.Module`` whose ``tf.function`` runs BlockLSTMV2
    on ``tf.Variable`` weights; its signature's outputs are ``sequence`` and ``final_cell``.
    ``expected.npz`` is keyed by signature key."""
    import tensorflow as tf

    kernel, bias = _weights(seed)

    class FusedLstm(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.kernel = tf.Variable(kernel, name="kernel")
            self.bias = tf.Variable(bias, name="bias")

        @tf.function(input_signature=[tf.TensorSpec([None, STEPS, FEATURES], tf.float32)])
        def __call__(self, x):  # noqa: ANN001, ANN204
            h, cs_final = _block_lstm(tf, x, self.kernel, self.bias)
            return {"sequence": h, "final_cell": cs_final}

    module = FusedLstm()
    export = Path(folder) / "tf2_saved_model"
    tf.saved_model.save(
        module, str(export), signatures={"serving_default": module.__call__.get_concrete_function()}
    )
    inputs = sample_inputs()
    values = {key: value.numpy() for key, value in module(tf.constant(inputs)).items()}
    np.savez(Path(folder) / EXPECTED_NPZ, x=inputs, **values)
    return str(export)


def write_keras_model(folder: str, suffix: str, with_lambda: bool = False, seed: int = 0) -> str:
    """A Keras ``LSTM(return_sequences=True)`` on input ``x``, saved as ``model<suffix>``;
    ``with_lambda`` adds a ``Lambda`` layer (code that safe mode refuses to load)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((STEPS, FEATURES), name="x")
    outputs = keras.layers.LSTM(UNITS, return_sequences=True, name="lstm")(inputs)
    if with_lambda:
        outputs = keras.layers.Lambda(lambda t: t * 2.0, name="double")(outputs)
    model = keras.Model(inputs, outputs)
    path = Path(folder) / f"model{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    values = sample_inputs()
    np.savez(Path(folder) / EXPECTED_NPZ, x=values, y=np.asarray(model(values)))
    return str(path)
