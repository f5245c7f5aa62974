"""``report.json``: one model's conversion, built from the stage records.

Layout (keys in this order)::

    model, passed, verdict
    config           the validated config (paths absolute; pinned inputs carry their value)
    onnx             opset, graph inputs and outputs, op counts of the checked model
    recurrent_nodes  [{node, op, path, reason}]: the path each recurrent node took to ONNX
    stages           [{name, seconds, timings, ...}]: wall time of each stage as the main
                     process saw it, the finer timings a worker reported, and anything
                     else it reported (the torch stage's modules)
    versions         {package: version} of everything that took part
    parties          reference, compared (reference first), not_run {party: reason}
    comparisons      one row per output and pair: shapes, max abs/rel error, tolerance, pass
    statistics       one row per output and pair: max, mean, p99 of abs and rel error
    plots            {output: PNG file} of the error per time step of each sequence output
    fingerprint      {sha256, source_sha256, files, versions}: the content hash of the
                     conversion's inputs (``pipeline.convert.fingerprint``); a batch skips a
                     model whose passed report holds the same sha256
    artifacts        the file names published beside the report

JSON has no NaN or infinity, so such errors are written as the strings "nan", "inf", "-inf".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from pipeline.config import ModelConfig
from pipeline.report.statistics import ErrorStatistics
from pipeline.validate.compare import ComparisonResult
from pipeline.validate.onnx_check import OnnxModelSummary


class StageRecordLike(Protocol):
    """What the report reads from a stage's record."""

    @property
    def name(self) -> str: ...

    @property
    def seconds(self) -> float: ...

    @property
    def timings(self) -> Mapping[str, float]: ...

    @property
    def details(self) -> Mapping[str, Any]: ...


class RecurrentNodeLike(Protocol):
    """What the report reads from a recurrent node's record."""

    @property
    def node(self) -> str: ...

    @property
    def op(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def reason(self) -> str: ...


def build_report(
    *,
    config: ModelConfig,
    stages: Sequence[StageRecordLike],
    recurrent_nodes: Sequence[RecurrentNodeLike],
    onnx_summary: OnnxModelSummary,
    comparison: ComparisonResult,
    versions: Mapping[str, str],
    artifacts: Sequence[str],
    statistics: Sequence[ErrorStatistics] = (),
    plots: Mapping[str, str] | None = None,
    fingerprint: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report as a JSON-ready dict."""
    report = {
        "model": config.name,
        "passed": comparison.passed,
        "verdict": comparison.verdict,
        "config": config.model_dump(mode="json"),
        "onnx": asdict(onnx_summary),
        "recurrent_nodes": [
            {"node": n.node, "op": n.op, "path": n.path, "reason": n.reason}
            for n in recurrent_nodes
        ],
        "stages": [_stage_entry(stage) for stage in stages],
        "versions": dict(sorted(versions.items())),
        "parties": {
            "reference": comparison.reference,
            "compared": list(comparison.parties),
            "not_run": dict(comparison.not_run),
        },
        "comparisons": [asdict(row) for row in comparison.rows],
        "statistics": [asdict(row) for row in statistics],
        "plots": dict(plots or {}),
        "fingerprint": dict(fingerprint or {}),
        "artifacts": list(artifacts),
    }
    return _json_safe(report)


def _stage_entry(stage: StageRecordLike) -> dict[str, Any]:
    entry = {"name": stage.name, "seconds": stage.seconds, "timings": dict(stage.timings)}
    entry.update((key, value) for key, value in stage.details.items() if key not in entry)
    return entry


def write_report(report: Mapping[str, Any], path: Path) -> Path:
    """Write ``report`` to ``path`` as indented JSON."""
    text = json.dumps(report, indent=2, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
    return Path(path)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value
