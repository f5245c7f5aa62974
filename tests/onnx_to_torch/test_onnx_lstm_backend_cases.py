"""ONNX's own LSTM backend test cases, run through the importer.

The cases feed ``W``, ``R``, ``B`` and ``P`` as graph inputs; our converter needs them
constant, so they are turned into initializers holding the case's data first.
"""

from __future__ import annotations

import functools
import re
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases
from onnx.backend.test.case.test_case import TestCase

from pipeline.errors import NoExactConversionError
from pipeline.onnx_to_torch.importer import import_onnx
from tests.onnx_to_torch.onnx_lstm_models import ATOL, assert_all_close

WEIGHT_INPUTS = {"W", "R", "B", "P"}
SUPPORTED = {"test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_bidirectional"}
REFUSED = {
    "test_lstm_with_peepholes": "P (peepholes)",
    "test_lstm_batchwise": "layout=1",
    "test_lstm_reverse": "direction='reverse'",
}


@functools.cache
def lstm_cases() -> dict[str, TestCase]:
    # NOTE: collecting imports every op's case module; some warn about their own data.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {case.name: case for case in collect_testcases("LSTM")}


def with_constant_weights(case: TestCase) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """The case's model with its weight inputs made initializers, and the remaining feeds."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, expected = case.data_sets[0]
    feeds = []
    for value, data in zip(list(model.graph.input), inputs, strict=True):
        if value.name in WEIGHT_INPUTS:
            model.graph.input.remove(value)
            model.graph.initializer.append(numpy_helper.from_array(data, value.name))
        else:
            feeds.append(data)
    return model, feeds


def test_every_onnx_lstm_case_is_either_supported_or_refused() -> None:
    assert set(lstm_cases()) == SUPPORTED | set(REFUSED)


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_onnx_backend_case_matches_its_expected_outputs(name: str) -> None:
    case = lstm_cases()[name]
    model, feeds = with_constant_weights(case)

    module = import_onnx(model)

    outputs = module(*(torch.from_numpy(np.ascontiguousarray(feed)) for feed in feeds))
    assert_all_close(list(case.data_sets[0][1]), outputs, atol=ATOL)


@pytest.mark.parametrize(("name", "reason"), sorted(REFUSED.items()))
def test_onnx_backend_case_with_an_inexact_feature_is_refused(name: str, reason: str) -> None:
    model, _ = with_constant_weights(lstm_cases()[name])

    with pytest.raises(NoExactConversionError, match=re.escape(reason)):
        import_onnx(model)
