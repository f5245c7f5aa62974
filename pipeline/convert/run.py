"""The records one conversion keeps as it goes, and the names of its artifacts.

``Run`` carries the state from stage to stage; every stage leaves a ``StageRecord``; the
report (``pipeline.report``) and the ``ConversionResult`` are built from those records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import onnx
import onnxruntime

from pipeline import __version__
from pipeline.artifacts import ArtifactStaging
from pipeline.config import ModelConfig
from pipeline.errors import ConversionError
from pipeline.isolation import Stage, Workers
from pipeline.validate import compare
from pipeline.validate.onnx_check import OnnxModelSummary

T = TypeVar("T")

TF_STAGE = "pipeline.tf_to_onnx.stage:export_and_reference"
DESCRIBE_STAGE = "pipeline.tf_to_onnx.stage:describe_source"
TORCH_STAGE = "pipeline.onnx_to_torch.stage:import_and_run"
TORCH_PREFLIGHT_STAGE = "pipeline.sources.onnx_preflight:check_importable"

INPUTS_NPZ = "inputs.npz"
REFERENCE_NPZ = "reference.npz"
MODEL_ONNX = "model.onnx"
MODEL_PT2 = "model.pt2"
STATE_DICT = "state_dict.pt"
OUTPUTS_NPZ = "outputs.npz"
REPORT_MD = "report.md"
REPORT_JSON = "report.json"
ARTIFACTS = (
    INPUTS_NPZ, REFERENCE_NPZ, OUTPUTS_NPZ, MODEL_ONNX, MODEL_PT2, STATE_DICT, REPORT_MD,
    REPORT_JSON,
)  # fmt: skip
"""The files every conversion publishes; the plots of sequence outputs come on top."""

# Keys of a worker's result that have a place of their own in the records.
RECORDED_ELSEWHERE = ("timings", "versions", "recurrent_nodes")

# Scratch files: written in staging, read back, never published.
TORCH_OUTPUTS_NPZ = "torch_outputs.npz"
FROZEN_SOURCE = "source_frozen.pb"
"""A SavedModel's or checkpoint's frozen graph, written by the describe step."""
PROGRAM_OUTPUTS_NPZ = "program_outputs.npz"

ONNX_SOURCE_PATH = "ONNX source"
ONNX_SOURCE_REASON = "already ONNX; converted as given"
INVALID_SOURCE = "The ONNX source is invalid; fix the model"
ORT_FATAL_ONLY = 4  # onnxruntime's log severity: its refusal comes back as the reason


@dataclass(frozen=True)
class StageTargets:
    """Which functions run the framework stages (tests substitute stand-ins)."""

    tensorflow: Stage = TF_STAGE
    torch: Stage = TORCH_STAGE
    torch_preflight: Stage = TORCH_PREFLIGHT_STAGE
    describe: Stage = DESCRIBE_STAGE


DEFAULT_TARGETS = StageTargets()


@dataclass(frozen=True)
class StageRecord:
    """One stage: wall seconds seen by the main process, and what its worker reported."""

    name: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    """Anything else the worker reported (the torch stage's ``modules``)."""


@dataclass(frozen=True)
class RecurrentNode:
    """One recurrent node of the source and the path it took to ONNX."""

    node: str
    op: str
    path: str
    reason: str


@dataclass(frozen=True)
class ConversionResult:
    """What one conversion produced; ``passed`` is the comparison's outcome."""

    config: ModelConfig
    stages: tuple[StageRecord, ...]
    recurrent_nodes: tuple[RecurrentNode, ...]
    onnx: OnnxModelSummary
    comparison: compare.ComparisonResult
    artifacts: tuple[Path, ...]

    @property
    def passed(self) -> bool:
        return self.comparison.passed

    @property
    def output_dir(self) -> Path:
        return self.config.output_dir


@dataclass(frozen=True)
class Outcome:
    """What the stages of one source kind produced, for the report and the result."""

    recurrent_nodes: tuple[RecurrentNode, ...]
    onnx: OnnxModelSummary
    comparison: compare.ComparisonResult
    artifacts: tuple[str, ...]
    parties: Mapping[str, compare.Outputs] = field(default_factory=dict)
    """Every party's outputs, for the error statistics and the plots."""


@dataclass
class Run:
    """The state one conversion carries from stage to stage."""

    config: ModelConfig
    workers: Workers
    staging: ArtifactStaging
    stages: list[StageRecord] = field(default_factory=list)
    frozen_graph: str | None = None
    """The frozen graph the TensorFlow stage reads when it is not ``config.source`` itself."""

    def record(
        self, name: str, seconds: float, worker_result: Mapping[str, Any] | None = None
    ) -> None:
        """Keep a stage's record; a worker's result adds its timings, versions and details."""
        result = worker_result or {}
        timings = read_field(result, "timings", dict, name, default={})
        versions = read_field(result, "versions", dict, name, default={})
        details = {k: v for k, v in result.items() if k not in RECORDED_ELSEWHERE}
        self.stages.append(StageRecord(name, seconds, timings, versions, details))

    def path(self, name: str) -> str:
        return str(self.staging.path(name))


def timed(step: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = step()
    return value, time.perf_counter() - start


def read_field(
    result: Mapping[str, Any], key: str, kind: type[T], stage: str, default: T | None = None
) -> T:
    value = result.get(key, default) if isinstance(result, Mapping) else None
    if not isinstance(value, kind):
        raise ConversionError(
            f"the {stage} stage returned {type(result).__name__} without a {kind.__name__} "
            f"under {key!r} (received {value!r}); the stage breaks its contract"
        )
    return value


def main_versions() -> dict[str, str]:
    return {
        "pipeline": __version__,
        "numpy": np.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
