"""The steps of a BlockLSTM gate output past ``seq_len_max``, which TF leaves unwritten, read
as zeros in the reference; the written steps and other outputs are left as TF gave them."""

from __future__ import annotations

import numpy as np

from pipeline.sources.block_lstm_gates import zero_unwritten_steps


def test_unwritten_gate_steps_read_as_zeros_and_written_ones_are_kept() -> None:
    rng = np.random.default_rng(0)
    gates = rng.uniform(0, 1, (6, 2, 3)).astype(np.float32)
    gates[4:] = 1.16e30  # what an unwritten buffer held in one TF run
    h = rng.uniform(-1, 1, (6, 2, 3)).astype(np.float32)
    values = {"gi:0": gates.copy(), "h:0": h.copy(), "co:0": gates[:, :, :2].copy()}

    fixed = zero_unwritten_steps(values, {"gi:0": np.int64(4), "co:0": np.int64(6)})

    np.testing.assert_array_equal(fixed["gi:0"][:4], gates[:4])
    assert not np.any(fixed["gi:0"][4:])
    np.testing.assert_array_equal(fixed["co:0"], gates[:, :, :2])  # all 6 steps written
    np.testing.assert_array_equal(fixed["h:0"], h)
