"""Convert one model: TensorFlow -> ONNX -> PyTorch, and prove all three agree.

The steps, each timed and logged in one INFO line::

    inputs       make or load the input arrays                       (main process)
    tensorflow   reference outputs + model.onnx                      (TensorFlow worker)
    onnx_check   onnx.checker (full) + strict shape inference        (main process)
    onnxruntime  run model.onnx on CPU                               (main process)
    torch        onnx2torch import + torch.export -> model.pt2       (torch worker)
    compare      every output under every pair of frameworks         (main process)
    report       report.json from the stage records                  (main process)

Everything is written into a staging folder and published into ``config.output_dir`` at the
end (``artifacts``), also when the comparison fails: the report says what disagreed. A
``ConversionError`` publishes nothing.
"""

from __future__ import annotations

import logging
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
from pipeline.inputs import load_npz, make_inputs, save_npz
from pipeline.isolation import Stage, Workers
from pipeline.report.json_report import build_report, write_report
from pipeline.validate import compare
from pipeline.validate.onnx_check import OnnxModelSummary, check_model, run_onnxruntime

logger = logging.getLogger(__name__)

T = TypeVar("T")

TF_STAGE = "pipeline.tf_to_onnx.stage:export_and_reference"
TORCH_STAGE = "pipeline.onnx_to_torch.stage:import_and_run"

INPUTS_NPZ = "inputs.npz"
REFERENCE_NPZ = "reference.npz"
MODEL_ONNX = "model.onnx"
MODEL_PT2 = "model.pt2"
STATE_DICT = "state_dict.pt"
REPORT_JSON = "report.json"
ARTIFACTS = (INPUTS_NPZ, REFERENCE_NPZ, MODEL_ONNX, MODEL_PT2, STATE_DICT, REPORT_JSON)

# Keys of a worker's result that have a place of their own in the records.
_RECORDED_ELSEWHERE = ("timings", "versions", "recurrent_nodes")

# Scratch files: written in staging, read back, never published.
_TORCH_OUTPUTS_NPZ = "torch_outputs.npz"
_PROGRAM_OUTPUTS_NPZ = "program_outputs.npz"


@dataclass(frozen=True)
class StageTargets:
    """Which functions run the two framework stages (tests substitute stand-ins)."""

    tensorflow: Stage = TF_STAGE
    torch: Stage = TORCH_STAGE


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


@dataclass
class _Run:
    """The state one conversion carries from stage to stage."""

    config: ModelConfig
    workers: Workers
    staging: ArtifactStaging
    stages: list[StageRecord] = field(default_factory=list)

    def record(
        self, name: str, seconds: float, worker_result: Mapping[str, Any] | None = None
    ) -> None:
        """Keep a stage's record; a worker's result adds its timings, versions and details."""
        result = worker_result or {}
        timings = _read_field(result, "timings", dict, name, default={})
        versions = _read_field(result, "versions", dict, name, default={})
        details = {k: v for k, v in result.items() if k not in _RECORDED_ELSEWHERE}
        self.stages.append(StageRecord(name, seconds, timings, versions, details))

    def path(self, name: str) -> str:
        return str(self.staging.path(name))


