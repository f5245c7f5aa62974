"""``diagnose`` for GRU ports into ``nn.GRU``: each mistake alone is found, exactly.

The sources are a Keras GRU (reset_after True and False, saved as ``.keras``) and TF1
``GRUCell``/``GRUBlockCell`` frozen graphs, built and run in the TF worker. The correct ports
are built here by hand, with explicit block slicing; the corrected ports are checked against
the output of Keras or of the graph itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline import cli
from pipeline.port.exact_units import run_unit
from pipeline.port.hand_port import HandPortDiagnosis, HandPortOptions, diagnose_port
from pipeline.port.mistakes import ExactFeatures
from tests.tf1_cells import CellGraph

ATOL = 1e-5
KERAS_TO_TORCH = (1, 0, 2)  # Keras blocks z, r, h -> torch r, z, n (its own inverse)


def blocks(array: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    parts = np.split(array, len(order), axis=0)
    return np.ascontiguousarray(np.concatenate([parts[k] for k in order], axis=0))


def keras_source(workers, tmp_path: Path, kind: str) -> tuple[Path, dict]:
    """A Keras GRU file, and its correct port into one nn.GRU layer, built by hand."""
    path = workers.run_tf(
        "tests.port_sources:write_keras_model", kind, str(tmp_path), timeout=120, model=kind
    )
    with np.load(tmp_path / "weights.npz") as arrays:
        kernel, recurrent, bias = arrays["0"], arrays["1"], arrays["2"]
    if bias.ndim == 1:  # reset_after=False: one bias, all of it on the input side
        bias = np.stack([bias, np.zeros_like(bias)])
    state = {
        "weight_ih": blocks(kernel.T, KERAS_TO_TORCH),
        "weight_hh": blocks(recurrent.T, KERAS_TO_TORCH),
        "bias_ih": blocks(bias[0], KERAS_TO_TORCH),
        "bias_hh": blocks(bias[1], KERAS_TO_TORCH),
    }
    return Path(path), state


def tf1_source(workers, tmp_path: Path, cell: str) -> tuple[Path, dict]:
    """A TF1 GRUCell/GRUBlockCell graph, its output, and the naive port into nn.GRU."""
    graph = workers.run_tf(
        "tests.tf1_cells:write_cell_graph", CellGraph(cell), str(tmp_path / "cell.pb"),
        timeout=120, model=cell,
    )  # fmt: skip
    scope = "rnn/gru_cell" if cell == "gru" else "rnn/block_cell"
    leaves = (
        ("gates/kernel", "candidate/kernel", "gates/bias", "candidate/bias")
        if cell == "gru"
        else ("w_ru", "w_c", "b_ru", "b_c")
    )
    names = [f"{scope}/{leaf}" for leaf in leaves]
    workers.run_tf(
        "tests.port_sources:graph_constants", graph, names, str(tmp_path / "weights.npz"),
        timeout=120, model=cell,
    )  # fmt: skip
    with np.load(tmp_path / "weights.npz") as arrays:
        w_ru, w_c, b_ru, b_c = (arrays[name] for name in names)
    x = np.random.default_rng(3).uniform(-1, 1, CellGraph(cell).input_shape).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    workers.run_tf(
        "tests.port_sources:run_frozen_graph", graph, str(tmp_path / "x.npz"),
        str(tmp_path / "expected.npz"), timeout=120, model=cell,
    )  # fmt: skip
    inputs = w_c.shape[0] - w_c.shape[1]
    kernel = np.concatenate([w_ru, w_c], axis=1)  # r, u, c: torch's r, z, n
    state = {
        "weight_ih": np.ascontiguousarray(kernel[:inputs].T),
        "weight_hh": np.ascontiguousarray(kernel[inputs:].T),
        "bias_ih": np.concatenate([b_ru, b_c]),
        "bias_hh": np.zeros(3 * w_c.shape[1], np.float32),
    }
    return Path(graph), state


def seed(mistake: str, state: dict) -> tuple[dict, bool]:
    """A correct GRU port with ``mistake`` seeded into it, and its batch_first."""
    state = {name: array.copy() for name, array in state.items()}
    units = state["weight_hh"].shape[1]
    if mistake == "gate_order":  # Keras' z, r, h kept
        state = {name: blocks(array, KERAS_TO_TORCH) for name, array in state.items()}
    elif mistake == "halves_swapped":
        transposed = np.concatenate([state["weight_ih"], state["weight_hh"]], axis=1)
        state["weight_hh"] = transposed[:, :units].copy()
        state["weight_ih"] = transposed[:, units:].copy()
    elif mistake == "not_transposed":
        for name in ("weight_ih", "weight_hh"):
            state[name] = state[name].T.copy().reshape(state[name].shape)
    elif mistake == "bias_missing":
        state["bias_ih"] = np.zeros_like(state["bias_ih"])
        state["bias_hh"] = np.zeros_like(state["bias_hh"])
    elif mistake == "bias_split":  # both rows summed into bias_ih, as for an LSTM
        state["bias_ih"] = state["bias_ih"] + state["bias_hh"]
        state["bias_hh"] = np.zeros_like(state["bias_hh"])
    return state, mistake != "time_major"


def run_diagnose(
    workers, tmp_path: Path, source: Path, state: dict, batch_first: bool
) -> HandPortDiagnosis:
    torch.save(
        {f"{name}_l0": torch.from_numpy(array) for name, array in state.items()},
        tmp_path / "user.pt",
    )
    with np.load(tmp_path / "expected.npz") as arrays:
        np.savez(tmp_path / "x.npz", x=arrays["x"])
    return diagnose_port(
        source, tmp_path / "user.pt", tmp_path / "x.npz", tmp_path / "user.corrected.pt",
        HandPortOptions(batch_first=batch_first), workers,
    )  # fmt: skip


def corrected_error(tmp_path: Path, result: HandPortDiagnosis, reset_before: bool) -> float:
    """The corrected port, run afresh, against the source's own output."""
    with np.load(tmp_path / "expected.npz") as arrays:
        x, y = arrays["x"], arrays["y"]
    loaded = torch.load(tmp_path / "user.corrected.pt")
    state = {name.removesuffix("_l0"): value.numpy() for name, value in loaded.items()}
    features = ExactFeatures(reset_before=reset_before)
    output = run_unit("GRU", state, x, batch_first=result.batch_first, features=features)
    return float(np.max(np.abs(output - y)))


