"""The comparison math on hand-made arrays, and the verdict line."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.validate.compare import (
    REL_ERROR_FLOOR,
    compare_arrays,
    compare_outputs,
)


def test_errors_are_the_largest_absolute_and_relative_differences() -> None:
    expected = np.array([1.0, -2.0, 4.0], dtype=np.float32)
    actual = np.array([1.0, -2.5, 4.1], dtype=np.float32)
    row = compare_arrays("y:0", "tensorflow", "torch", expected, actual, atol=1.0, rtol=0.0)
    assert row.max_abs_error == pytest.approx(0.5)
    assert row.max_rel_error == pytest.approx(0.25)
    assert row.passed and row.num_mismatched == 0


def test_pass_follows_allclose_with_the_reference_as_b() -> None:
    # |a - b| <= atol + rtol * |b| with b the reference: 0.1 <= 0 + 0.1 * 1.0 passes,
    # while the same pair the other way round would have |b| = 1.1 and also pass; a
    # tolerance just below the difference fails.
    expected, actual = np.array([1.0]), np.array([1.1])
    passes = compare_arrays("y:0", "a", "b", expected, actual, atol=0.0, rtol=0.1 + 1e-12)
    fails = compare_arrays("y:0", "a", "b", expected, actual, atol=0.0, rtol=0.09)
    assert passes.passed and not fails.passed and fails.num_mismatched == 1
    assert passes.passed == np.allclose(actual, expected, rtol=0.1 + 1e-12, atol=0.0)


def test_a_zero_reference_gives_a_finite_relative_error() -> None:
    row = compare_arrays("y:0", "a", "b", np.zeros(2), np.array([0.0, 1e-6]), 1e-5, 1e-5)
    assert row.max_rel_error == pytest.approx(1e-6 / REL_ERROR_FLOOR)
    assert row.passed


def test_a_shape_mismatch_fails_without_broadcasting() -> None:
    row = compare_arrays("y:0", "a", "b", np.ones((1, 10)), np.ones(10), 1.0, 1.0)
    assert not row.passed
    assert row.problem == "shapes differ: [1, 10] vs [10]"
    assert row.max_abs_error is None


def test_nan_never_passes_and_equal_infinities_do() -> None:
    nan_row = compare_arrays("y:0", "a", "b", np.array([np.nan]), np.array([np.nan]), 1, 1)
    inf_row = compare_arrays("y:0", "a", "b", np.array([np.inf]), np.array([np.inf]), 0, 0)
    assert not nan_row.passed and np.isnan(nan_row.max_abs_error)
    assert inf_row.passed and inf_row.max_abs_error == 0.0


def test_every_output_is_compared_under_every_pair_with_its_own_tolerance() -> None:
    y = np.array([1.0, 2.0])
    parties = {
        "tensorflow": {"y:0": y, "z:0": y},
        "onnxruntime": {"y:0": y + 1e-6, "z:0": y + 1e-3},
        "torch": {"y:0": y, "z:0": y + 1e-3},
        "torch.export": {"y:0": y, "z:0": y},
    }
    tolerances = {"y:0": (1e-5, 0.0), "z:0": (1e-2, 0.0)}
    result = compare_outputs(parties, ["y:0", "z:0"], tolerances.__getitem__)
    assert len(result.rows) == 8
    assert [row.pair for row in result.rows[:4]] == [
        "tensorflow vs onnxruntime",
        "tensorflow vs torch",
        "onnxruntime vs torch",
        "tensorflow vs torch.export",
    ]
    assert result.passed
    assert result.verdict.startswith("PASSED: 2 outputs x 4 pairs within tolerance")


def test_a_failure_makes_a_single_failed_verdict_naming_the_first_failure() -> None:
    parties = {"tensorflow": {"y:0": np.zeros(3)}, "torch": {"y:0": np.array([0, 0, 1e-3])}}
    result = compare_outputs(parties, ["y:0"], lambda _: (1e-5, 1e-5), [("tensorflow", "torch")])
    assert not result.passed
    assert result.verdict.startswith("FAILED: 1 of 1 comparisons out of tolerance; first: y:0")
    assert "\n" not in result.verdict
    assert "1 elements beyond atol 1e-05" in result.verdict


def test_an_output_missing_from_a_party_fails() -> None:
    parties = {"tensorflow": {"y:0": np.zeros(1)}, "torch": {}}
    result = compare_outputs(parties, ["y:0"], lambda _: (1.0, 1.0), [("tensorflow", "torch")])
    assert result.rows[0].problem == "missing from torch"
    assert not result.passed


def test_a_pair_naming_an_absent_party_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"pairs name parties \['torch'\]"):
        compare_outputs({"tensorflow": {}}, ["y:0"], lambda _: (0, 0), [("tensorflow", "torch")])
