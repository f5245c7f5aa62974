"""TensorFlow's outputs for a source's layers, the reference of a diagnosis (TF worker).

``stack_reference`` runs every layer-direction of one module on its weights, as TF computes
it: LSTM kernels in ``tf.raw_ops.BlockLSTM``/``BlockLSTMV2`` (peepholes and ``cell_clip``
included), TF1 GRUs step by step in ``tf.raw_ops.GRUBlockCell``, Keras layers in a Keras
layer of the same class with the same weights. Zero initial state; a backward direction reads
the sequence reversed (``bidirectional_dynamic_rnn``, ``Bidirectional``) and its output is
flipped back. Layer ``k > 0`` reads TF's own output of layer ``k - 1``, the directions
concatenated. It does so for two readings of the input: ``x`` exactly as the user fed it,
read in the source's own layout (time-major ``[T, B, I]`` for the fused ops, batch-major
otherwise), and ``x.transpose(1, 0, 2)`` (what TF computes for the steps a reader of the other
layout sees). Every array is written in the layout of ``x``, keyed
``<reading>/<layer>/input``, ``<reading>/<layer>/<direction>`` and ``<reading>/output``.

A frozen graph with one fused node is then run as it is for the first reading
(``graph_reference``): the input fed to its placeholder, the ``h`` output (``:6``) fetched.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pipeline.errors import SourceError
from pipeline.port.layers import KINDS, TIME_MAJOR_KINDS, SourceLayer, layers_from_npz
from pipeline.sources.frozen_graph import load_graph_def, run_graph

READINGS = ("as_fed", "transposed")

_FUSED_OPS = ("BlockLSTM", "BlockLSTMV2")


def graph_reference(path: str, input_npz: str, output_npz: str, input_name: str | None) -> str:
    """Run the graph's fused LSTM on the input; returns the fused node's name.

    Replaces the first reading's output in ``output_npz``, which ``stack_reference`` wrote
    first; the graph's placeholder may accept the input's shape only, so the other reading
    stays the op's.
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
    with np.load(output_npz) as arrays:  # stack_reference's, for the other reading
        references = {key: arrays[key] for key in arrays.files}
    h = outputs[f"{fused[0].name}:6"]
    references.update({"as_fed/0/forward": h, "as_fed/output": h})
    np.savez(output_npz, **references)
    return fused[0].name


def stack_reference(plain: list[dict], layers_npz: str, input_npz: str, output_npz: str) -> int:
    """TF's input and output of every layer-direction of one module; returns the layer count.

    ``plain`` and ``layers_npz`` are the module's layers as ``layers_to_npz`` wrote them.
    """
    layers = layers_from_npz(plain, layers_npz)
    with np.load(input_npz) as arrays:
        x = arrays["x"]
    num_layers = max(layer.layer for layer in layers) + 1
    references: dict[str, np.ndarray] = {}
    for reading in READINGS:
        flip = reading == "transposed"
        inputs = np.ascontiguousarray(x.transpose(1, 0, 2)) if flip else x
        for index in range(num_layers):
            members = sorted(
                (layer for layer in layers if layer.layer == index),
                key=lambda layer: layer.direction == "backward",
            )
            references[f"{reading}/{index}/input"] = _back(inputs, flip)
            outputs = [_run_layer(layer, inputs) for layer in members]
            for layer, output in zip(members, outputs, strict=True):
                references[f"{reading}/{index}/{layer.direction}"] = _back(output, flip)
            inputs = np.concatenate(outputs, axis=-1)
        references[f"{reading}/output"] = _back(inputs, flip)
    np.savez(output_npz, **references)
    return num_layers


def _back(array: np.ndarray, flip: bool) -> np.ndarray:
    return np.ascontiguousarray(array.transpose(1, 0, 2)) if flip else array


