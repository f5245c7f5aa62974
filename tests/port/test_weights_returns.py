"""``weights`` says which part of the torch call a Keras layer returns.

A Keras ``LSTM(16)`` (``return_sequences=False``) returns only the last state: in torch that
is ``output[:, -1]`` (``h_n[-1]``), and for a ``Bidirectional`` one
``torch.cat([h_n[-2], h_n[-1]], -1)``. Keras builds and runs the model in the TF worker; the
test process runs the written state_dict in the printed constructor.
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
}


@pytest.mark.parametrize("kind", list(CASES))
def test_a_keras_layer_without_return_sequences_is_described_as_its_last_state(
    framework_workers, tmp_path: Path, kind: str
) -> None:
    path = framework_workers.run_tf(
        "tests.port_sources:write_keras_model", kind, str(tmp_path), timeout=120, model=kind,
    )  # fmt: skip
    expression, last_state = CASES[kind]

    result = port_weights(Path(path), tmp_path / "ported", PortOptions(), framework_workers)

    ported = result.files[0]
    feed = ported.module.feed
    assert "return_sequences=False" in feed and expression in feed, feed
    assert "whole sequence" not in feed
    module = eval(ported.module.constructor(), {"torch": torch})  # the printed call itself
    module.load_state_dict(torch.load(ported.path), strict=True)
    with np.load(tmp_path / "expected.npz") as arrays:
        x, y = arrays["x"], arrays["y"]
    with torch.no_grad():
        output, (h_n, _) = module(torch.from_numpy(x))
        ours = last_state(output, h_n).numpy()
    assert ours.shape == y.shape
    assert float(np.max(np.abs(ours - y))) <= 1e-5
