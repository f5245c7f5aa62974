"""One direction of one recurrent layer, as a source holds it.

Readers that run in the TF worker describe layers as plain dicts (``SourceLayer.to_plain``)
and write the arrays to an ``.npz``; the main process rebuilds them with ``from_plain``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

# kind -> (torch module, gate order of its fused kernel or None)
KINDS: dict[str, tuple[str, str | None]] = {
    "block_lstm": ("LSTM", "tf_block_lstm"),  # BlockLSTM V1 (LSTMBlockFusedCell)
    "block_lstm2": ("LSTM", "tf_block_lstm2"),  # BlockLSTMV2
    "lstm_fused_cell": ("LSTM", "tf_block_lstm"),  # LSTMBlockFusedCell's variables
    "lstm_block_cell": ("LSTM", "tf_block_lstm"),  # LSTMBlockCell node
    "lstm_cell": ("LSTM", "tf_block_lstm"),  # TF1 LSTMCell / BasicLSTMCell variables
    "gru_cell": ("GRU", None),  # TF1 GRUCell variables
    "gru_block_cell": ("GRU", None),  # GRUBlockCell node or its variables
    "keras_lstm": ("LSTM", None),
    "keras_gru": ("GRU", None),
    "keras_simple_rnn": ("RNN", None),
}

TIME_MAJOR_KINDS = ("block_lstm", "block_lstm2", "lstm_fused_cell")


@dataclass(frozen=True)
class SourceLayer:
    """One direction of one layer.

    ``stack`` names the torch module the layer belongs to; ``layer`` is its index in a stack
    (``MultiRNNCell``'s ``cell_K``) and ``direction`` is ``"forward"`` or ``"backward"``.
    ``cell_clip`` is TF's (``<= 0`` is off); ``peepholes`` says whether the layer uses them.
    ``notes`` are assumptions made where the source does not say (a checkpoint holds no
    ``forget_bias``). ``return_sequences``/``return_state`` are a Keras layer's (what its
    output is); TF1 layers return the whole sequence. ``merge_mode`` is a Keras
    ``Bidirectional``'s (``"none"`` for ``None``: both directions, as a list).
    """

    name: str
    kind: str
    arrays: dict[str, np.ndarray]
    stack: str
    layer: int = 0
    direction: str = "forward"
    forget_bias: float = 0.0
    cell_clip: float = -1.0
    peepholes: bool = False
    reset_after: bool = True
    return_sequences: bool = True
    return_state: bool = False
    merge_mode: str = "concat"
    unsupported: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def module(self) -> str:
        return KINDS[self.kind][0]

    def to_plain(self, array_keys: dict[str, str]) -> dict[str, Any]:
        """Plain data for crossing processes; ``array_keys`` maps each role to its npz key."""
        plain = {key: getattr(self, key) for key in _PLAIN_FIELDS}
        plain["arrays"] = dict(array_keys)
        plain["unsupported"] = list(self.unsupported)
        plain["notes"] = list(self.notes)
        return plain

    def with_notes(self, *notes: str) -> SourceLayer:
        return replace(self, notes=self.notes + notes)


_PLAIN_FIELDS = (
    "name", "kind", "stack", "layer", "direction", "forget_bias", "cell_clip", "peepholes",
    "reset_after", "return_sequences", "return_state", "merge_mode",
)  # fmt: skip


def from_plain(plain: dict[str, Any], arrays: dict[str, np.ndarray]) -> SourceLayer:
    """Rebuild a layer from ``to_plain``'s dict and the arrays of its npz."""
    values = {key: plain[key] for key in _PLAIN_FIELDS}
    return SourceLayer(
        arrays={role: np.asarray(arrays[key]) for role, key in plain["arrays"].items()},
        unsupported=tuple(plain["unsupported"]),
        notes=tuple(plain["notes"]),
        **values,
    )


def layers_to_npz(layers: list[SourceLayer], path: str) -> list[dict[str, Any]]:
    """Write every layer's arrays to one npz at ``path``; return the layers as plain dicts."""
    arrays: dict[str, np.ndarray] = {}
    plain = []
    for index, layer in enumerate(layers):
        keys = {}
        for role, array in layer.arrays.items():
            keys[role] = f"{index}/{role}"
            arrays[keys[role]] = np.asarray(array)
        plain.append(layer.to_plain(keys))
    np.savez(path, **arrays)
    return plain


def layers_from_npz(plain: list[dict[str, Any]], path: str) -> list[SourceLayer]:
    with np.load(path) as arrays:
        loaded = {key: arrays[key] for key in arrays.files}
    return [from_plain(layer, loaded) for layer in plain]
