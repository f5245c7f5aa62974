"""The record of one model in a batch: what happened, how long it took, what it found."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.batch.expansion import BatchEntry
from pipeline.convert import REPORT_MD, ConversionResult

PASSED = "passed"
MISMATCH = "mismatch"
FAILED = "failed"
SKIPPED = "skipped"
STATUSES = (PASSED, MISMATCH, FAILED, SKIPPED)
"""``skipped``: up to date, its last conversion passed (``pipeline.batch.state``). An up-to-date
model whose last comparison failed is not converted again either, but stays ``mismatch``."""

UNCHANGED = "unchanged since its last conversion, not redone"


@dataclass(frozen=True)
class ModelOutcome:
    """One model: status, the reason (verdict or error), and the figures of its report."""

    name: str
    config_file: Path
    status: str
    reason: str
    seconds: float = 0.0
    worst_errors: dict[str, float | None] = field(default_factory=dict)
    """Pair -> the largest max abs error over the outputs; ``None`` when not comparable."""
    recurrent_paths: tuple[str, ...] = ()
    """``"node (op): path"`` for each recurrent node."""
    output_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status in (PASSED, SKIPPED)

    @property
    def report_md(self) -> Path | None:
        if self.output_dir is None or self.status == FAILED:
            return None
        return self.output_dir / REPORT_MD


def from_result(entry: BatchEntry, result: ConversionResult, seconds: float) -> ModelOutcome:
    rows = [
        {"reference": r.reference, "candidate": r.candidate, "max_abs_error": r.max_abs_error}
        for r in result.comparison.rows
    ]
    return ModelOutcome(
        name=entry.name,
        config_file=entry.config_file,
        status=PASSED if result.passed else MISMATCH,
        reason=result.comparison.verdict,
        seconds=seconds,
        worst_errors=worst_errors(rows),
        recurrent_paths=tuple(f"{n.node} ({n.op}): {n.path}" for n in result.recurrent_nodes),
        output_dir=result.output_dir,
    )


def from_report(entry: BatchEntry, report: Mapping[str, Any], seconds: float) -> ModelOutcome:
    """An up-to-date model, described by its last report (see ``STATUSES``)."""
    nodes = report.get("recurrent_nodes", [])
    passed = report.get("passed") is True
    return ModelOutcome(
        name=entry.name,
        config_file=entry.config_file,
        status=SKIPPED if passed else MISMATCH,
        reason=f"{UNCHANGED}; last verdict: {report.get('verdict', '?')}",
        seconds=seconds,
        worst_errors=worst_errors(report.get("comparisons", [])),
        recurrent_paths=tuple(f"{n['node']} ({n['op']}): {n['path']}" for n in nodes),
        output_dir=entry.config.output_dir if entry.config is not None else None,
    )


def from_error(entry: BatchEntry, reason: str, seconds: float = 0.0) -> ModelOutcome:
    output_dir = entry.config.output_dir if entry.config is not None else None
    return ModelOutcome(
        entry.name, entry.config_file, FAILED, reason, seconds, output_dir=output_dir
    )


def worst_errors(rows: Any) -> dict[str, float | None]:
    """Pair -> the largest ``max_abs_error`` of ``rows`` (comparison rows as dicts)."""
    worst: dict[str, float | None] = {}
    for row in rows:
        pair = f"{row['reference']} vs {row['candidate']}"
        value = _as_float(row.get("max_abs_error"))
        if pair not in worst:
            worst[pair] = value
        elif value is None or worst[pair] is None:
            worst[pair] = None
        else:
            worst[pair] = max(worst[pair], value)  # type: ignore[type-var]
    return worst


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)  # report.json writes NaN and infinities as strings
    return math.inf if math.isnan(number) else number
