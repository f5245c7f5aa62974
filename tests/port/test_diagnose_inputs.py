"""``diagnose`` never calls a port right on an input that cannot show it wrong, and refuses
inputs, state_dicts and sources that do not fit with one clear error (exit status 2).

TF's reference comes from ``tf.raw_ops.BlockLSTM`` in the TF worker; the ports are built by
hand here (``tests.port.test_diagnose``'s block slicing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline import cli
from pipeline.errors import ConfigError, SourceError
from pipeline.port.inputs import read_input
from pipeline.port.state_dict import load_state_dict
from pipeline.port.user_module import user_shape
from pipeline.port.weights import PortOptions, direct_layer
from tests.port.test_diagnose import INPUTS, TF_TO_TORCH_BLOCKS, UNITS, blocks, correct_state

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def weights() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    kernel = rng.uniform(-0.3, 0.3, (INPUTS + UNITS, 4 * UNITS)).astype(np.float32)
    bias = rng.uniform(-0.3, 0.3, 4 * UNITS).astype(np.float32)
    return kernel, bias


def save(state: dict[str, np.ndarray], path: Path) -> Path:
    torch.save(
        {f"{name}_l0": torch.from_numpy(np.ascontiguousarray(a)) for name, a in state.items()}, path
    )
    return path


def diagnose_cli(source: Path, state_dict: Path, x: Path, *options: str) -> list[str]:
    return [
        "diagnose", str(source), "--state-dict", str(state_dict), "--input", str(x),
        "--output", str(state_dict.with_suffix(".out.pt")), "-q", *options,
    ]  # fmt: skip


def tf_h(workers, folder: Path, x: np.ndarray, kernel, bias, cell_clip: float = -1.0):
    """TF's BlockLSTM V1 (forget_bias 1) on a time-major ``x``."""
    np.savez(folder / "tf.npz", x=x, kernel=kernel, bias=bias)
    workers.run_tf(
        "pipeline.port.reference:kernel_reference", str(folder / "tf.npz"), str(folder / "h.npz"),
        "block_lstm", 1.0, cell_clip, timeout=120, model="one-step test",
    )  # fmt: skip
    return np.load(folder / "h.npz")["h"]


@pytest.fixture
def one_step(tmp_path: Path, weights) -> tuple[Path, Path]:
    """A fused kernel source and a one-step input [1, 50, 64], read time-major by both."""
    kernel, bias = weights
    np.savez(tmp_path / "fused.npz", kernel=kernel, bias=bias)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 50, INPUTS)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    return tmp_path / "fused.npz", tmp_path / "x.npz"


def test_a_wrong_weight_hh_is_not_called_right_on_a_one_step_input(
    framework_workers, tmp_path: Path, weights, one_step, capsys: pytest.CaptureFixture[str]
) -> None:
    kernel, bias = weights
    state = correct_state(kernel, bias, 1.0)
    state["weight_hh"] = np.random.default_rng(7).uniform(-1, 1, (4 * UNITS, UNITS))
    state["weight_hh"] = state["weight_hh"].astype(np.float32)
    source, x = one_step

    status = cli.main(diagnose_cli(source, save(state, tmp_path / "bad.pt"), x))

    output = capsys.readouterr().out
    assert status == cli.EXIT_MISMATCH, output
    assert "already agrees" not in output and "FIXED" not in output
    assert "a one-step input shows neither weight_hh" in output
    assert output.strip().splitlines()[-1].startswith("NOT EXPLAINED")


def test_mistakes_a_one_step_input_hides_are_found_and_the_fix_holds_on_50_steps(
    framework_workers, tmp_path: Path, weights, one_step, capsys: pytest.CaptureFixture[str]
) -> None:
    kernel, bias = weights
    # The user's port: TF's gate order and forget_bias not folded in. On one step only the
    # gate order shows; the forget gate scales a zero cell state.
    state = correct_state(kernel, bias, 0.0)
    state = {name: blocks(array, TF_TO_TORCH_BLOCKS) for name, array in state.items()}
    source, x = one_step

    status = cli.main(diagnose_cli(source, save(state, tmp_path / "user.pt"), x))

    output = capsys.readouterr().out
    assert status == cli.EXIT_PASSED, output
    assert ". gate_order:" in output and ". forget_bias:" in output
    corrected = torch.load(tmp_path / "user.out.pt")
    module = torch.nn.LSTM(INPUTS, UNITS)
    module.load_state_dict(corrected)
    long_x = np.random.default_rng(2).uniform(-1, 1, (50, 1, INPUTS)).astype(np.float32)
    with torch.no_grad():
        ours = module(torch.from_numpy(long_x))[0].numpy()
    error = float(np.max(np.abs(ours - tf_h(framework_workers, tmp_path, long_x, kernel, bias))))
    assert error <= TOLERANCE, f"corrected port off by {error} on 50 steps"


