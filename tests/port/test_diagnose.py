"""``diagnose`` names the mistakes of a hand port of a fused TF LSTM, alone or together.

TF's reference comes from ``tf.raw_ops.BlockLSTM`` in the TF worker. The ports are built by
hand here, with explicit block slicing, never from the pipeline's own mapping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline import cli
from pipeline.port.diagnosis import Port, References, TfLayer, diagnose, max_error, run_port
from pipeline.sources.example import BlockLstmSpec
from tests.end_to_end.helpers import write_graph

INPUTS, UNITS = 64, 100
TF_TO_TORCH_BLOCKS = (0, 2, 1, 3)  # TF V1 blocks i, c, f, o -> torch i, f, g, o


def tf_reference(workers, folder: Path, x, kernel, bias, forget_bias: float) -> References:
    np.savez(folder / "tf.npz", x=x, kernel=kernel, bias=bias)
    workers.run_tf(
        "pipeline.port.reference:kernel_reference", str(folder / "tf.npz"), str(folder / "h.npz"),
        "block_lstm", forget_bias, timeout=120, model="diagnosis test",
    )  # fmt: skip
    with np.load(folder / "h.npz") as arrays:
        return References(arrays["h"], arrays["h_transposed"])


def blocks(array: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    return np.concatenate([np.split(array, 4, axis=0)[k] for k in order], axis=0)


def correct_state(kernel, bias, forget_bias: float) -> dict[str, np.ndarray]:
    bias_ih = blocks(bias, TF_TO_TORCH_BLOCKS).copy()
    bias_ih[UNITS : 2 * UNITS] += forget_bias
    return {
        "weight_ih_l0": blocks(kernel[:INPUTS].T, TF_TO_TORCH_BLOCKS),
        "weight_hh_l0": blocks(kernel[INPUTS:].T, TF_TO_TORCH_BLOCKS),
        "bias_ih_l0": bias_ih.astype(np.float32),
        "bias_hh_l0": np.zeros(4 * UNITS, np.float32),
    }


@pytest.fixture(scope="module")
def weights():
    rng = np.random.default_rng(0)
    kernel = rng.uniform(-0.3, 0.3, (INPUTS + UNITS, 4 * UNITS)).astype(np.float32)
    bias = rng.uniform(-0.3, 0.3, 4 * UNITS).astype(np.float32)
    return kernel, bias


def test_the_typical_case_names_all_three_faults_and_the_corrected_port_matches_tf(
    framework_workers, tmp_path: Path, weights
) -> None:
    kernel, _ = weights
    bias = np.zeros(4 * UNITS, np.float32)  # the kernel's bias, zero as initialised
    x = np.random.default_rng(1).uniform(-1, 1, (1, 50, INPUTS)).astype(np.float32)
    references = tf_reference(framework_workers, tmp_path, x, kernel, bias, 1.0)
    # The user's port: transposed halves in TF's gate order, zero biases, batch_first=True.
    zeros = np.zeros(4 * UNITS, np.float32)
    state = {
        "weight_ih_l0": kernel[:INPUTS].T.copy(),
        "weight_hh_l0": kernel[INPUTS:].T.copy(),
        "bias_ih_l0": zeros,
        "bias_hh_l0": zeros,
    }

    result = diagnose(Port(state, batch_first=True), x, references, TfLayer(
        kernel, bias, "tf_block_lstm", 1.0
    ))  # fmt: skip

    assert set(result.mistakes) == {"gate_order", "forget_bias", "time_major"}
    assert result.corrections[0].detail == "icfo"
    assert result.error_before > 0.1
    assert result.within_tolerance and result.alternatives == 0
    # The corrected port, run afresh, against TF fed the 50 steps the torch call reads.
    corrected = result.corrected
    assert corrected.tf_transposed and corrected.batch_first
    tf_50_steps = references.transposed
    assert max_error(run_port(corrected, x), tf_50_steps) <= 1e-5
    assert tf_50_steps.shape == (1, 50, UNITS)


def _seed(mistake: str, state: dict[str, np.ndarray], kernel, bias) -> tuple[dict, bool]:
    """Return the state and batch_first of a correct port with ``mistake`` seeded into it."""
    state = dict(state)
    if mistake == "gate_order":
        for name in state:  # the torch blocks i, f, g, o put back in TF's i, c, f, o
            state[name] = blocks(state[name], TF_TO_TORCH_BLOCKS)
    elif mistake == "forget_bias":
        state["bias_ih_l0"] = blocks(bias, TF_TO_TORCH_BLOCKS).copy()
    elif mistake == "halves_swapped":  # split as if the kernel's rows were [h, x]
        transposed = np.concatenate([state["weight_ih_l0"], state["weight_hh_l0"]], axis=1)
        state["weight_hh_l0"] = transposed[:, :UNITS].copy()
        state["weight_ih_l0"] = transposed[:, UNITS:].copy()
    elif mistake == "not_transposed":  # reshaped into torch's shape instead of transposed
        for name in ("weight_ih_l0", "weight_hh_l0"):
            state[name] = state[name].T.copy().reshape(state[name].shape)
    elif mistake == "bias_missing":
        state["bias_ih_l0"] = np.zeros(4 * UNITS, np.float32)
    elif mistake == "bias_doubled":
        state["bias_hh_l0"] = state["bias_ih_l0"].copy()
    return state, mistake == "time_major"


MISTAKES = [
    "gate_order", "forget_bias", "halves_swapped", "not_transposed", "bias_missing",
    "bias_doubled", "time_major",
]  # fmt: skip


@pytest.mark.parametrize("mistake", MISTAKES)
def test_each_mistake_alone_is_found_exactly(
    framework_workers, tmp_path: Path, weights, mistake: str
) -> None:
    kernel, bias = weights
    # bias_missing is seen where TF's bias is all there is: forget_bias 0 for it.
    forget_bias = 0.0 if mistake == "bias_missing" else 1.0
    x = np.random.default_rng(2).uniform(-1, 1, (50, 1, INPUTS)).astype(np.float32)
    references = tf_reference(framework_workers, tmp_path, x, kernel, bias, forget_bias)
    correct = correct_state(kernel, bias, forget_bias)
    assert max_error(run_port(Port(correct, False), x), references.as_fed) <= 1e-5
    state, batch_first = _seed(mistake, correct, kernel, bias)
    tf_layer = TfLayer(kernel, bias, "tf_block_lstm", forget_bias)

    result = diagnose(Port(state, batch_first), x, references, tf_layer)

    assert result.mistakes == (mistake,)
    assert result.error_before > 1e-3
    assert result.error_after <= 1e-5
    for name, array in correct.items():
        np.testing.assert_allclose(result.corrected.state[name], array, atol=1e-6, err_msg=name)


def test_the_command_prints_the_faults_the_corrected_call_and_the_errors(
    tmp_path: Path, weights, capsys: pytest.CaptureFixture[str]
) -> None:
    kernel, _ = weights
    bias = np.zeros(4 * UNITS, np.float32)
    np.savez(tmp_path / "fused.npz", kernel=kernel, bias=bias)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 50, INPUTS)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    user = {
        "weight_ih_l0": torch.from_numpy(kernel[:INPUTS].T.copy()),
        "weight_hh_l0": torch.from_numpy(kernel[INPUTS:].T.copy()),
        "bias_ih_l0": torch.zeros(4 * UNITS),
        "bias_hh_l0": torch.zeros(4 * UNITS),
    }
    torch.save(user, tmp_path / "user.pt")

    status = cli.main([
        "diagnose", str(tmp_path / "fused.npz"), "--state-dict", str(tmp_path / "user.pt"),
        "--input", str(tmp_path / "x.npz"), "--batch-first", "--forget-bias", "1.0", "-q",
    ])  # fmt: skip

    output = capsys.readouterr().out
    assert status == cli.EXIT_PASSED, output
    for mistake in ("gate_order", "forget_bias", "time_major"):
        assert f". {mistake}:" in output
    assert "module = torch.nn.LSTM(input_size=64, hidden_size=100, batch_first=True)" in output
    assert output.strip().splitlines()[-1].startswith("FIXED: max abs error")
    corrected = torch.load(tmp_path / "user.corrected.pt")
    module = torch.nn.LSTM(input_size=64, hidden_size=100, batch_first=True)
    module.load_state_dict(corrected)


def test_a_frozen_graph_is_run_as_it_is_and_a_zeroed_trained_bias_is_named_too(
    framework_workers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = BlockLstmSpec(steps=1, batch=50)  # the graph accepts the [1, 50, 64] the user fed
    graph = write_graph(framework_workers, spec, tmp_path)
    kernel = framework_workers.run_tf(
        "tests.port_sources:graph_constant", str(graph), "lstm_fused_cell/kernel",
        timeout=120, model="graph",
    )  # fmt: skip
    kernel = np.asarray(kernel, np.float32)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 50, INPUTS)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    zeros = torch.zeros(4 * UNITS)
    user = {
        "weight_ih_l0": torch.from_numpy(kernel[:INPUTS].T.copy()),
        "weight_hh_l0": torch.from_numpy(kernel[INPUTS:].T.copy()),
        "bias_ih_l0": zeros,
        "bias_hh_l0": zeros,
    }
    torch.save(user, tmp_path / "user.pt")

    status = cli.main([
        "diagnose", str(graph), "--state-dict", str(tmp_path / "user.pt"),
        "--input", str(tmp_path / "x.npz"), "--batch-first", "-q",
    ])  # fmt: skip

    output = capsys.readouterr().out
    assert status == cli.EXIT_PASSED, output
    found = [line.split(":")[0].split(". ")[1] for line in output.splitlines() if ". " in line[:5]]
    assert found == ["gate_order", "bias_missing", "forget_bias", "time_major"], output
