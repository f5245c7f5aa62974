"""The direct TF -> torch weight mapping is the composition TF -> ONNX -> torch."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.recurrent.lstm import fused_kernel_to_onnx
from pipeline.recurrent.onnx_to_torch import onnx_to_torch
from pipeline.recurrent.tf_to_torch import fused_kernel_to_torch


@pytest.mark.parametrize("gate_order", ["tf_block_lstm", "tf_block_lstm2"])
def test_fused_kernel_to_torch_is_tf_to_onnx_then_onnx_to_torch(gate_order: str) -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5 + 6, 24)).astype(np.float32)
    b = rng.normal(size=24).astype(np.float32)

    direct = fused_kernel_to_torch(w, b, input_size=5, gate_order=gate_order, forget_bias=1.0)
    onnx = fused_kernel_to_onnx(w, b, input_size=5, gate_order=gate_order, forget_bias=1.0)
    composed = onnx_to_torch("LSTM", onnx.W[0], onnx.R[0], onnx.B[0])

    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_array_equal(direct[name], getattr(composed, name), err_msg=name)


def test_forget_bias_is_folded_into_the_forget_block_of_bias_ih_only() -> None:
    w = np.zeros((3 + 2, 8), np.float32)
    ported = fused_kernel_to_torch(
        w, np.zeros(8, np.float32), input_size=3, gate_order="tf_block_lstm", forget_bias=1.5
    )
    np.testing.assert_array_equal(ported["bias_ih"], [0, 0, 1.5, 1.5, 0, 0, 0, 0])
    np.testing.assert_array_equal(ported["bias_hh"], np.zeros(8))


def test_a_projection_becomes_weight_hr_and_narrows_weight_hh() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=(5 + 4, 24)).astype(np.float32)
    projection = rng.normal(size=(6, 4)).astype(np.float32)
    ported = fused_kernel_to_torch(
        w, np.zeros(24, np.float32), input_size=5, gate_order="tf_block_lstm",
        projection=projection,
    )  # fmt: skip
    assert ported["weight_hh"].shape == (24, 4)
    np.testing.assert_array_equal(ported["weight_hr"], projection.T)
