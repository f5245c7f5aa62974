"""Build a BlockLSTM graph in the TF worker and convert it three ways."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.config import ModelConfig, config_from_model_path
from pipeline.convert import ConversionResult, convert_model
from pipeline.isolation import Workers
from pipeline.sources.example import BlockLstmSpec
from tests.tf1_cells import CellGraph

ATOL = 1e-5


def write_graph(workers: Workers, spec: BlockLstmSpec, folder: Path) -> Path:
    path = workers.run_tf(
        "pipeline.sources.example:write_block_lstm_graph", spec, str(folder / "graph.pb"),
        timeout=120, model="graph builder",
    )  # fmt: skip
    return Path(path)


def block_lstm_config(source: Path, spec: BlockLstmSpec, output_dir: Path) -> ModelConfig:
    """Random float inputs; the spec's ``sequence_lengths``, if any, fed through an npz."""
    shapes = spec.input_shapes()
    options: dict = {
        "inputs": [{"name": name, "shape": shapes[name]} for name in spec.input_names],
        "outputs": spec.output_names,
        "output_dir": output_dir,
        "atol": ATOL,
        "rtol": 0.0,
    }
    if spec.sequence_lengths is not None:
        rng = np.random.default_rng(0)
        values = {
            name: rng.uniform(-1, 1, shape).astype(np.float32)
            for name, shape in shapes.items()
            if name != "sequence_length:0"
        }
        values["sequence_length:0"] = np.array(spec.sequence_lengths, np.int32)
        np.savez(output_dir.parent / "inputs.npz", **values)
        options["inputs_npz"] = output_dir.parent / "inputs.npz"
        options["inputs"][-1]["dtype"] = "int32"
    return config_from_model_path(source, options)


def convert_block_lstm(workers: Workers, spec: BlockLstmSpec, folder: Path) -> ConversionResult:
    source = write_graph(workers, spec, folder)
    return convert_model(block_lstm_config(source, spec, folder / "out"), workers)


def convert_cell_graph(workers: Workers, spec: CellGraph, folder: Path) -> ConversionResult:
    """Build a TF1 cell graph in the TF worker and convert it (outputs ``y:0``, ``state:0``)."""
    graph = workers.run_tf(
        "tests.tf1_cells:write_cell_graph", spec, str(folder / "cell.pb"),
        timeout=120, model=f"{spec.cell} graph builder",
    )  # fmt: skip
    return convert_model(cell_graph_config(graph, spec, folder), workers)


def cell_graph_config(graph: str | Path, spec: CellGraph, folder: Path) -> ModelConfig:
    """The config of a TF1 cell graph: input ``x:0``, outputs ``y:0`` and ``state:0``."""
    options = {
        "inputs": [{"name": "x:0", "shape": spec.input_shape}],
        "outputs": ["y:0", "state:0"],
        "output_dir": folder / "out",
        "atol": ATOL,
        "rtol": 0.0,
    }
    return config_from_model_path(graph, options)


def describe_errors(result: ConversionResult) -> str:
    """Every output x pair with its max abs error, for an assertion message."""
    return "\n".join(
        f"{row.output} {row.reference} vs {row.candidate}: max abs {row.max_abs_error}"
        for row in result.comparison.rows
    )
