"""``convert_model``: one model through every stage, then the report and the artifacts."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pipeline.artifacts import ArtifactStaging
from pipeline.config import ONNX_SOURCE, ModelConfig
from pipeline.convert import steps
from pipeline.convert.fingerprint import fingerprint as content_fingerprint
from pipeline.convert.reports import write_reports
from pipeline.convert.run import (
    ARTIFACTS,
    DEFAULT_TARGETS,
    INVALID_SOURCE,
    MODEL_ONNX,
    REFERENCE_NPZ,
    ConversionResult,
    Outcome,
    Run,
    StageTargets,
    main_versions,
)
from pipeline.inputs import load_npz, save_npz
from pipeline.isolation import Workers
from pipeline.sources.formats import DESCRIBED_FORMATS
from pipeline.validate import compare

logger = logging.getLogger(__name__)


def convert_model(
    config: ModelConfig,
    workers: Workers,
    targets: StageTargets = DEFAULT_TARGETS,
    fingerprint: Mapping[str, Any] | None = None,
) -> ConversionResult:
    """Run every stage for ``config`` and publish the artifacts into ``config.output_dir``.

    Raises ``ConversionError`` (nothing published) when a stage cannot do its job; a
    disagreement between frameworks is not an error but a result with ``passed`` false.
    ``fingerprint`` is ``fingerprint(config)`` when the caller has it already.
    """
    if fingerprint is None:
        fingerprint = content_fingerprint(config)
    with ArtifactStaging(config.output_dir) as staging:
        run = Run(config, workers, staging)
        if config.source_format == ONNX_SOURCE:
            outcome = _onnx_source_stages(run, targets)
        else:
            outcome = _tensorflow_source_stages(run, targets)

        versions = main_versions()
        for record in run.stages:
            versions.update(record.versions)
        artifacts = write_reports(run, outcome, versions, fingerprint)
        published = staging.publish(artifacts)
        logger.info("published %d files to %s", len(published), config.output_dir)
    return ConversionResult(
        config=run.config,
        stages=tuple(run.stages),
        recurrent_nodes=outcome.recurrent_nodes,
        onnx=outcome.onnx,
        comparison=outcome.comparison,
        artifacts=published,
    )


def _tensorflow_source_stages(run: Run, targets: StageTargets) -> Outcome:
    if run.config.format in DESCRIBED_FORMATS:
        steps.describe_source(run, targets.describe)
    inputs, _ = steps.make_inputs_step(run)
    recurrent_nodes = steps.run_tensorflow(run, inputs, targets.tensorflow)
    onnx_summary = steps.check_onnx(run, run.staging.path(MODEL_ONNX))
    ort_outputs = steps.run_onnxruntime_step(run, inputs)
    steps.run_torch(run, targets.torch)
    reference = load_npz(run.staging.path(REFERENCE_NPZ))
    parties = {compare.TENSORFLOW: reference, compare.ONNXRUNTIME: ort_outputs}
    comparison, parties = steps.compare_parties(run, parties)
    return Outcome(recurrent_nodes, onnx_summary, comparison, ARTIFACTS, parties)


def _onnx_source_stages(run: Run, targets: StageTargets) -> Outcome:
    inputs, expected = steps.make_inputs_step(run)
    recurrent_nodes = steps.copy_onnx_source(run)
    onnx_summary = steps.check_onnx(run, run.config.source, INVALID_SOURCE)
    steps.check_torch_can_import(run, targets.torch_preflight)
    ort_outputs, ort_refusal = steps.try_onnxruntime(run, inputs)
    steps.run_torch(run, targets.torch)

    parties: dict[str, compare.Outputs] = {}
    if expected is not None:
        parties[compare.EXPECTED] = expected
    if ort_outputs is not None:
        parties[compare.ONNXRUNTIME] = ort_outputs
    not_run = {compare.ONNXRUNTIME: ort_refusal} if ort_outputs is None else {}
    comparison, parties = steps.compare_parties(run, parties, not_run)

    artifacts = ARTIFACTS
    if comparison.reference is None:
        artifacts = tuple(name for name in ARTIFACTS if name != REFERENCE_NPZ)
    else:
        reference = parties[comparison.reference]
        outputs = {name: reference[name] for name in run.config.outputs if name in reference}
        save_npz(run.staging.path(REFERENCE_NPZ), outputs)
    return Outcome(recurrent_nodes, onnx_summary, comparison, artifacts, parties)
