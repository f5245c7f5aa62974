"""The benchmarked models: sizes, weights and how often each is timed.

Every model is a TF1-style frozen graph of ``layers`` fused V1 ``BlockLSTM`` nodes (no
peepholes, ``cell_clip`` off, ``forget_bias`` 1.0), the output of each feeding the next,
time-major input ``x [steps, batch, input_size]``. The outputs are those of
``LSTMBlockFusedCell`` on the last layer: ``h`` (the output sequence), ``cs_final`` and
``h_final``.

The example is the bundled example exactly (same seed, same weight scale). The larger models
draw weights in ``[-1, 1) / sqrt(hidden_size)``, the usual initialisation scale, so that
their gates do not saturate and the comparisons stay meaningful.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pipeline.recurrent.lstm import OnnxLstmWeights, fused_kernel_to_onnx

OUTPUTS = ("h:0", "cs_final:0", "h_final:0")
INPUT_NAME = "x:0"
FORGET_BIAS = 1.0
FLOAT_BYTES = 4


@dataclass(frozen=True)
class BenchModel:
    """One benchmarked model, and the warm-up and repeat counts of its latency timings."""

    name: str
    input_size: int
    hidden_size: int
    steps: int
    batch: int
    layers: int = 1
    weight_scale: float | None = None
    """``None``: ``1 / sqrt(hidden_size)``."""
    seed: int = 0
    warmup: int = 3
    repeats: int = 20
    atol: float = 1.0e-5
    """Tolerance of the conversion's comparisons (absolute and relative)."""
    has_peer: bool = False
    """Whether the tf2onnx Keras 3 peer is built and timed for this model."""

    @property
    def scale(self) -> float:
        if self.weight_scale is not None:
            return self.weight_scale
        return 1.0 / math.sqrt(self.hidden_size)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.steps, self.batch, self.input_size)

    def layer_input_size(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.hidden_size

    @property
    def weight_bytes(self) -> int:
        """Bytes of every kernel ``[I+H, 4H]`` and bias ``[4H]`` (float32)."""
        units = self.hidden_size
        count = sum(
            (self.layer_input_size(k) + units) * 4 * units + 4 * units for k in range(self.layers)
        )
        return count * FLOAT_BYTES

    @property
    def shape_text(self) -> str:
        layers = f"{self.layers} x " if self.layers > 1 else ""
        return (
            f"{self.input_size}->{layers}{self.hidden_size}, {self.steps} steps, batch {self.batch}"
        )

    def as_plain(self) -> dict[str, Any]:
        """The model as plain data, to cross into a worker."""
        return asdict(self)

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> BenchModel:
        return cls(**data)


FULL_MODELS = (
    BenchModel("example", 64, 100, 50, 1, weight_scale=0.3, warmup=10, repeats=100, has_peer=True),
    BenchModel("mid", 256, 512, 100, 16, warmup=2, repeats=20, atol=1.0e-4),
    BenchModel("large", 1024, 1024, 200, 8, layers=4, warmup=1, repeats=5, atol=1.0e-4),
)

QUICK_MODELS = (
    BenchModel("example", 8, 16, 5, 1, weight_scale=0.3, warmup=1, repeats=3, has_peer=True),
    BenchModel("mid", 16, 32, 10, 2, warmup=1, repeats=3, atol=1.0e-4),
    BenchModel("large", 32, 32, 10, 2, layers=2, warmup=1, repeats=3, atol=1.0e-4),
)


def layer_onnx_weights(model: BenchModel, weights: Any, layer: int) -> OnnxLstmWeights:
    """ONNX ``W, R, B`` of ``layer``, from the fused TF kernel and bias the graph holds.

    ``weights`` maps ``kernel_<layer>`` and ``bias_<layer>`` to arrays (an open ``.npz``).
    """
    return fused_kernel_to_onnx(
        np.asarray(weights[f"kernel_{layer}"]),
        np.asarray(weights[f"bias_{layer}"]),
        input_size=model.layer_input_size(layer),
        gate_order="tf_block_lstm",
        forget_bias=FORGET_BIAS,
    )