GRU_MISTAKES = [
    "gate_order", "halves_swapped", "not_transposed", "bias_missing", "bias_split", "time_major"
]  # fmt: skip


@pytest.mark.parametrize("mistake", GRU_MISTAKES)
def test_each_mistake_in_a_keras_gru_port_alone_is_found_exactly(
    framework_workers, tmp_path: Path, mistake: str
) -> None:
    source, correct = keras_source(framework_workers, tmp_path, "gru")
    state, batch_first = seed(mistake, correct)

    result = run_diagnose(framework_workers, tmp_path, source, state, batch_first)

    assert [c["mistake"] for c in result.corrections] == [mistake]
    assert result.error_before > 1e-3 and result.within_tolerance
    assert not result.needs_exact_loop
    assert corrected_error(tmp_path, result, reset_before=False) <= ATOL
    assert result.constructor.startswith("torch.nn.GRU(input_size=5, hidden_size=6")


@pytest.mark.parametrize("source_kind", ["keras_reset_before", "gru", "gru_block"])
def test_a_reset_before_source_in_nn_gru_is_named_and_proven_by_the_exact_loop(
    framework_workers, tmp_path: Path, source_kind: str
) -> None:
    if source_kind == "keras_reset_before":
        source, state = keras_source(framework_workers, tmp_path, "gru_reset_before")
    else:
        source, state = tf1_source(framework_workers, tmp_path, source_kind)

    result = run_diagnose(framework_workers, tmp_path, source, state, batch_first=True)

    assert [c["mistake"] for c in result.corrections] == ["reset_after"]
    assert result.needs_exact_loop == ("reset_after",)
    assert result.error_before > 1e-3 and result.error_after <= ATOL
    assert corrected_error(tmp_path, result, reset_before=True) <= ATOL


