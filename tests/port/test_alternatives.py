"""Equally good correction sets: each counted once, and named in the output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.cli.port_output import print_diagnosis
from pipeline.port.hand_port import HandPortDiagnosis
from pipeline.port.mistakes import TfUnit, candidate_sets

UNITS = {
    "keras_gru": TfUnit("GRU", "zrh", np.ones(6), np.ones(6), 0.0, False),
    "tf_v1_lstm": TfUnit("LSTM", "icfo", np.zeros(8), np.zeros(8), 1.0, True),
    "keras_lstm": TfUnit("LSTM", "ifco", np.zeros(8), np.zeros(8), 0.0, False),
}


@pytest.mark.parametrize("source", list(UNITS))
@pytest.mark.parametrize("size", [1, 2, 3])
def test_every_candidate_set_is_offered_once(source: str, size: int) -> None:
    sets = [
        tuple((c.mistake, c.detail) for c in corrections)
        for corrections in candidate_sets(size, UNITS[source])
    ]

    assert len(sets) == len(set(sets))


def test_the_other_sets_that_fit_as_well_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    unit = {
        "layer": 0, "reverse": False, "error_before": 0.5, "error_after": 1e-7,
        "within_tolerance": True, "alternatives": 1, "probe_error_after": 1e-7,
        "corrections": [{"mistake": "gate_order", "detail": "icfo", "explanation": "..."}],
        "other_sets": [["gate_order (iofc)"]],
    }  # fmt: skip
    result = HandPortDiagnosis(
        source=Path("s.npz"), layer="lstm", module="LSTM", input_shape=(5, 1, 3),
        units=(unit,), error_before=0.5, error_after=1e-7, within_tolerance=True,
        batch_first=False, tf_transposed=False, constructor="torch.nn.LSTM(...)",
        corrected_path=None, needs_exact_loop=(), from_module=False, probe_shape=(5, 5, 3),
        probe_error_before=0.4, probe_error_after=1e-7, steps_read=5,
    )  # fmt: skip

    print_diagnosis(result)

    output = capsys.readouterr().out
    assert "(1 other set(s) of the same size fit as well: gate_order (iofc))" in output
