"""``diagnose`` for stacked and bidirectional ports, and for a whole saved module.

The sources are TF1 ``LSTMCell`` graphs (``MultiRNNCell``, ``bidirectional_dynamic_rnn``)
and a Keras ``Bidirectional(GRU)``, built and run in the TF worker. The correct ports are built
here by hand; a mistake is seeded into one layer-direction, and the diagnosis must name that
one and no other, and the corrected module must match the graph's (or Keras') own output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline import cli
from pipeline.errors import SourceError
from pipeline.port.hand_port import HandPortDiagnosis, HandPortOptions, diagnose_port
from tests.tf1_cells import CellGraph

ATOL = 1e-5
TF_TO_TORCH_LSTM = (0, 2, 1, 3)  # TF V1 blocks i, c, f, o -> torch i, f, g, o
KERAS_TO_TORCH_GRU = (1, 0, 2)  # Keras z, r, h -> torch r, z, n


def blocks(array: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    parts = np.split(array, len(order), axis=0)
    return np.ascontiguousarray(np.concatenate([parts[k] for k in order], axis=0))


def lstm_cell_source(workers, tmp_path: Path, spec: CellGraph) -> tuple[Path, dict]:
    """The graph, its output, and the correct full state_dict of the nn.LSTM, by hand."""
    graph = workers.run_tf(
        "tests.tf1_cells:write_cell_graph", spec, str(tmp_path / "cell.pb"),
        timeout=120, model="cells",
    )  # fmt: skip
    if spec.runner == "bidirectional":
        scopes = {"_l0": "bidirectional_rnn/fw", "_l0_reverse": "bidirectional_rnn/bw"}
    elif spec.layers > 1:
        scopes = {f"_l{k}": f"rnn/multi_rnn_cell/cell_{k}" for k in range(spec.layers)}
    else:
        scopes = {"_l0": "rnn"}
    names = [
        f"{scope}/lstm_cell/{leaf}" for scope in scopes.values() for leaf in ("kernel", "bias")
    ]
    workers.run_tf(
        "tests.port_sources:graph_constants", graph, names, str(tmp_path / "weights.npz"),
        timeout=120, model="cells",
    )  # fmt: skip
    x = np.random.default_rng(3).uniform(-1, 1, spec.input_shape).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    workers.run_tf(
        "tests.port_sources:run_frozen_graph", graph, str(tmp_path / "x.npz"),
        str(tmp_path / "expected.npz"), timeout=120, model="cells",
    )  # fmt: skip
    state = {}
    with np.load(tmp_path / "weights.npz") as arrays:
        for end, scope in scopes.items():
            kernel, bias = arrays[f"{scope}/lstm_cell/kernel"], arrays[f"{scope}/lstm_cell/bias"]
            units = kernel.shape[1] // 4
            inputs = kernel.shape[0] - units
            bias_ih = blocks(bias, TF_TO_TORCH_LSTM)
            bias_ih[units : 2 * units] += 1.0  # forget_bias 1.0
            state[f"weight_ih{end}"] = blocks(kernel[:inputs].T, TF_TO_TORCH_LSTM)
            state[f"weight_hh{end}"] = blocks(kernel[inputs:].T, TF_TO_TORCH_LSTM)
            state[f"bias_ih{end}"] = bias_ih
            state[f"bias_hh{end}"] = np.zeros_like(bias_ih)
    return Path(graph), state


def save_user(tmp_path: Path, state: dict) -> Path:
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, tmp_path / "user.pt")
    return tmp_path / "user.pt"


def diagnose_file(workers, tmp_path: Path, source: Path, user: Path, batch_first: bool):
    with np.load(tmp_path / "expected.npz") as arrays:
        np.savez(tmp_path / "x.npz", x=arrays["x"])
    return diagnose_port(
        source, user, tmp_path / "x.npz", tmp_path / "user.corrected.pt",
        HandPortOptions(batch_first=batch_first), workers,
    )  # fmt: skip


def corrected_matches_tf(tmp_path: Path, result: HandPortDiagnosis) -> float:
    """The corrected state_dict, in the printed constructor, against the source's output."""
    with np.load(tmp_path / "expected.npz") as arrays:
        x, y = arrays["x"], arrays["y"]
    module = eval(result.constructor, {"torch": torch})  # the printed call itself
    module.load_state_dict(torch.load(tmp_path / "user.corrected.pt"), strict=True)
    with torch.no_grad():
        output, _ = module(torch.from_numpy(x))
    return float(np.max(np.abs(output.numpy() - y)))


def found(result: HandPortDiagnosis) -> dict[tuple[int, bool], list[str]]:
    return {
        (unit["layer"], unit["reverse"]): [c["mistake"] for c in unit["corrections"]]
        for unit in result.units
    }


