"""Gate orders as data, and the one function that permutes gate blocks.

A fused recurrent weight stacks one block per gate along its gate axis: for an LSTM with
``H`` units that axis has width ``4H`` and block ``k`` is the slice ``[k*H, (k+1)*H)``.
Each framework stacks the gates in its own order (see ``shared/docs/rnn-semantics.md`` §1):

==================  ==========================
layout              gate blocks
==================  ==========================
``tf_block_lstm``   i, c, f, o  (BlockLSTM V1, LSTMBlockCell, TF1 LSTMCell)
``tf_block_lstm2``  i, f, c, o  (BlockLSTMV2, Keras LSTM)
``onnx_lstm``       i, o, f, c
``onnx_peephole``   i, o, f
``torch_lstm``      i, f, c, o  (PyTorch calls the cell candidate ``g``)
``onnx_gru``        z, r, h     (TF's ``u`` is ONNX's ``z``; ``h`` is the candidate)
``torch_gru``       r, z, h     (PyTorch calls the candidate ``n``)
``keras_lstm``      i, f, c, o  (Keras 3 and tf.keras 2 LSTM)
==================  ==========================

The letters name the same gate everywhere, so converting between two layouts is a
permutation of blocks computed from the two strings.
"""

from __future__ import annotations

import numpy as np

GATE_ORDERS: dict[str, str] = {
    "tf_block_lstm": "icfo",
    "tf_block_lstm2": "ifco",
    "onnx_lstm": "iofc",
    "onnx_peephole": "iof",
    "torch_lstm": "ifco",
    "onnx_gru": "zrh",
    "torch_gru": "rzh",
    "keras_lstm": "ifco",
}


def reorder_gates(array: np.ndarray, source: str, target: str, axis: int = -1) -> np.ndarray:
    """Return ``array`` with its gate blocks along ``axis`` moved from one layout to another.

    ``source`` and ``target`` are keys of ``GATE_ORDERS``, or gate strings such as ``"icfo"``.
    The axis must split into as many equal blocks as ``source`` has gates, and ``target``
    must name a subset of those gates (``onnx_peephole`` picks three of an LSTM's four).
    """
    source_order = GATE_ORDERS.get(source, source)
    target_order = GATE_ORDERS.get(target, target)
    missing = set(target_order) - set(source_order)
    if missing:
        raise ValueError(
            f"cannot reorder gates {source_order!r} into {target_order!r}: "
            f"{sorted(missing)} are not in the source"
        )
    width = array.shape[axis]
    if width % len(source_order):
        raise ValueError(
            f"gate axis {axis} has width {width}, expected a multiple of "
            f"{len(source_order)} for gates {source_order!r}"
        )
    blocks = np.split(array, len(source_order), axis=axis)
    return np.concatenate([blocks[source_order.index(g)] for g in target_order], axis=axis)