def _run_layer(layer: SourceLayer, inputs: np.ndarray) -> np.ndarray:
    """``layer`` on ``inputs`` in the layer's own layout; the output in the same layout."""
    time_major = layer.kind in TIME_MAJOR_KINDS
    time_axis = 0 if time_major else 1
    reverse = layer.direction == "backward"
    if reverse:
        inputs = np.ascontiguousarray(np.flip(inputs, time_axis))
    batch_major = inputs if not time_major else inputs.transpose(1, 0, 2)
    if layer.kind.startswith("keras_"):
        output = _keras_layer(layer, np.ascontiguousarray(batch_major))
    elif layer.module == "GRU":
        output = _gru_block_cells(layer, np.ascontiguousarray(batch_major))
    else:
        steps_first = np.ascontiguousarray(batch_major.transpose(1, 0, 2))
        arrays = layer.arrays
        peepholes = [arrays.get(role) for role in ("wci", "wcf", "wco")] if layer.peepholes else ()
        output = _block_lstm(
            steps_first, arrays["kernel"], arrays["bias"],
            "block_lstm2" if KINDS[layer.kind][1] == "tf_block_lstm2" else "block_lstm",
            layer.forget_bias, layer.cell_clip, peepholes,
        ).transpose(1, 0, 2)  # fmt: skip
    output = output if not time_major else output.transpose(1, 0, 2)
    return np.ascontiguousarray(np.flip(output, time_axis) if reverse else output)


def _keras_layer(layer: SourceLayer, x: np.ndarray) -> np.ndarray:
    import keras

    arrays = layer.arrays
    units = arrays["recurrent_kernel"].shape[0]
    use_bias = "bias" in arrays
    if layer.kind == "keras_lstm":
        keras_layer = keras.layers.LSTM(units, return_sequences=True, use_bias=use_bias)
    elif layer.kind == "keras_gru":
        keras_layer = keras.layers.GRU(
            units, return_sequences=True, use_bias=use_bias, reset_after=layer.reset_after
        )
    else:
        keras_layer = keras.layers.SimpleRNN(units, return_sequences=True, use_bias=use_bias)
    keras_layer.build(x.shape)
    weights = [arrays["kernel"], arrays["recurrent_kernel"]] + ([arrays["bias"]] * use_bias)
    keras_layer.set_weights(weights)
    return np.asarray(keras_layer(x))


def _gru_block_cells(layer: SourceLayer, x: np.ndarray) -> np.ndarray:
    """A TF1 GRU (GRUCell or GRUBlockCell: the same math) over a batch-major ``x``."""
    arrays = {role: tf.constant(layer.arrays[role]) for role in ("w_ru", "w_c", "b_ru", "b_c")}
    h = tf.zeros((x.shape[0], layer.arrays["w_c"].shape[1]), x.dtype)
    outputs = []
    for step in range(x.shape[1]):
        h = tf.raw_ops.GRUBlockCell(x=x[:, step], h_prev=h, **arrays).h
        outputs.append(h.numpy())
    return np.stack(outputs, axis=1)


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


def _block_lstm(
    x, w, b, kind: str, forget_bias: float, cell_clip: float, peepholes=()
) -> np.ndarray:
    steps, batch, _ = x.shape
    units = w.shape[1] // 4
    zeros_state = np.zeros((batch, units), x.dtype)
    zeros = np.zeros(units, x.dtype)
    wci, wcf, wco = (
        [zeros if p is None else np.asarray(p, x.dtype) for p in peepholes]
        if peepholes
        else (zeros, zeros, zeros)
    )
    arguments = dict(
        seq_len_max=np.int64(steps), x=x, cs_prev=zeros_state, h_prev=zeros_state, w=w,
        wci=wci, wcf=wcf, wco=wco, b=b, cell_clip=cell_clip, use_peephole=bool(peepholes),
    )  # fmt: skip
    if kind == "block_lstm2":
        outputs = tf.raw_ops.BlockLSTMV2(**arguments)
    else:
        outputs = tf.raw_ops.BlockLSTM(forget_bias=forget_bias, **arguments)
    return outputs.h.numpy()
