"""``diagnose`` names the mistakes of a hand port of a fused TF LSTM, alone or together.

TF's reference comes from ``tf.raw_ops.BlockLSTM`` in the TF worker (or the frozen graph run
as it is). The ports are built by hand here, with explicit block slicing, never from the
pipeline's own mapping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline import cli
from pipeline.port.diagnosis import Port, References, TfUnit, diagnose, max_error, run_port
from pipeline.port.exact_units import run_unit
from pipeline.port.hand_port import HandPortOptions, diagnose_port
from pipeline.port.mistakes import ExactFeatures
from pipeline.sources.example import BlockLstmSpec
from tests.end_to_end.helpers import write_graph

INPUTS, UNITS = 64, 100
TF_TO_TORCH_BLOCKS = (0, 2, 1, 3)  # TF V1 blocks i, c, f, o -> torch i, f, g, o


def tf_reference(
    workers, folder: Path, x, kernel, bias, forget_bias: float, cell_clip: float = -1.0
) -> References:
    np.savez(folder / "tf.npz", x=x, kernel=kernel, bias=bias)
    workers.run_tf(
        "pipeline.port.reference:kernel_reference", str(folder / "tf.npz"), str(folder / "h.npz"),
        "block_lstm", forget_bias, cell_clip, timeout=120, model="diagnosis test",
    )  # fmt: skip
    with np.load(folder / "h.npz") as arrays:
        return References(arrays["h"], arrays["h_transposed"])


def blocks(array: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    return np.concatenate([np.split(array, 4, axis=0)[k] for k in order], axis=0)


def correct_state(kernel, bias, forget_bias: float, inputs: int = INPUTS) -> dict:
    units = kernel.shape[1] // 4
    bias_ih = blocks(bias, TF_TO_TORCH_BLOCKS).copy()
    bias_ih[units : 2 * units] += forget_bias
    return {
        "weight_ih": blocks(kernel[:inputs].T, TF_TO_TORCH_BLOCKS),
        "weight_hh": blocks(kernel[inputs:].T, TF_TO_TORCH_BLOCKS),
        "bias_ih": bias_ih.astype(np.float32),
        "bias_hh": np.zeros(4 * units, np.float32),
    }


def tf_unit(bias, forget_bias: float, **features) -> TfUnit:
    """TF V1's LSTM as the diagnosis sees it: its bias in torch's order, by hand."""
    torch_bias = blocks(bias, TF_TO_TORCH_BLOCKS)
    return TfUnit(
        "LSTM", "icfo", torch_bias, np.zeros_like(torch_bias), forget_bias, True, **features
    )


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
        "weight_ih": kernel[:INPUTS].T.copy(),
        "weight_hh": kernel[INPUTS:].T.copy(),
        "bias_ih": zeros,
        "bias_hh": zeros,
    }

    result = diagnose(Port("LSTM", state, batch_first=True), x, references, tf_unit(bias, 1.0))

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
        state["bias_ih"] = blocks(bias, TF_TO_TORCH_BLOCKS).copy()
    elif mistake == "halves_swapped":  # split as if the kernel's rows were [h, x]
        units = state["weight_hh"].shape[1]
        transposed = np.concatenate([state["weight_ih"], state["weight_hh"]], axis=1)
        state["weight_hh"] = transposed[:, :units].copy()
        state["weight_ih"] = transposed[:, units:].copy()
    elif mistake == "not_transposed":  # reshaped into torch's shape instead of transposed
        for name in ("weight_ih", "weight_hh"):
            state[name] = state[name].T.copy().reshape(state[name].shape)
    elif mistake == "bias_missing":
        state["bias_ih"] = np.zeros_like(state["bias_ih"])
    elif mistake == "bias_doubled":
        state["bias_hh"] = state["bias_ih"].copy()
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
    assert max_error(run_port(Port("LSTM", correct, False), x), references.as_fed) <= 1e-5
    state, batch_first = _seed(mistake, correct, kernel, bias)

    result = diagnose(Port("LSTM", state, batch_first), x, references, tf_unit(bias, forget_bias))

    assert result.mistakes == (mistake,)
    assert result.error_before > 1e-3
    assert result.error_after <= 1e-5
    for name, array in correct.items():
        np.testing.assert_allclose(result.corrected.state[name], array, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("halves", [("weight_ih", "weight_hh"), ("weight_ih",)])
def test_a_kernel_reshaped_and_then_reordered_is_found_as_not_transposed_alone(
    framework_workers, tmp_path: Path, weights, halves: tuple[str, ...]
) -> None:
    """The user reshaped TF's kernel halves (or one of them) to [4H, n] and then put the row
    blocks in torch's gate order, the way one reorders a transposed kernel."""
    kernel, bias = weights
    x = np.random.default_rng(2).uniform(-1, 1, (50, 1, INPUTS)).astype(np.float32)
    references = tf_reference(framework_workers, tmp_path, x, kernel, bias, 1.0)
    correct = correct_state(kernel, bias, 1.0)
    state = dict(correct)
    rows = {"weight_ih": kernel[:INPUTS], "weight_hh": kernel[INPUTS:]}
    for name in halves:
        reshaped = rows[name].reshape(4 * UNITS, rows[name].shape[0])
        state[name] = blocks(reshaped, TF_TO_TORCH_BLOCKS)

    result = diagnose(Port("LSTM", state, False), x, references, tf_unit(bias, 1.0))

    assert result.mistakes == ("not_transposed",)
    expected = "reordered after" if len(halves) == 2 else "weight_ih, reordered after"
    assert result.corrections[0].detail == expected
    assert result.error_before > 1e-3 and result.error_after <= 1e-5
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
    assert (
        "module = torch.nn.LSTM(input_size=64, hidden_size=100, num_layers=1, batch_first=True, "
        "bidirectional=False)"
    ) in output
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


