"""Compare the outputs of the parties (frameworks) pair by pair; the result is data.

A pair is ``(reference, candidate)``. For each output and pair, with ``a`` the candidate's
array and ``b`` the reference's:

- the shapes must be equal (no broadcasting); a mismatch fails;
- ``max_abs_error = max |a - b|``;
- ``max_rel_error = max |a - b| / max(|b|, REL_ERROR_FLOOR)``. The floor (float32's machine
  epsilon) keeps the ratio finite where ``b`` is zero, so an exact zero in the reference
  reads as "relative to float32 resolution" rather than as infinity. It is informative only;
- the output passes when ``|a - b| <= atol + rtol * |b|`` holds everywhere (numpy's
  ``allclose`` semantics: NaN is never close, equal infinities are), with the output's own
  tolerance.

Errors are computed in float64. ``ComparisonResult.verdict`` is the one-line summary.

The reference side of the pairs is the first party present in ``REFERENCE_PARTIES``:
TensorFlow, else the expected outputs a user gave, else onnxruntime (``pairs_for``). A party
that could not run (onnxruntime refuses some valid models) is left out of the pairs and
recorded with its reason. With none of the three present only torch vs torch.export is left;
that shows the export is faithful, not that the model is right, so the result fails with a
verdict that says there is no reference.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

TENSORFLOW = "tensorflow"
ONNXRUNTIME = "onnxruntime"
TORCH = "torch"
TORCH_EXPORT = "torch.export"
EXPECTED = "expected"

REFERENCE_PARTIES = (TENSORFLOW, EXPECTED, ONNXRUNTIME)
"""Who may serve as the reference, in order of preference."""

DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (
    (TENSORFLOW, ONNXRUNTIME),
    (TENSORFLOW, TORCH),
    (ONNXRUNTIME, TORCH),
    (TENSORFLOW, TORCH_EXPORT),
)

REL_ERROR_FLOOR = float(np.finfo(np.float32).eps)

Outputs = Mapping[str, np.ndarray]
ToleranceFor = Callable[[str], tuple[float, float]]


@dataclass(frozen=True)
class OutputComparison:
    """One output compared between one pair of parties."""

    output: str
    reference: str
    candidate: str
    reference_shape: tuple[int, ...] | None
    candidate_shape: tuple[int, ...] | None
    max_abs_error: float | None
    max_rel_error: float | None
    atol: float
    rtol: float
    num_mismatched: int
    passed: bool
    problem: str = ""
    """Why the arrays could not be compared element-wise (missing output, shape mismatch)."""

    @property
    def pair(self) -> str:
        return f"{self.reference} vs {self.candidate}"

    def describe(self) -> str:
        """A short phrase for a verdict line."""
        if self.problem:
            return f"{self.output} {self.pair}: {self.problem}"
        return (
            f"{self.output} {self.pair}: max abs {self.max_abs_error:.3g}, "
            f"max rel {self.max_rel_error:.3g}, {self.num_mismatched} elements beyond "
            f"atol {self.atol:g} + rtol {self.rtol:g}"
        )


@dataclass(frozen=True)
class ComparisonResult:
    """Every output under every pair, in output-then-pair order."""

    rows: tuple[OutputComparison, ...]
    reference: str | None = None
    """The party every other one is held against; ``None`` when no party could serve."""
    parties: tuple[str, ...] = ()
    """The parties compared, reference first."""
    not_run: dict[str, str] = field(default_factory=dict)
    """Parties that could not produce outputs: name -> why."""

    @property
    def passed(self) -> bool:
        return self.reference is not None and all(row.passed for row in self.rows)

    @property
    def failures(self) -> tuple[OutputComparison, ...]:
        return tuple(row for row in self.rows if not row.passed)

    @property
    def verdict(self) -> str:
        """One line: ``PASSED: ...`` or ``FAILED: ...``."""
        outputs = len({row.output for row in self.rows})
        pairs = len({row.pair for row in self.rows})
        if not self.rows:
            return "FAILED: nothing was compared"
        if self.reference is None:
            return self._no_reference_verdict()
        if self.passed:
            worst = max(self.rows, key=lambda row: row.max_abs_error or 0.0)
            return (
                f"PASSED: {_count(outputs, 'output')} x {_count(pairs, 'pair')} within "
                f"tolerance; largest max abs error "
                f"{worst.max_abs_error:.3g} ({worst.output}, {worst.pair})" + self._not_run_note()
            )
        failures = self.failures
        return (
            f"FAILED: {len(failures)} of {len(self.rows)} comparisons out of tolerance; "
            f"first: {failures[0].describe()}" + self._not_run_note()
        )

    def _not_run_note(self) -> str:
        return f"; not run: {', '.join(self.not_run)}" if self.not_run else ""

    def _no_reference_verdict(self) -> str:
        missing = [f"{name} not run" for name in self.not_run if name in REFERENCE_PARTIES]
        missing.append("no expected outputs given")
        failures = self.failures
        if failures:
            outcome = (
                f"{len(failures)} of {len(self.rows)} comparisons out of tolerance; "
                f"first: {failures[0].describe()}"
            )
        else:
            outcome = (
                f"{' and '.join(self.parties)} agree within tolerance, "
                "but that does not validate the model"
            )
        return (
            f"FAILED: no reference to validate against ({', '.join(missing)}); {outcome}; "
            "give expected outputs (expected_npz) to validate it"
        )


def pairs_for(parties: Collection[str]) -> tuple[tuple[str, str], ...]:
    """The pairs to compare among ``parties``; with every party present, ``DEFAULT_PAIRS``.

    The reference (see the module docstring) is held against each other party, and
    onnxruntime against torch when onnxruntime is not itself the reference. Without any
    reference party, torch serves as the reference of torch.export.
    """
    reference = next((name for name in REFERENCE_PARTIES if name in parties), TORCH)
    candidates = [name for name in (EXPECTED, ONNXRUNTIME, TORCH) if name in parties]
    pairs = [(reference, name) for name in candidates if name != reference]
    if reference != ONNXRUNTIME and ONNXRUNTIME in parties and TORCH in parties:
        pairs.append((ONNXRUNTIME, TORCH))
    if TORCH_EXPORT in parties:
        pairs.append((reference, TORCH_EXPORT))
    return tuple(pairs)


def compare_outputs(
    parties: Mapping[str, Outputs],
    outputs: Sequence[str],
    tolerance_for: ToleranceFor,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    not_run: Mapping[str, str] | None = None,
) -> ComparisonResult:
    """Compare ``outputs`` between each pair of ``parties`` (party name -> arrays by name).

    ``tolerance_for(output)`` gives that output's ``(atol, rtol)``. Every party a pair
    names must be present. ``not_run`` names parties that could not run, with the reason.
    """
    absent = sorted({name for pair in pairs for name in pair} - set(parties))
    if absent:
        raise ValueError(f"pairs name parties {absent}, but only {sorted(parties)} were given")
    rows = [
        compare_arrays(
            output,
            reference,
            candidate,
            parties[reference].get(output),
            parties[candidate].get(output),
            *tolerance_for(output),
        )
        for output in outputs
        for reference, candidate in pairs
    ]
    compared = list(dict.fromkeys(name for pair in pairs for name in pair))
    reference = next((name for name in REFERENCE_PARTIES if name in compared), None)
    return ComparisonResult(
        tuple(rows),
        reference=reference,
        parties=tuple(compared),
        not_run=dict(not_run or {}),
    )


def compare_arrays(
    output: str,
    reference: str,
    candidate: str,
    expected: np.ndarray | None,
    actual: np.ndarray | None,
    atol: float,
    rtol: float,
) -> OutputComparison:
    """Compare one output's ``actual`` (candidate) against ``expected`` (reference)."""
    expected_shape = None if expected is None else tuple(np.shape(expected))
    actual_shape = None if actual is None else tuple(np.shape(actual))

    def failed(problem: str) -> OutputComparison:
        return OutputComparison(
            output, reference, candidate, expected_shape, actual_shape,
            None, None, atol, rtol, 0, False, problem,
        )  # fmt: skip

    if expected is None or actual is None:
        return failed(f"missing from {reference if expected is None else candidate}")
    if expected_shape != actual_shape:
        return failed(f"shapes differ: {list(expected_shape)} vs {list(actual_shape)}")

    b = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        # Equal values count as exact, so matching infinities agree as in numpy's allclose.
        equal = a == b
        abs_error = np.where(equal, 0.0, np.abs(a - b))
        rel_error = abs_error / np.maximum(np.abs(b), REL_ERROR_FLOOR)
        within = equal | (abs_error <= atol + rtol * np.abs(b))
    return OutputComparison(
        output,
        reference,
        candidate,
        expected_shape,
        actual_shape,
        max_abs_error=_max(abs_error),
        max_rel_error=_max(rel_error),
        atol=atol,
        rtol=rtol,
        num_mismatched=int(within.size - np.count_nonzero(within)),
        passed=bool(within.all()),
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _max(errors: np.ndarray) -> float:
    # NaN anywhere makes the maximum NaN, which is what a report should show.
    return float(errors.max()) if errors.size else 0.0
