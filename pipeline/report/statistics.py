"""Error statistics of each compared output and pair, and the error per time step.

For a pair ``(reference, candidate)`` with arrays ``b`` and ``a``, as in
``pipeline.validate.compare``: the absolute error is ``|a - b|`` (0 where the two are equal,
so matching infinities count as exact), the relative error ``|a - b| / max(|b|, eps32)``.
Each gets its maximum, mean and 99th percentile over every element.

The error per step of a sequence output (``pipeline.report.time_axis`` says which outputs
are sequences and along which axis) is the maximum absolute error over every other axis, so
drift over time shows in one curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pipeline.validate.compare import REL_ERROR_FLOOR, ComparisonResult, Outputs


@dataclass(frozen=True)
class ErrorStatistics:
    """One output under one pair; every figure in float64."""

    output: str
    reference: str
    candidate: str
    max_abs: float
    mean_abs: float
    p99_abs: float
    max_rel: float
    mean_rel: float
    p99_rel: float

    @property
    def pair(self) -> str:
        return f"{self.reference} vs {self.candidate}"


def errors(expected: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The absolute and relative error arrays of ``actual`` against ``expected``."""
    b = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        absolute = np.where(a == b, 0.0, np.abs(a - b))
        relative = absolute / np.maximum(np.abs(b), REL_ERROR_FLOOR)
    return absolute, relative


def error_statistics(
    parties: Mapping[str, Outputs], comparison: ComparisonResult
) -> tuple[ErrorStatistics, ...]:
    """Statistics of every row of ``comparison`` whose arrays could be compared."""
    rows = []
    for row in comparison.rows:
        if row.problem or row.reference not in parties or row.candidate not in parties:
            continue
        expected = parties[row.reference].get(row.output)
        actual = parties[row.candidate].get(row.output)
        if expected is None or actual is None or np.size(expected) == 0:
            continue
        absolute, relative = errors(expected, actual)
        rows.append(
            ErrorStatistics(
                row.output,
                row.reference,
                row.candidate,
                *_summary(absolute),
                *_summary(relative),
            )
        )
    return tuple(rows)


def error_per_step(
    parties: Mapping[str, Outputs], reference: str, output: str, time_axis: int = 0
) -> dict[str, np.ndarray]:
    """Each other party's maximum absolute error at each step of ``output``."""
    expected = parties[reference][output]
    curves = {}
    for party, arrays in parties.items():
        actual = arrays.get(output)
        if party == reference or actual is None or np.shape(actual) != np.shape(expected):
            continue
        absolute, _ = errors(expected, actual)
        steps = np.moveaxis(absolute, time_axis, 0)
        curves[party] = steps.reshape(steps.shape[0], -1).max(axis=1)
    return curves


def _summary(values: np.ndarray) -> tuple[float, float, float]:
    flat = values.reshape(-1)
    return float(flat.max()), float(flat.mean()), float(np.percentile(flat, 99))