def test_a_permuted_reset_before_port_is_named_with_both_mistakes(
    framework_workers, tmp_path: Path
) -> None:
    source, correct = tf1_source(framework_workers, tmp_path, "gru")
    state, _ = seed("gate_order", correct)

    result = run_diagnose(framework_workers, tmp_path, source, state, batch_first=True)

    assert [c["mistake"] for c in result.corrections] == ["gate_order", "reset_after"]
    assert corrected_error(tmp_path, result, reset_before=True) <= ATOL


@pytest.mark.parametrize(
    ("kind", "mistake"),
    [("lstm", "halves_swapped"), ("lstm", "bias_doubled"), ("simple_rnn", "bias_missing"),
     ("simple_rnn", "not_transposed")],
)  # fmt: skip
def test_a_keras_lstm_or_simple_rnn_port_mistake_is_found_too(
    framework_workers, tmp_path: Path, kind: str, mistake: str
) -> None:
    path = framework_workers.run_tf(
        "tests.port_sources:write_keras_model", kind, str(tmp_path), timeout=120, model=kind
    )
    with np.load(tmp_path / "weights.npz") as arrays:
        kernel, recurrent, bias = arrays["0"], arrays["1"], arrays["2"]
    # Keras LSTM blocks i, f, c, o are torch's i, f, g, o; a SimpleRNN has one block.
    state = {
        "weight_ih": kernel.T.copy(), "weight_hh": recurrent.T.copy(),
        "bias_ih": bias.copy(), "bias_hh": np.zeros_like(bias),
    }  # fmt: skip
    if mistake == "bias_doubled":
        state["bias_hh"] = bias.copy()
    else:
        state, _ = seed(mistake, state)
    module = "LSTM" if kind == "lstm" else "RNN"

    result = run_diagnose(framework_workers, tmp_path, Path(path), state, batch_first=True)

    assert [c["mistake"] for c in result.corrections] == [mistake]
    assert result.module == module and result.within_tolerance
    with np.load(tmp_path / "expected.npz") as arrays:
        x, y = arrays["x"], arrays["y"]
    loaded = torch.load(tmp_path / "user.corrected.pt")
    corrected = {name.removesuffix("_l0"): value.numpy() for name, value in loaded.items()}
    output = run_unit(module, corrected, x, batch_first=True)
    assert float(np.max(np.abs(output - y))) <= ATOL


def test_the_command_says_nn_gru_cannot_hold_a_reset_before_gru_and_points_to_convert(
    framework_workers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, state = keras_source(framework_workers, tmp_path, "gru_reset_before")
    torch.save({f"{k}_l0": torch.from_numpy(v) for k, v in state.items()}, tmp_path / "user.pt")
    with np.load(tmp_path / "expected.npz") as arrays:
        np.savez(tmp_path / "x.npz", x=arrays["x"])

    status = cli.main([
        "diagnose", str(source), "--state-dict", str(tmp_path / "user.pt"),
        "--input", str(tmp_path / "x.npz"), "--batch-first", "-q",
    ])  # fmt: skip

    output = capsys.readouterr().out
    assert status == cli.EXIT_PASSED, output
    assert "1. reset_after: reset_after confused" in output
    assert "nn.GRU cannot hold reset_after" in output and "python -m pipeline convert" in output
    assert output.strip().splitlines()[-1].startswith("EXPLAINED (exact only outside nn)")