FEATURE_CASES = {
    "peepholes_dropped": BlockLstmSpec(input_size=5, hidden_size=6, steps=7, batch=3,
                                       use_peephole=True, weight_scale=1.0),
    "cell_clip_dropped": BlockLstmSpec(input_size=5, hidden_size=6, steps=7, batch=3,
                                       cell_clip=0.2, weight_scale=1.0),
    "both": BlockLstmSpec(input_size=5, hidden_size=6, steps=7, batch=3, use_peephole=True,
                          cell_clip=0.2, weight_scale=1.0),
}  # fmt: skip


@pytest.mark.parametrize("case", list(FEATURE_CASES))
def test_dropped_peepholes_and_clipping_are_named_and_proven_by_the_exact_loop(
    framework_workers, tmp_path: Path, case: str
) -> None:
    spec = FEATURE_CASES[case]
    graph = write_graph(framework_workers, spec, tmp_path)
    names = ["kernel", "bias", "w_i_diag", "w_f_diag", "w_o_diag"][: 5 if spec.use_peephole else 2]
    framework_workers.run_tf(
        "tests.port_sources:graph_constants", str(graph), [f"lstm_fused_cell/{n}" for n in names],
        str(tmp_path / "weights.npz"), timeout=120, model="graph",
    )  # fmt: skip
    with np.load(tmp_path / "weights.npz") as arrays:
        weights = [arrays[f"lstm_fused_cell/{name}"] for name in names]
    x = np.random.default_rng(5).uniform(-1, 1, (7, 3, 5)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    expected = framework_workers.run_tf(
        "tests.port_sources:run_frozen_graph", str(graph), str(tmp_path / "x.npz"),
        str(tmp_path / "expected.npz"), "h:0", timeout=120, model="graph",
    )  # fmt: skip
    h = np.load(expected)["y"]
    correct = correct_state(weights[0], weights[1], 1.0, inputs=5)  # what nn.LSTM can hold
    torch.save(
        {f"{name}_l0": torch.from_numpy(array) for name, array in correct.items()},
        tmp_path / "user.pt",
    )

    result = diagnose_port(
        graph, tmp_path / "user.pt", tmp_path / "x.npz", tmp_path / "user.corrected.pt",
        HandPortOptions(batch_first=False), framework_workers,
    )  # fmt: skip

    found = [correction["mistake"] for correction in result.corrections]
    expected_mistakes = ["peepholes_dropped", "cell_clip_dropped"] if case == "both" else [case]
    assert found == expected_mistakes
    assert result.needs_exact_loop == tuple(expected_mistakes)
    assert result.error_before > 1e-3 and result.error_after <= 1e-5
    features = ExactFeatures(
        peepholes=np.stack(weights[2:]) if spec.use_peephole else None,
        cell_clip=spec.cell_clip if spec.cell_clip and spec.cell_clip > 0 else -1.0,
    )
    exact = run_unit("LSTM", correct, x, batch_first=False, features=features)
    assert max_error(exact, h) <= 1e-5  # the exact loop itself, against the graph's own h
