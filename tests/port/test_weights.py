"""``weights``: every layer kind's state_dict loads into the printed constructor and matches TF.

TF builds and runs each source in the TF worker; the test process loads the written ``.pt``
into the module that the printed constructor call builds, runs it, and compares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pipeline import cli
from pipeline.errors import NoExactConversionError
from pipeline.port.weights import PortOptions, WeightsResult, port_weights
from pipeline.sources.example import BlockLstmSpec
from tests.end_to_end.helpers import write_graph
from tests.tf1_cells import BATCH, INPUT_SIZE, STEPS, UNITS, CellGraph

ATOL = 1e-5


def ported_output(result: WeightsResult, x: np.ndarray) -> np.ndarray:
    """Run the one module the result describes, built by its printed constructor call."""
    assert len(result.files) == 1, result.files
    ported = result.files[0]
    module = eval(ported.module.constructor(), {"torch": torch})  # the printed call itself
    module.load_state_dict(torch.load(ported.path), strict=True)
    with torch.no_grad():
        output, _ = module(torch.from_numpy(x))
    return output.numpy()


def assert_matches(result: WeightsResult, expected_npz: Path) -> None:
    with np.load(expected_npz) as arrays:
        x, y = arrays["x"], arrays["y"]
    output = ported_output(result, x)
    assert output.shape == y.shape
    error = float(np.max(np.abs(output - y)))
    print(f"max abs error against TF: {error:.3g}")
    assert error <= ATOL, f"max abs error {error} against TF"


def port(workers, source: Path, tmp_path: Path, **options) -> WeightsResult:
    return port_weights(Path(source), tmp_path / "ported", PortOptions(**options), workers)


def random_x(tmp_path: Path, shape: tuple[int, ...]) -> Path:
    x = np.random.default_rng(4).uniform(-1, 1, shape).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    return tmp_path / "x.npz"


@pytest.mark.parametrize(
    ("layer_kind", "forget_bias"),
    [("block_lstm", 1.0), ("block_lstm", 0.5), ("block_lstm2", 0.0), ("lstm_block_cell", 1.0)],
)
def test_a_fused_kernel_given_directly_matches_tf(
    framework_workers, tmp_path: Path, layer_kind: str, forget_bias: float
) -> None:
    rng = np.random.default_rng(0)
    kernel = rng.uniform(-0.5, 0.5, (INPUT_SIZE + UNITS, 4 * UNITS)).astype(np.float32)
    bias = rng.uniform(-0.5, 0.5, 4 * UNITS).astype(np.float32)
    x = rng.uniform(-1, 1, (STEPS, BATCH, INPUT_SIZE)).astype(np.float32)
    np.savez(tmp_path / "fused.npz", kernel=kernel, bias=bias)
    np.savez(tmp_path / "tf.npz", x=x, kernel=kernel, bias=bias)
    op = "block_lstm2" if layer_kind == "block_lstm2" else "block_lstm"
    framework_workers.run_tf(
        "pipeline.port.reference:kernel_reference", str(tmp_path / "tf.npz"),
        str(tmp_path / "h.npz"), op, forget_bias, timeout=120, model="fused kernel",
    )  # fmt: skip
    h = np.load(tmp_path / "h.npz")["h"]
    # A fused op reads [T, B, I]; an LSTMBlockCell steps as dynamic_rnn does, batch-major.
    time_major = layer_kind != "lstm_block_cell"
    if not time_major:
        x, h = x.transpose(1, 0, 2).copy(), h.transpose(1, 0, 2).copy()
    np.savez(tmp_path / "expected.npz", x=x, y=h)

    result = port(
        framework_workers, tmp_path / "fused.npz", tmp_path,
        layer_kind=layer_kind, forget_bias=forget_bias,
    )  # fmt: skip

    assert result.files[0].module.batch_first == (not time_major)
    assert_matches(result, tmp_path / "expected.npz")


@pytest.mark.parametrize("version", [1, 2])
def test_a_block_lstm_frozen_graph_matches_tf(framework_workers, tmp_path: Path, version: int):
    spec = BlockLstmSpec(
        version=version, input_size=INPUT_SIZE, hidden_size=UNITS, steps=STEPS, batch=BATCH
    )
    graph = write_graph(framework_workers, spec, tmp_path)
    x_npz = random_x(tmp_path, (STEPS, BATCH, INPUT_SIZE))
    expected = framework_workers.run_tf(
        "tests.port_sources:run_frozen_graph", str(graph), str(x_npz),
        str(tmp_path / "expected.npz"), "h:0", timeout=120, model="block lstm",
    )  # fmt: skip

    result = port(framework_workers, graph, tmp_path)

    assert result.files[0].module.constructor().startswith("torch.nn.LSTM(input_size=5,")
    assert_matches(result, Path(expected))


CELL_CASES = [
    CellGraph("lstm"),
    CellGraph("basic_lstm"),
    CellGraph("lstm_proj"),
    CellGraph("lstm_block"),
    CellGraph("lstm", layers=2),
    CellGraph("lstm", runner="bidirectional"),
]


def cell_graph_run_by_tf(workers, folder: Path, spec: CellGraph) -> tuple[str, Path, Any]:
    """A frozen TF1 cell graph, a random input for it, and TF's outputs on that input."""
    graph = workers.run_tf(
        "tests.tf1_cells:write_cell_graph", spec, str(folder / "cell.pb"),
        timeout=120, model=spec.cell,
    )  # fmt: skip
    x_npz = random_x(folder, tuple(spec.input_shape))
    expected = workers.run_tf(
        "tests.port_sources:run_frozen_graph", graph, str(x_npz),
        str(folder / "expected.npz"), timeout=120, model=spec.cell,
    )  # fmt: skip
    return graph, x_npz, expected


