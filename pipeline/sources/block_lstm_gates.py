"""Steps of a BlockLSTM's gate outputs that TensorFlow leaves unwritten read as zeros.

``BlockLSTM`` and ``BlockLSTMV2`` write their gate outputs ``i, f, o, ci, co`` only for the
first ``seq_len_max`` steps. The rest of those arrays is whatever memory TF was handed,
zeros on most runs and garbage on some; ``cs`` and ``h`` are zeroed there. The converted
model gives zeros at those steps, as for ``cs`` and ``h``, so the reference is made to hold
zeros there too, with a warning: values TF never defined cannot decide a verdict either way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

logger = logging.getLogger(__name__)

_BLOCK_LSTM_OPS = ("BlockLSTM", "BlockLSTMV2")
_GATE_OUTPUTS = {0: "i", 2: "f", 3: "o", 4: "ci", 5: "co"}


def gate_step_counts(tensors: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """For each output that is a BlockLSTM gate output (through Identity ops), the op's
    ``seq_len_max`` tensor."""
    counts = {}
    for name, tensor in tensors.items():
        source = tensor
        while source.op.type == "Identity":
            source = source.op.inputs[0]
        if source.op.type in _BLOCK_LSTM_OPS and source.value_index in _GATE_OUTPUTS:
            counts[name] = source.op.inputs[0]
    return counts


def gate_consumers(graph: tf.Graph) -> dict[str, tuple[tf.Tensor, tf.Tensor]]:
    """For each BlockLSTM whose gate outputs other ops compute with: its ``seq_len_max`` and
    step count tensors. What those ops give past ``seq_len_max`` is undefined in TF."""
    import tensorflow as tf  # noqa: PLC0415 - the test process imports this module too

    found = {}
    for op in graph.get_operations():
        if op.type not in _BLOCK_LSTM_OPS:
            continue
        consumers = [c for k in _GATE_OUTPUTS for c in op.outputs[k].consumers()]
        if any(consumer.type != "Identity" for consumer in consumers):
            with graph.as_default():
                steps = tf.shape(op.inputs[1], name=f"{op.name}/steps_read_by_us")[0]
            found[op.name] = (op.inputs[0], steps)
    return found


def warn_of_unwritten_reads(counts: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Warn where ops computed with gate steps TF left unwritten (``gate_consumers``)."""
    for name, (written, steps) in counts.items():
        if int(written) < int(steps):
            logger.warning(
                "%s: ops compute with its gate outputs, whose steps %d.. TF leaves unwritten "
                "(seq_len_max %d < %d steps); what they give from those steps is undefined in "
                "TF, so a mismatch there says nothing about the conversion",
                name, int(written), int(written), int(steps),
            )  # fmt: skip


def zero_unwritten_steps(
    values: dict[str, np.ndarray], step_counts: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """``values`` with each gate output's steps from its ``seq_len_max`` on set to zero."""
    for name, count in step_counts.items():
        written = int(count)
        array = values[name]
        if written >= array.shape[0]:
            continue
        unwritten = array[written:]
        if np.any(unwritten):
            logger.warning(
                "%s: TF left steps %d.. of this BlockLSTM gate output unwritten (they held "
                "values up to %.3g); the reference reads them as zeros, as the converted "
                "model gives", name, written, float(np.max(np.abs(unwritten))),
            )  # fmt: skip
        array = array.copy()
        array[written:] = 0
        values[name] = array
    return values
