"""The last step of a conversion: every file that tells what the conversion found.

In the staging folder, once the comparison is done:

- ``outputs.npz``: the outputs of every party but the reference (whose are in
  ``reference.npz``), keyed ``"<party>/<output>"``, e.g. ``"onnxruntime/h:0"``; with them a
  reader can redo any statistic or plot without running a framework;
- one PNG per sequence output: its error per time step (``pipeline.report.plots``);
- ``model.onnx`` rewritten with the source's hash, the tool versions and the verdict in its
  ``metadata_props`` (``pipeline.report.onnx_metadata``);
- ``report.json`` and ``report.md``, built from the same dict.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pipeline.convert.run import (
    INPUTS_NPZ,
    MODEL_ONNX,
    OUTPUTS_NPZ,
    REPORT_JSON,
    REPORT_MD,
    Outcome,
    Run,
    timed,
)
from pipeline.inputs import load_npz, save_npz
from pipeline.report.json_report import build_report, write_report
from pipeline.report.markdown import write_markdown_report
from pipeline.report.onnx_metadata import stamp_metadata
from pipeline.report.plots import plot_error_per_step, plot_file_name
from pipeline.report.statistics import error_per_step, error_statistics
from pipeline.report.time_axis import recurrent_step_counts, sequence_axes
from pipeline.sources.formats import KERAS

logger = logging.getLogger(__name__)


def write_reports(
    run: Run, outcome: Outcome, versions: Mapping[str, str], fingerprint: Mapping[str, Any]
) -> tuple[str, ...]:
    """Write the files above into staging; return the names of every file to publish."""

    def step() -> tuple[str, ...]:
        _save_outputs(run, outcome)
        plots = _plot_sequences(run, outcome)
        comparison = outcome.comparison
        stamp_metadata(
            run.staging.path(MODEL_ONNX),
            source_sha256=fingerprint["source_sha256"],
            fingerprint=fingerprint["sha256"],
            versions=versions,
            passed=comparison.passed,
            verdict=comparison.verdict,
        )
        artifacts = (*outcome.artifacts, *plots.values())
        report = build_report(
            config=run.config,
            stages=run.stages,
            recurrent_nodes=outcome.recurrent_nodes,
            onnx_summary=outcome.onnx,
            comparison=comparison,
            versions=versions,
            artifacts=artifacts,
            statistics=error_statistics(outcome.parties, comparison),
            plots=plots,
            fingerprint=fingerprint,
        )
        write_report(report, run.staging.path(REPORT_JSON))
        write_markdown_report(report, run.staging.path(REPORT_MD))
        return artifacts

    artifacts, seconds = timed(step)
    logger.info(
        "report: %s, %s and %d plot(s) written; %s stamped (%.2f s)",
        REPORT_JSON,
        REPORT_MD,
        len(artifacts) - len(outcome.artifacts),
        MODEL_ONNX,
        seconds,
    )
    return artifacts


def _save_outputs(run: Run, outcome: Outcome) -> None:
    reference = outcome.comparison.reference
    arrays = {
        f"{party}/{name}": array
        for party, outputs in outcome.parties.items()
        if party != reference
        for name, array in outputs.items()
    }
    save_npz(run.staging.path(OUTPUTS_NPZ), arrays)


def _plot_sequences(run: Run, outcome: Outcome) -> dict[str, str]:
    reference = outcome.comparison.reference
    if reference is None:
        return {}
    plots: dict[str, str] = {}
    taken: set[str] = set()
    inputs = load_npz(run.staging.path(INPUTS_NPZ))
    steps = recurrent_step_counts(run.staging.path(MODEL_ONNX))
    axes = sequence_axes(
        outcome.parties[reference],
        run.config.outputs,
        steps,
        inputs,
        batch_major=run.config.format == KERAS,
    )
    for output, axis in axes.items():
        curves = error_per_step(outcome.parties, reference, output, axis)
        if not curves:
            continue
        name = plot_file_name(output, taken)
        plot_error_per_step(
            run.staging.path(name),
            title=f"{run.config.name}: {output}, error per time step",
            reference=reference,
            curves=curves,
            atol=run.config.tolerance_for(output)[0],
        )
        plots[output] = name
    return plots