@pytest.mark.parametrize("spec", CELL_CASES, ids=lambda s: f"{s.cell}x{s.layers}-{s.runner}")
def test_a_tf1_cell_frozen_graph_matches_tf(framework_workers, tmp_path: Path, spec: CellGraph):
    graph, x_npz, expected = cell_graph_run_by_tf(framework_workers, tmp_path, spec)

    result = port(framework_workers, Path(graph), tmp_path)

    module = result.files[0].module
    assert module.num_layers == spec.layers
    assert module.bidirectional == (spec.runner == "bidirectional")
    assert module.proj_size == (4 if spec.cell == "lstm_proj" else 0)
    assert_matches(result, Path(expected))


@pytest.mark.parametrize("cell", ["lstm", "lstm_proj"])
def test_a_tf1_checkpoint_and_its_variables_as_an_npz_match_tf(
    framework_workers, tmp_path: Path, cell: str
) -> None:
    prefix = framework_workers.run_tf(
        "tests.port_sources:write_cell_checkpoint", CellGraph(cell), str(tmp_path),
        timeout=120, model="checkpoint",
    )  # fmt: skip
    named = framework_workers.run_tf(
        "tests.port_sources:checkpoint_to_npz", prefix, str(tmp_path / "named.npz"),
        timeout=120, model="checkpoint",
    )  # fmt: skip

    from_checkpoint = port(framework_workers, Path(prefix), tmp_path / "from_checkpoint")
    from_npz = port(framework_workers, Path(named), tmp_path / "from_npz")

    assert_matches(from_checkpoint, tmp_path / "expected.npz")
    assert_matches(from_npz, tmp_path / "expected.npz")
    assert any("forget_bias" in note for note in from_checkpoint.files[0].module.notes)


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn", "bidirectional_lstm"])
def test_a_keras_layer_matches_keras(framework_workers, tmp_path: Path, kind: str) -> None:
    path = framework_workers.run_tf(
        "tests.port_sources:write_keras_model", kind, str(tmp_path),
        timeout=120, model=kind,
    )  # fmt: skip

    result = port(framework_workers, Path(path), tmp_path)

    assert result.files[0].module.batch_first
    assert_matches(result, tmp_path / "expected.npz")


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn", "bidirectional_lstm"])
def test_a_keras_h5_file_matches_keras(framework_workers, tmp_path: Path, kind: str) -> None:
    path = framework_workers.run_tf(
        "tests.port_sources:write_keras_model", kind, str(tmp_path), ".h5",
        timeout=120, model=kind,
    )  # fmt: skip

    result = port(framework_workers, Path(path), tmp_path)

    assert Path(path).suffix == ".h5" and result.kind == "keras"
    assert result.files[0].module.bidirectional == kind.startswith("bidirectional")
    assert_matches(result, tmp_path / "expected.npz")


REFUSED_CELLS = [
    (CellGraph("lstm_full"), "peepholes"),
    (CellGraph("gru"), "GRU reset before the recurrent matmul"),
    (CellGraph("gru_block"), "GRU reset before the recurrent matmul"),
]


