"""The figures of one benchmark run as data, the ratios between them, and the targets.

Every ratio divides two medians measured in the same run on the same input arrays. The
targets of issue #7 are evaluated here and only reported (met or not), never asserted:

- our ``model.onnx`` in onnxruntime is within 1.1x of the hand-built ``LSTM`` node(s);
- our PyTorch module (the onnx2torch graph, and ``model.pt2``) is within 1.1x of a bare
  ``nn.LSTM``;
- our ``model.onnx`` is at least 5x faster than tf2onnx's ``Loop`` peer on the example;
- the peak memory of a conversion is at most the framework baseline plus 3 times the
  model's weight bytes. Peak and baseline are summed over the processes that took part
  (main, TF worker, torch worker); a sum of peaks over-counts when they do not coincide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.bench.models import BenchModel

if TYPE_CHECKING:
    from pipeline.bench.batch import BatchFigures

TF_SOURCE = "TF source graph (session.run)"
OURS_ORT = "our model.onnx in onnxruntime"
HAND_BUILT = "hand-built ONNX LSTM node(s), onnxruntime"
PEER = "tf2onnx peer: Keras 3 LSTM (Loop), onnxruntime"
OURS_KERAS = "our export of that Keras 3 LSTM, onnxruntime"
OURS_ONNX2TORCH = "our onnx2torch module"
OURS_PT2 = "our model.pt2 (torch.export)"
BARE_LSTM = "bare nn.LSTM, same weights"
ONNX2PYTORCH = "onnx2pytorch import of our model.onnx"

PARTIES = (TF_SOURCE, OURS_ORT, HAND_BUILT, PEER, OURS_KERAS, OURS_ONNX2TORCH, OURS_PT2)
PARTIES += (BARE_LSTM, ONNX2PYTORCH)

ORT_LIMIT = 1.1
TORCH_LIMIT = 1.1
PEER_SPEEDUP = 5.0
MEMORY_WEIGHT_FACTOR = 3.0


@dataclass(frozen=True)
class Latency:
    """One party's median latency on one model; ``None`` with a ``note`` when it has none."""

    party: str
    median_s: float | None
    repeats: int = 0
    max_error: float | None = None
    """Largest absolute difference of its first output from TensorFlow's ``h``."""
    note: str = ""


@dataclass(frozen=True)
class StageCost:
    """One step of a conversion; ``None`` seconds when the pipeline does not time it."""

    stage: str
    seconds: float | None
    note: str = ""


@dataclass(frozen=True)
class ProcessMemory:
    """Resident memory of one process of a conversion, in bytes."""

    process: str
    baseline: int
    peak: int


@dataclass(frozen=True)
class ModelFigures:
    """Everything measured for one model."""

    model: BenchModel
    latencies: tuple[Latency, ...] = ()
    stages: tuple[StageCost, ...] = ()
    memory: tuple[ProcessMemory, ...] = ()
    verdict: str = ""
    error: str | None = None
    """Why the model could not be converted or timed, if so."""
    notes: tuple[str, ...] = ()
    memory_notes: tuple[str, ...] = ()

    def latency(self, party: str) -> Latency | None:
        return next((entry for entry in self.latencies if entry.party == party), None)

    def ratio(self, numerator: str, denominator: str) -> float | None:
        """``median(numerator) / median(denominator)``, or ``None`` if either is missing."""
        top, bottom = self.latency(numerator), self.latency(denominator)
        if top is None or bottom is None or top.median_s is None or not bottom.median_s:
            return None
        return top.median_s / bottom.median_s

    @property
    def baseline_bytes(self) -> int:
        return sum(entry.baseline for entry in self.memory)

    @property
    def peak_bytes(self) -> int:
        return sum(entry.peak for entry in self.memory)


@dataclass(frozen=True)
class Ratio:
    """``numerator / denominator`` on one model."""

    label: str
    numerator: str
    denominator: str


