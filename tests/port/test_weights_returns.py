"""``weights`` says which part of the torch call a Keras layer returns.

A Keras ``LSTM(16)`` (``return_sequences=False``) returns only the last state: in torch that
is ``output[:, -1]`` (``h_n[-1]``), and for a ``Bidirectional`` one
``torch.cat([h_n[-2], h_n[-1]], -1)``. A ``Bidirectional`` of another ``merge_mode`` is the
same module with its two halves merged: ``output[..., :6] + output[..., 6:]`` for ``"sum"``,
and for ``None`` the list of both (Keras' list is stacked in ``expected.npz``, and so are
ours). Keras builds and runs the model in the TF worker; the test process runs the written
state_dict in the printed constructor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.port.weights import PortOptions, port_weights

CASES = {
    "lstm_last_state": ("output[:, -1] (= h_n[-1])", lambda output, h_n: output[:, -1]),
    "bidirectional_lstm_last_state": (
        "torch.cat([h_n[-2], h_n[-1]], -1)",
        lambda output, h_n: torch.cat([h_n[-2], h_n[-1]], -1),
    ),
    "bidirectional_gru_sum": (
        'merge_mode="sum": output[..., :6] + output[..., 6:]',
        lambda output, h_n: output[..., :6] + output[..., 6:],
    ),
    "bidirectional_gru_mul": (
        'merge_mode="mul": output[..., :6] * output[..., 6:]',
        lambda output, h_n: output[..., :6] * output[..., 6:],
    ),
    "bidirectional_lstm_ave": (
        'merge_mode="ave": (output[..., :6] + output[..., 6:]) / 2',
        lambda output, h_n: (output[..., :6] + output[..., 6:]) / 2,
    ),
    "bidirectional_lstm_none": (
        "merge_mode=None: the list [output[..., :6], output[..., 6:]] (forward, backward)",
        lambda output, h_n: torch.stack([output[..., :6], output[..., 6:]]),
    ),
    "bidirectional_lstm_sum_last_state": (
        'merge_mode="sum": h_n[-2] + h_n[-1]',
        lambda output, h_n: h_n[-2] + h_n[-1],
    ),
    "bidirectional_lstm_mul_last_state": (
        'merge_mode="mul": h_n[-2] * h_n[-1]',
        lambda output, h_n: h_n[-2] * h_n[-1],
    ),
    "bidirectional_gru_ave_last_state": (
        'merge_mode="ave": (h_n[-2] + h_n[-1]) / 2',
        lambda output, h_n: (h_n[-2] + h_n[-1]) / 2,
    ),
    "bidirectional_gru_none_last_state": (
        "merge_mode=None: the list [h_n[-2], h_n[-1]] (forward, backward)",
        lambda output, h_n: torch.stack([h_n[-2], h_n[-1]]),
    ),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_a_keras_layer_is_described_by_what_it_returns(
    framework_workers, tmp_path: Path, kind: str
) -> None:
    path = framework_workers.run_tf(
        "tests.port_sources:write_keras_model", kind, str(tmp_path), timeout=120, model=kind,
    )  # fmt: skip
    expression, returned = CASES[kind]

    result = port_weights(Path(path), tmp_path / "ported", PortOptions(), framework_workers)

    ported = result.files[0]
    feed = ported.module.feed
    last_state = kind.endswith("last_state")
    assert f"return_sequences={not last_state}" in feed and expression in feed, feed
    assert ("whole sequence" in feed) != last_state
    module = eval(ported.module.constructor(), {"torch": torch})  # the printed call itself
    module.load_state_dict(torch.load(ported.path), strict=True)
    with np.load(tmp_path / "expected.npz") as arrays:
        x, y = arrays["x"], arrays["y"]
    with torch.no_grad():
        output, h_n = module(torch.from_numpy(x))
        if isinstance(h_n, tuple):  # an LSTM's (h_n, c_n)
            h_n = h_n[0]
        ours = returned(output, h_n).numpy()
    assert ours.shape == y.shape
    error = float(np.max(np.abs(ours - y)))
    print(f"max abs error against Keras: {error:.3g}")
    assert error <= 1e-5