def test_a_clipping_source_is_named_even_when_the_input_never_reaches_the_clip(
    framework_workers, tmp_path: Path, weights, one_step, capsys: pytest.CaptureFixture[str]
) -> None:
    kernel, bias = weights
    source, x = one_step
    user = save(correct_state(kernel, bias, 1.0), tmp_path / "user.pt")

    status = cli.main(diagnose_cli(source, user, x, "--cell-clip", "3.0"))

    output = capsys.readouterr().out
    assert status == cli.EXIT_PASSED, output
    assert "nn.LSTM has no cell_clip=3" in output and "python -m pipeline convert" in output
    assert output.strip().splitlines()[-1].startswith("FIXED on this input (see the warning)")


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (torch.nn.LSTM(INPUTS, 50), "hidden size 50 in yours"),
        (torch.nn.LSTM(32, UNITS), "input size 32 in yours"),
        (torch.nn.GRU(INPUTS, UNITS), "your state_dict is an nn.GRU"),
        (torch.nn.GRU(INPUTS, 10), "your state_dict is an nn.GRU"),
        (torch.nn.RNN(INPUTS, UNITS), "your state_dict is an nn.RNN"),
        (torch.nn.LSTM(INPUTS, UNITS, proj_size=20), "nn.LSTM with proj_size=20"),
    ],
    ids=["small", "narrow", "gru", "small_gru", "rnn", "proj"],
)
def test_a_state_dict_of_another_kind_or_size_is_named_before_any_search(
    weights, module: torch.nn.Module, expected: str
) -> None:
    kernel, bias = weights
    layer = direct_layer({"kernel": kernel, "bias": bias}, PortOptions())
    state = {name: value.numpy() for name, value in module.state_dict().items()}

    with pytest.raises(SourceError, match=expected) as raised:
        user_shape(Path("mine.pt"), state, None, [layer], batch_first=False)

    assert "torch.nn.LSTM(input_size=64, hidden_size=100)" in str(raised.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        (b"hello world", "not a zip archive"),
        ({"x": np.zeros((0, 5, INPUTS), np.float32)}, "expected a non-empty input"),
        ({"a": np.zeros((1, 2, 3)), "b": np.zeros(3)}, "expected one array"),
        ({"x": np.zeros((50, INPUTS), np.float32)}, "expected a rank-3 array"),
        ({"x": np.full((2, 3, INPUTS), np.nan, np.float32)}, "holds NaN or inf"),
    ],
    ids=["missing", "not_npz", "zero_steps", "two_arrays", "rank_2", "nan"],
)
def test_an_input_that_cannot_be_read_is_one_config_error(
    tmp_path: Path, content, expected: str
) -> None:
    path = tmp_path / "x.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        np.savez(path, **content)

    with pytest.raises(ConfigError, match=expected):
        read_input(path)


def test_input_errors_exit_2_with_one_line_naming_the_feature_counts(
    tmp_path: Path, weights, one_step, capsys: pytest.CaptureFixture[str]
) -> None:
    kernel, bias = weights
    source, _ = one_step
    user = save(correct_state(kernel, bias, 1.0), tmp_path / "user.pt")
    np.savez(tmp_path / "narrow.npz", x=np.zeros((1, 50, 32), np.float32))

    statuses = [
        cli.main(diagnose_cli(source, user, tmp_path / "narrow.npz")),
        cli.main(diagnose_cli(source, user, tmp_path / "nope.npz")),
    ]

    errors = capsys.readouterr().err
    assert statuses == [cli.EXIT_ERROR, cli.EXIT_ERROR], errors
    assert "the input has 32 features (shape [1, 50, 32]), the source's layer kernel takes 64" in (
        errors
    )
    assert "Traceback" not in errors


def test_a_state_dict_with_nan_weights_is_refused(weights) -> None:
    kernel, bias = weights
    layer = direct_layer({"kernel": kernel, "bias": bias}, PortOptions())
    state = {f"{k}_l0": v for k, v in correct_state(kernel, bias, 1.0).items()}
    state["weight_ih_l0"] = np.full_like(state["weight_ih_l0"], np.nan)

    with pytest.raises(SourceError, match="hold NaN or inf"):
        user_shape(Path("mine.pt"), state, None, [layer], batch_first=False)


def test_a_corrupt_torch_file_is_named_not_a_torch_file(tmp_path: Path) -> None:
    (tmp_path / "garbage.pt").write_bytes(b"hello world")

    with pytest.raises(SourceError, match="not a torch file"):
        load_state_dict(str(tmp_path / "garbage.pt"), str(tmp_path / "out.npz"))


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"kernel": np.zeros((164, 400))}, "'bias' is missing"),
        ({"kernel": np.zeros((164, 399)), "bias": np.zeros(399)}, "received kernel \\[164, 399\\]"),
        ({"kernel": np.zeros((164, 400)), "bias": np.zeros(300)}, "the bias must be \\[400\\]"),
        ({"kernel": np.zeros(400), "bias": np.zeros(400)}, "received kernel \\[400\\]"),
        ({"kernel": np.zeros((100, 400)), "bias": np.zeros(400)}, "received kernel \\[100, 400\\]"),
    ],
    ids=["no_bias", "not_4_gates", "short_bias", "1d_kernel", "no_input_rows"],
)
def test_weights_refuses_a_fused_kernel_of_the_wrong_shape_with_exit_2(
    tmp_path: Path, arrays: dict, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    np.savez(tmp_path / "kernel.npz", **{k: v.astype(np.float32) for k, v in arrays.items()})

    status = cli.main(["weights", str(tmp_path / "kernel.npz"), "--output-dir", str(tmp_path)])

    errors = capsys.readouterr().err
    assert status == cli.EXIT_ERROR
    assert "Traceback" not in errors
    with pytest.raises(SourceError, match=expected):
        direct_layer(arrays, PortOptions(), tmp_path / "kernel.npz")