RATIOS = (
    Ratio("ours ORT / hand-built node", OURS_ORT, HAND_BUILT),
    Ratio("onnx2torch / nn.LSTM", OURS_ONNX2TORCH, BARE_LSTM),
    Ratio("model.pt2 / nn.LSTM", OURS_PT2, BARE_LSTM),
    Ratio("onnx2pytorch / nn.LSTM", ONNX2PYTORCH, BARE_LSTM),
    Ratio("peer Loop / ours ORT", PEER, OURS_ORT),
    Ratio("Keras: peer Loop / our Keras export", PEER, OURS_KERAS),
    Ratio("TF source / ours ORT", TF_SOURCE, OURS_ORT),
    Ratio("ours ORT / nn.LSTM", OURS_ORT, BARE_LSTM),
)


@dataclass(frozen=True)
class Target:
    """One target on one model: the measured value against its limit."""

    description: str
    model: str
    value: float | None
    limit: str
    met: bool | None
    """``None`` when the value could not be measured."""
    note: str = ""


@dataclass(frozen=True)
class MachineInfo:
    """Where the run happened."""

    cpu: str
    cores: int
    usable_cores: int
    memory_bytes: int
    versions: dict[str, str] = field(default_factory=dict)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """1, 5 and 15 minute load averages when the run started: others may share the CPU."""


@dataclass(frozen=True)
class BenchResult:
    """One run of the benchmark."""

    models: tuple[ModelFigures, ...]
    machine: MachineInfo
    threads: int
    wall_seconds: float
    quick: bool = False
    notes: tuple[str, ...] = ()
    batch: BatchFigures | None = None
    """Batch throughput (``pipeline.bench.batch``); ``None`` when not measured."""


def evaluate_targets(models: tuple[ModelFigures, ...]) -> list[Target]:
    """Every target of issue #7 on every model it applies to."""
    targets: list[Target] = []
    for figures in models:
        name = figures.model.name
        for description, numerator, denominator, limit in (
            ("ORT: our model.onnx vs hand-built node", OURS_ORT, HAND_BUILT, ORT_LIMIT),
            ("torch: onnx2torch module vs nn.LSTM", OURS_ONNX2TORCH, BARE_LSTM, TORCH_LIMIT),
            ("torch: model.pt2 vs nn.LSTM", OURS_PT2, BARE_LSTM, TORCH_LIMIT),
        ):
            value = figures.ratio(numerator, denominator)
            targets.append(_at_most(description, name, value, limit))
        if figures.model.has_peer:
            speedup = figures.ratio(PEER, OURS_ORT)
            met = None if speedup is None else speedup >= PEER_SPEEDUP
            note = "" if speedup is not None else _missing(figures, PEER)
            targets.append(
                Target(
                    "ORT: speed-up over the tf2onnx Loop peer",
                    name,
                    speedup,
                    f">= {PEER_SPEEDUP:g}x",
                    met,
                    note,
                )
            )
        targets.append(_memory_target(figures))
    return targets


def _at_most(description: str, model: str, value: float | None, limit: float) -> Target:
    met = None if value is None else value <= limit
    return Target(description, model, value, f"<= {limit:g}x", met)


def _memory_target(figures: ModelFigures) -> Target:
    weights = figures.model.weight_bytes
    if not figures.memory:
        return Target(
            "memory: peak vs baseline + 3 x weights",
            figures.model.name,
            None,
            f"<= baseline + {MEMORY_WEIGHT_FACTOR:g} x weights",
            None,
            figures.error or "not measured",
        )
    excess = figures.peak_bytes - figures.baseline_bytes
    return Target(
        "memory: peak vs baseline + 3 x weights",
        figures.model.name,
        excess / weights,
        f"<= baseline + {MEMORY_WEIGHT_FACTOR:g} x weights",
        excess <= MEMORY_WEIGHT_FACTOR * weights,
        "value: (peak - baseline) / weight bytes",
    )


def _missing(figures: ModelFigures, party: str) -> str:
    entry = figures.latency(party)
    return entry.note if entry is not None and entry.note else "not measured"
