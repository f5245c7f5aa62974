"""What one ONNX ``LSTM``, ``GRU`` or ``RNN`` node asks for, read once from its attributes.

Both torch forms of such a node (``fused_module``: around ``nn.LSTM``/``nn.GRU``/``nn.RNN``;
``exact_module``: our own loop) take this record, so they read the node the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.recurrent.onnx_activations import Activation, is_default

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}


@dataclass(frozen=True)
class RecurrenceSpec:
    """The attributes of one recurrent node; ``activations`` holds one tuple per direction."""

    op_type: str
    node_name: str
    hidden_size: int
    direction: str
    activations: tuple[tuple[Activation, ...], ...]
    clip: float | None = None
    input_forget: bool = False
    linear_before_reset: bool = False
    layout: int = 0
    num_outputs: int = 1

    @property
    def num_directions(self) -> int:
        return DIRECTIONS[self.direction]

    @property
    def num_gates(self) -> int:
        return GATES[self.op_type]

    def is_reverse(self, direction_index: int) -> bool:
        """Whether direction ``direction_index`` runs from the last step to the first."""
        return self.direction == "reverse" or direction_index == 1

    def has_default_activations(self) -> bool:
        return all(is_default(self.op_type, functions) for functions in self.activations)