def _timed(step: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = step()
    return value, time.perf_counter() - start


def convert_model(
    config: ModelConfig, workers: Workers, targets: StageTargets = StageTargets()
) -> ConversionResult:
    """Run every stage for ``config`` and publish the artifacts into ``config.output_dir``.

    Raises ``ConversionError`` (nothing published) when a stage cannot do its job; a
    disagreement between frameworks is not an error but a result with ``passed`` false.
    """
    with ArtifactStaging(config.output_dir) as staging:
        run = _Run(config, workers, staging)
        inputs = _make_inputs(run)
        recurrent_nodes = _run_tensorflow(run, inputs, targets.tensorflow)
        onnx_summary = _check_onnx(run)
        ort_outputs = _run_onnxruntime(run, inputs)
        _run_torch(run, targets.torch)
        comparison = _compare(run, ort_outputs)

        versions = _main_versions()
        for record in run.stages:
            versions.update(record.versions)
        report = build_report(
            config=config,
            stages=run.stages,
            recurrent_nodes=recurrent_nodes,
            onnx_summary=onnx_summary,
            comparison=comparison,
            versions=versions,
            artifacts=ARTIFACTS,
        )
        write_report(report, staging.path(REPORT_JSON))
        published = staging.publish(ARTIFACTS)
        logger.info("published %d files to %s", len(published), config.output_dir)
    return ConversionResult(
        config=config,
        stages=tuple(run.stages),
        recurrent_nodes=recurrent_nodes,
        onnx=onnx_summary,
        comparison=comparison,
        artifacts=published,
    )


def _make_inputs(run: _Run) -> dict[str, np.ndarray]:
    def step() -> dict[str, np.ndarray]:
        arrays = make_inputs(run.config)
        save_npz(run.staging.path(INPUTS_NPZ), arrays)
        return arrays

    arrays, seconds = _timed(step)
    run.record("inputs", seconds)
    origin = run.config.inputs_npz or f"seeded random, seed {run.config.seed}"
    logger.info("inputs: fed %d, pinned %d (%s)", len(arrays), len(run.config.pinned), origin)
    return arrays


def _run_tensorflow(
    run: _Run, inputs: Mapping[str, np.ndarray], stage: Stage
) -> tuple[RecurrentNode, ...]:
    config = run.config
    input_names = [spec.name for spec in config.fed_inputs]
    input_shapes = {name: list(array.shape) for name, array in inputs.items()}

    def step() -> dict[str, Any]:
        return run.workers.run_tf(
            stage,
            str(config.source),
            input_names,
            list(config.outputs),
            config.pinned,
            run.path(INPUTS_NPZ),
            config.opset,
            run.path(MODEL_ONNX),
            run.path(REFERENCE_NPZ),
            input_shapes,
            timeout=config.timeout,
            model=config.name,
            stage_name="tensorflow",
        )

    result, seconds = _timed(step)
    run.record("tensorflow", seconds, result)
    entries = _read_field(result, "recurrent_nodes", list, "tensorflow")
    nodes = tuple(_recurrent_node(entry) for entry in entries)
    logger.info(
        "tensorflow: reference outputs and %s written; recurrent nodes: %d (%.2f s)",
        MODEL_ONNX,
        len(nodes),
        seconds,
    )
    return nodes


def _check_onnx(run: _Run) -> OnnxModelSummary:
    summary, seconds = _timed(lambda: check_model(run.staging.path(MODEL_ONNX)))
    run.record("onnx_check", seconds)
    logger.info(
        "onnx check: opset %d, nodes: %d; full check and strict shape inference pass (%.2f s)",
        summary.opset,
        summary.num_nodes,
        seconds,
    )
    return summary


def _run_onnxruntime(run: _Run, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    outputs, seconds = _timed(lambda: run_onnxruntime(run.staging.path(MODEL_ONNX), inputs))
    run.record("onnxruntime", seconds)
    logger.info("onnxruntime: ran on CPU, outputs: %d (%.2f s)", len(outputs), seconds)
    return outputs


def _run_torch(run: _Run, stage: Stage) -> None:
    def step() -> dict[str, Any]:
        return run.workers.run_torch(
            stage,
            run.path(MODEL_ONNX),
            run.path(INPUTS_NPZ),
            run.path(_TORCH_OUTPUTS_NPZ),
            run.path(_PROGRAM_OUTPUTS_NPZ),
            run.path(MODEL_PT2),
            run.path(STATE_DICT),
            timeout=run.config.timeout,
            model=run.config.name,
            stage_name="torch",
        )

    result, seconds = _timed(step)
    run.record("torch", seconds, result)
    logger.info("torch: %s and %s written (%.2f s)", MODEL_PT2, STATE_DICT, seconds)


def _compare(run: _Run, ort_outputs: Mapping[str, np.ndarray]) -> compare.ComparisonResult:
    def step() -> compare.ComparisonResult:
        parties = {
            compare.TENSORFLOW: load_npz(run.staging.path(REFERENCE_NPZ)),
            compare.ONNXRUNTIME: dict(ort_outputs),
            compare.TORCH: load_npz(run.staging.path(_TORCH_OUTPUTS_NPZ)),
            compare.TORCH_EXPORT: load_npz(run.staging.path(_PROGRAM_OUTPUTS_NPZ)),
        }
        return compare.compare_outputs(parties, run.config.outputs, run.config.tolerance_for)

    result, seconds = _timed(step)
    run.record("compare", seconds)
    logger.info("compare: %s", result.verdict)
    return result


def _recurrent_node(entry: Any) -> RecurrentNode:
    keys = ("node", "op", "path", "reason")
    if not isinstance(entry, Mapping) or not all(isinstance(entry.get(k), str) for k in keys):
        raise ConversionError(
            f"the tensorflow stage reported a recurrent node as {entry!r}; expected a dict "
            f"with string values for {list(keys)}"
        )
    return RecurrentNode(*(entry[k] for k in keys))


def _read_field(
    result: Mapping[str, Any], key: str, kind: type[T], stage: str, default: T | None = None
) -> T:
    value = result.get(key, default) if isinstance(result, Mapping) else None
    if not isinstance(value, kind):
        raise ConversionError(
            f"the {stage} stage returned {type(result).__name__} without a {kind.__name__} "
            f"under {key!r} (received {value!r}); the stage breaks its contract"
        )
    return value


def _main_versions() -> dict[str, str]:
    return {
        "pipeline": __version__,
        "numpy": np.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