@pytest.mark.parametrize(("spec", "feature"), REFUSED_CELLS, ids=["lstm_full", "gru", "gru_block"])
def test_a_cell_no_torch_module_computes_is_refused_naming_layer_and_feature(
    framework_workers, tmp_path: Path, spec: CellGraph, feature: str
) -> None:
    graph = framework_workers.run_tf(
        "tests.tf1_cells:write_cell_graph", spec, str(tmp_path / "cell.pb"),
        timeout=120, model=spec.cell,
    )  # fmt: skip
    with pytest.raises(NoExactConversionError, match=feature) as refusal:
        port(framework_workers, Path(graph), tmp_path)
    assert "rnn/" in str(refusal.value) and "python -m pipeline convert" in str(refusal.value)


@pytest.mark.parametrize(
    ("spec", "feature"),
    [
        (BlockLstmSpec(input_size=5, hidden_size=6, cell_clip=None), r"cell_clip=3 \(a BlockLSTM"),
        (BlockLstmSpec(input_size=5, hidden_size=6, use_peephole=True), "peepholes"),
    ],
    ids=["v1-default-clip", "peepholes"],
)
def test_a_block_lstm_with_clip_or_peepholes_is_refused(
    framework_workers, tmp_path: Path, spec: BlockLstmSpec, feature: str
) -> None:
    graph = write_graph(framework_workers, spec, tmp_path)
    with pytest.raises(NoExactConversionError, match=feature) as refusal:
        port(framework_workers, graph, tmp_path)
    assert "lstm_fused_cell/BlockLSTM" in str(refusal.value)


def test_a_keras_gru_with_reset_before_the_matmul_is_refused(framework_workers, tmp_path):
    path = framework_workers.run_tf(
        "tests.port_sources:write_keras_model", "gru_reset_before", str(tmp_path),
        timeout=120, model="gru",
    )  # fmt: skip
    with pytest.raises(NoExactConversionError, match="GRU reset before"):
        port(framework_workers, Path(path), tmp_path)


def test_the_command_prints_the_constructor_and_how_to_feed_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    kernel = rng.uniform(-0.5, 0.5, (64 + 100, 400)).astype(np.float32)
    np.savez(tmp_path / "fused.npz", kernel=kernel, bias=np.zeros(400, np.float32))

    status = cli.main([
        "weights", str(tmp_path / "fused.npz"), "--output-dir", str(tmp_path / "out"), "-q",
    ])  # fmt: skip

    output = capsys.readouterr().out
    assert status == cli.EXIT_PASSED
    assert (
        "module = torch.nn.LSTM(input_size=64, hidden_size=100, num_layers=1, bias=True, "
        "batch_first=False, bidirectional=False, proj_size=0)"
    ) in output
    assert "input: feed x time-major, [T, B, I]" in output
    state = torch.load(tmp_path / "out" / "lstm.pt")
    assert float(state["bias_ih_l0"][100:200].min()) == 1.0  # forget_bias 1.0 folded in


def test_a_bidirectional_stack_of_cells_becomes_one_module_per_direction_and_matches_tf(
    framework_workers, tmp_path: Path
) -> None:
    spec = CellGraph("lstm", runner="bidirectional", layers=2)
    graph, x_npz, expected = cell_graph_run_by_tf(framework_workers, tmp_path, spec)

    result = port(framework_workers, Path(graph), tmp_path)

    assert [ported.module.name for ported in result.files] == [
        "bidirectional_rnn/fw", "bidirectional_rnn/bw"
    ]  # fmt: skip
    assert "x.flip(1)" in result.files[1].module.feed
    outputs = []
    with np.load(expected) as arrays:
        x, y = torch.from_numpy(arrays["x"]), arrays["y"]
    for ported, reverse in zip(result.files, (False, True), strict=True):
        assert ported.module.num_layers == 2 and not ported.module.bidirectional
        module = eval(ported.module.constructor(), {"torch": torch})
        module.load_state_dict(torch.load(ported.path), strict=True)
        with torch.no_grad():
            output, _ = module(x.flip(1) if reverse else x)
        outputs.append(output.flip(1) if reverse else output)
    error = float(np.max(np.abs(torch.cat(outputs, -1).numpy() - y)))
    assert error <= ATOL, f"max abs error {error} against TF"
