"""ONNX's own backend node tests for LSTM, GRU and RNN, run through our torch import.

The expected outputs are the ones the onnx package publishes with each case, so the
batch-major cases that onnxruntime refuses are checked too. The cases feed ``W``, ``R``,
``B`` and ``P`` as graph inputs; our converter needs them constant, so they are turned into
initializers holding the case's data first.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases
from onnx.backend.test.case.test_case import TestCase

from pipeline.onnx_to_torch.importer import import_onnx
from tests.onnx_to_torch.onnx_lstm_models import assert_all_close

ATOL = 1e-5
OP_TYPES = ("LSTM", "GRU", "RNN")
WEIGHT_INPUTS = {"W", "R", "B", "P"}


@functools.cache
def backend_cases() -> dict[str, TestCase]:
    # NOTE: collecting imports every op's case module once (some warn about their own data)
    # and fills one global list, so collect all cases once and pick the recurrent ones.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cases = collect_testcases()
    return {
        case.name: case
        for case in cases
        if any(node.op_type in OP_TYPES for node in case.model.graph.node)
    }


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


def test_the_onnx_package_publishes_cases_for_every_recurrent_op() -> None:
    names = set(backend_cases())

    assert {"test_lstm_batchwise", "test_gru_batchwise", "test_simple_rnn_batchwise"} <= names
    assert len(names) >= 12


@pytest.mark.parametrize("name", sorted(backend_cases()))
def test_onnx_backend_case_matches_its_published_outputs(name: str) -> None:
    case = backend_cases()[name]
    model, feeds = with_constant_weights(case)

    module = import_onnx(model)

    with torch.no_grad():
        outputs = module(*(torch.from_numpy(np.ascontiguousarray(feed)) for feed in feeds))
    assert_all_close(list(case.data_sets[0][1]), outputs, atol=ATOL)
