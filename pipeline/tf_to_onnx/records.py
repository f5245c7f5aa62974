"""What the handlers tell the export driver: the path each recurrent node took, and refusals.

This module imports no framework, so tests and reports may use its names anywhere.

tf2onnx catches and logs exceptions raised by handlers, then carries on and writes a model
anyway. So our handlers also note every refusal here, and the driver raises them all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pipeline.recurrent import block_lstm_op

FUSED_PATH = "fused ONNX LSTM"
EXACT_PATH = f"exact op {block_lstm_op.DOMAIN}.{block_lstm_op.OP_TYPE} (ONNX function: Scan)"


@dataclass(frozen=True)
class RecurrentNodeRecord:
    """One recurrent node of the source and how it reached ONNX."""

    node: str
    op: str
    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class ExportLog:
    """Filled by the handlers during one export."""

    nodes: list[RecurrentNodeRecord] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