@pytest.mark.parametrize(
    ("spec", "seeded", "mistake"),
    [
        (CellGraph("lstm", layers=2), "_l1", "gate_order"),
        (CellGraph("lstm", layers=2), "_l0", "forget_bias"),
        (CellGraph("lstm", runner="bidirectional"), "_l0_reverse", "bias_doubled"),
        (CellGraph("lstm", runner="bidirectional"), "_l0", "halves_swapped"),
    ],
    ids=["stack-layer1-gate_order", "stack-layer0-forget_bias", "bidi-reverse-bias_doubled",
         "bidi-forward-halves_swapped"],
)  # fmt: skip
def test_a_mistake_in_one_layer_direction_is_named_there_and_nowhere_else(
    framework_workers, tmp_path: Path, spec: CellGraph, seeded: str, mistake: str
) -> None:
    source, correct = lstm_cell_source(framework_workers, tmp_path, spec)
    state = dict(correct)
    units = state["weight_hh_l0"].shape[1]
    if mistake == "gate_order":  # torch's blocks put back in TF's i, c, f, o
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            state[name + seeded] = blocks(state[name + seeded], TF_TO_TORCH_LSTM)
    elif mistake == "forget_bias":
        state["bias_ih" + seeded] = state["bias_ih" + seeded].copy()
        state["bias_ih" + seeded][units : 2 * units] -= 1.0
    elif mistake == "bias_doubled":
        state["bias_hh" + seeded] = state["bias_ih" + seeded].copy()
    else:  # halves_swapped
        transposed = np.concatenate([state["weight_ih" + seeded], state["weight_hh" + seeded]], 1)
        state["weight_hh" + seeded] = transposed[:, :units].copy()
        state["weight_ih" + seeded] = transposed[:, units:].copy()

    result = diagnose_file(
        framework_workers, tmp_path, source, save_user(tmp_path, state), batch_first=True
    )

    place = (int(seeded[2]), seeded.endswith("_reverse"))
    assert found(result) == {key: ([mistake] if key == place else []) for key in found(result)}
    assert len(result.units) == spec.layers * (2 if spec.runner == "bidirectional" else 1)
    assert result.error_before > 1e-3 and result.within_tolerance
    assert corrected_matches_tf(tmp_path, result) <= ATOL


def test_a_stack_called_time_major_is_named_time_major_in_every_layer(
    framework_workers, tmp_path: Path
) -> None:
    source, correct = lstm_cell_source(framework_workers, tmp_path, CellGraph("lstm", layers=2))

    result = diagnose_file(  # dynamic_rnn reads [B, T, I]; batch_first=False reads [T, B, I]
        framework_workers, tmp_path, source, save_user(tmp_path, correct), batch_first=False
    )

    assert found(result) == {(0, False): ["time_major"], (1, False): ["time_major"]}
    assert result.batch_first and not result.tf_transposed
    assert corrected_matches_tf(tmp_path, result) <= ATOL


def test_a_keras_bidirectional_gru_with_its_biases_summed_is_fixed_in_both_directions(
    framework_workers, tmp_path: Path
) -> None:
    path = framework_workers.run_tf(
        "tests.port_sources:write_keras_model", "bidirectional_gru", str(tmp_path),
        timeout=120, model="bidirectional gru",
    )  # fmt: skip
    with np.load(tmp_path / "weights.npz") as arrays:
        weights = [arrays[str(k)] for k in range(6)]
    state = {}
    for end, (kernel, recurrent, bias) in (("_l0", weights[:3]), ("_l0_reverse", weights[3:])):
        state[f"weight_ih{end}"] = blocks(kernel.T, KERAS_TO_TORCH_GRU)
        state[f"weight_hh{end}"] = blocks(recurrent.T, KERAS_TO_TORCH_GRU)
        state[f"bias_ih{end}"] = blocks(bias[0] + bias[1], KERAS_TO_TORCH_GRU)  # the mistake
        state[f"bias_hh{end}"] = np.zeros(bias.shape[1], np.float32)

    result = diagnose_file(
        framework_workers, tmp_path, Path(path), save_user(tmp_path, state), batch_first=True
    )

    assert found(result) == {(0, False): ["bias_split"], (0, True): ["bias_split"]}
    assert corrected_matches_tf(tmp_path, result) <= ATOL


def test_a_saved_module_brings_its_own_batch_first_and_layers(
    framework_workers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, correct = lstm_cell_source(framework_workers, tmp_path, CellGraph("lstm", layers=2))
    module = torch.nn.LSTM(5, 6, num_layers=2, batch_first=True)
    state = dict(correct)
    state["bias_hh_l1"] = state["bias_ih_l1"].copy()  # bias_doubled in layer 1
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    torch.save(module, tmp_path / "module.pt")

    status = cli.main(
        [
            "diagnose",
            str(source),
            "--state-dict",
            str(tmp_path / "module.pt"),
            "--input",
            str(tmp_path / "x.npz"),
            "-q",
        ]
    )  # fmt: skip (no --batch-first: the module says batch_first=True)

    output = capsys.readouterr().out
    assert status == cli.EXIT_PASSED, output
    assert "against your saved module" in output
    assert "layer 1, forward" in output and "1. bias_doubled:" in output
    assert "num_layers=2, batch_first=True" in output


def test_a_saved_module_of_another_class_is_refused_without_running_it(
    framework_workers, tmp_path: Path
) -> None:
    source, _ = lstm_cell_source(framework_workers, tmp_path, CellGraph("lstm"))
    torch.save(torch.nn.Linear(5, 6), tmp_path / "linear.pt")

    with pytest.raises(SourceError, match="expected a state_dict or a torch.save'd nn.LSTM"):
        diagnose_file(framework_workers, tmp_path, source, tmp_path / "linear.pt", True)
