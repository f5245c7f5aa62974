"""Who the reference is: TensorFlow, else expected outputs, else onnxruntime, else nobody."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.validate.compare import DEFAULT_PAIRS, compare_outputs, pairs_for

Y = {"y": np.array([1.0, 2.0])}


@pytest.mark.parametrize(
    ("parties", "pairs"),
    [
        pytest.param(
            ["tensorflow", "onnxruntime", "torch", "torch.export"], DEFAULT_PAIRS, id="tensorflow"
        ),
        pytest.param(
            ["expected", "onnxruntime", "torch", "torch.export"],
            [
                ("expected", "onnxruntime"),
                ("expected", "torch"),
                ("onnxruntime", "torch"),
                ("expected", "torch.export"),
            ],
            id="expected-and-onnxruntime",
        ),
        pytest.param(
            ["expected", "torch", "torch.export"],
            [("expected", "torch"), ("expected", "torch.export")],
            id="expected-only",
        ),
        pytest.param(
            ["onnxruntime", "torch", "torch.export"],
            [("onnxruntime", "torch"), ("onnxruntime", "torch.export")],
            id="onnxruntime-only",
        ),
        pytest.param(["torch", "torch.export"], [("torch", "torch.export")], id="no-reference"),
    ],
)
def test_pairs_hold_the_first_reference_present_against_every_other_party(
    parties: list[str], pairs: list[tuple[str, str]]
) -> None:
    assert pairs_for(parties) == tuple(pairs)


def test_a_party_that_did_not_run_is_named_in_the_verdict() -> None:
    parties = {"expected": Y, "torch": Y, "torch.export": Y}
    result = compare_outputs(
        parties, ["y"], lambda _: (0, 0), pairs_for(parties), {"onnxruntime": "layout=1"}
    )
    assert result.passed
    assert result.reference == "expected"
    assert result.parties == ("expected", "torch", "torch.export")
    assert result.verdict.endswith("; not run: onnxruntime")


def test_without_a_reference_agreement_of_torch_and_its_export_does_not_pass() -> None:
    parties = {"torch": Y, "torch.export": Y}
    result = compare_outputs(
        parties, ["y"], lambda _: (0, 0), pairs_for(parties), {"onnxruntime": "layout=1"}
    )
    assert not result.passed and result.reference is None
    assert result.verdict.startswith(
        "FAILED: no reference to validate against (onnxruntime not run, no expected outputs "
        "given); torch and torch.export agree within tolerance, but that does not validate"
    )
