"""The stages of one conversion, each timed, recorded in the ``Run`` and logged in one line.

Framework stages run in their worker (``pipeline.isolation``); the rest in this process.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from pipeline.config import ONNX_SOURCE
from pipeline.convert.run import (
    FROZEN_SOURCE,
    INPUTS_NPZ,
    MODEL_ONNX,
    MODEL_PT2,
    ONNX_SOURCE_PATH,
    ONNX_SOURCE_REASON,
    ORT_FATAL_ONLY,
    PROGRAM_OUTPUTS_NPZ,
    REFERENCE_NPZ,
    STATE_DICT,
    TORCH_OUTPUTS_NPZ,
    RecurrentNode,
    Run,
    read_field,
    timed,
)
from pipeline.errors import ConversionError
from pipeline.inputs import load_expected_npz, load_npz, make_inputs, save_npz
from pipeline.isolation import Stage
from pipeline.sources import formats, onnx_model
from pipeline.sources.signature import SourceDescription, fill_defaults
from pipeline.validate import compare
from pipeline.validate.onnx_check import (
    OnnxModelSummary,
    OnnxRuntimeError,
    check_model,
    run_onnxruntime,
)

logger = logging.getLogger(__name__)


def make_inputs_step(run: Run) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """The input arrays (also written to inputs.npz), and the expected outputs if given."""

    def step() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        arrays = make_inputs(run.config)
        save_npz(run.staging.path(INPUTS_NPZ), arrays)
        expected_npz = run.config.expected_npz
        expected = None
        if expected_npz is not None:
            expected = load_expected_npz(expected_npz, run.config.outputs)
        return arrays, expected

    (arrays, expected), seconds = timed(step)
    run.record("inputs", seconds)
    origin = run.config.inputs_npz or f"seeded random, seed {run.config.seed}"
    logger.info("inputs: fed %d, pinned %d (%s)", len(arrays), len(run.config.pinned), origin)
    if expected is not None:
        logger.info("expected outputs: %d (%s)", len(expected), run.config.expected_npz)
    return arrays, expected


def copy_onnx_source(run: Run) -> tuple[RecurrentNode, ...]:
    source = run.config.source

    def step() -> onnx.ModelProto:
        model = onnx_model.load_source(source)
        shutil.copyfile(source, run.staging.path(MODEL_ONNX))
        return model

    model, seconds = timed(step)
    run.record("source", seconds, {"format": ONNX_SOURCE, "copied_from": str(source)})
    nodes = tuple(
        RecurrentNode(name, op, ONNX_SOURCE_PATH, ONNX_SOURCE_REASON)
        for name, op in onnx_model.recurrent_nodes(model)
    )
    logger.info(
        "source: %s copied as %s; recurrent nodes: %d (%.2f s)",
        source,
        MODEL_ONNX,
        len(nodes),
        seconds,
    )
    return nodes


def describe_source(run: Run, stage: Stage) -> SourceDescription:
    """Read what the source declares in the TF worker, and complete the config from it.

    A SavedModel or checkpoint is frozen on the way; ``run.frozen_graph`` then names the
    graph the TensorFlow stage reads.
    """
    config = run.config

    def step() -> dict[str, Any]:
        return run.workers.run_tf(
            stage,
            str(config.source),
            config.format,
            list(config.outputs),
            None if config.tags is None else list(config.tags),
            config.signature,
            config.safe_mode,
            run.path(FROZEN_SOURCE),
            timeout=config.timeout,
            model=config.name,
            stage_name="describe",
        )

    result, seconds = timed(step)
    description = SourceDescription.from_plain(result)
    details = {key: value for key, value in result.items() if key != "frozen_graph"}
    run.record("source", seconds, {"format": config.format, **details})
    logger.info(
        "source: %s read as a %s; defaults from %s (%.2f s)",
        config.source,
        description.kind,
        description.origin,
        seconds,
    )
    run.config = fill_defaults(config, description)
    run.frozen_graph = description.frozen_graph
    return description


def run_tensorflow(
    run: Run, inputs: Mapping[str, np.ndarray], stage: Stage
) -> tuple[RecurrentNode, ...]:
    config = run.config
    input_names = [spec.name for spec in config.fed_inputs]
    input_shapes = {name: list(array.shape) for name, array in inputs.items()}
    # Only a Keras source needs the extra arguments; a frozen graph is called as it always was.
    keras: tuple[Any, ...] = ()
    if config.format == formats.KERAS:
        keras = (formats.KERAS, bool(config.safe_mode))

    def step() -> dict[str, Any]:
        return run.workers.run_tf(
            stage,
            run.frozen_graph or str(config.source),
            input_names,
            list(config.outputs),
            config.pinned,
            run.path(INPUTS_NPZ),
            config.opset,
            run.path(MODEL_ONNX),
            run.path(REFERENCE_NPZ),
            input_shapes,
            *keras,
            timeout=config.timeout,
            model=config.name,
            stage_name="tensorflow",
        )

    result, seconds = timed(step)
    run.record("tensorflow", seconds, result)
    entries = read_field(result, "recurrent_nodes", list, "tensorflow")
    nodes = tuple(recurrent_node(entry) for entry in entries)
    logger.info(
        "tensorflow: reference outputs and %s written; recurrent nodes: %d (%.2f s)",
        MODEL_ONNX,
        len(nodes),
        seconds,
    )
    return nodes


def check_onnx(run: Run, path: Path, *at_fault: str) -> OnnxModelSummary:
    summary, seconds = timed(lambda: check_model(path, *at_fault))
    run.record("onnx_check", seconds)
    logger.info(
        "onnx check: opset %d, nodes: %d; full check and strict shape inference pass (%.2f s)",
        summary.opset,
        summary.num_nodes,
        seconds,
    )
    return summary


def run_onnxruntime_step(run: Run, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    outputs, seconds = timed(lambda: run_onnxruntime(run.staging.path(MODEL_ONNX), inputs))
    run.record("onnxruntime", seconds)
    logger.info("onnxruntime: ran on CPU, outputs: %d (%.2f s)", len(outputs), seconds)
    return outputs


def try_onnxruntime(
    run: Run, inputs: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray] | None, str]:
    """onnxruntime's outputs, or ``None`` and its reason when it refuses the model."""

    def step() -> tuple[dict[str, np.ndarray] | None, str]:
        try:
            return run_onnxruntime(run.config.source, inputs, ORT_FATAL_ONLY), ""
        except OnnxRuntimeError as error:
            return None, str(error).strip()

    (outputs, refusal), seconds = timed(step)
    if outputs is None:
        run.record("onnxruntime", seconds, {"ran": False, "reason": refusal})
        logger.warning("onnxruntime: not run, left out of the comparison: %s", refusal)
        return None, refusal
    run.record("onnxruntime", seconds, {"ran": True})
    logger.info("onnxruntime: ran on CPU, outputs: %d (%.2f s)", len(outputs), seconds)
    return outputs, ""


def check_torch_can_import(run: Run, stage: Stage) -> None:
    def step() -> dict[str, Any]:
        return run.workers.run_torch(
            stage,
            str(run.config.source),
            timeout=run.config.timeout,
            model=run.config.name,
            stage_name="torch_preflight",
        )

    result, seconds = timed(step)
    run.record("torch_preflight", seconds, result)
    logger.info("torch preflight: every node has a converter and imports (%.2f s)", seconds)


def run_torch(run: Run, stage: Stage) -> None:
    def step() -> dict[str, Any]:
        return run.workers.run_torch(
            stage,
            run.path(MODEL_ONNX),
            run.path(INPUTS_NPZ),
            run.path(TORCH_OUTPUTS_NPZ),
            run.path(PROGRAM_OUTPUTS_NPZ),
            run.path(MODEL_PT2),
            run.path(STATE_DICT),
            timeout=run.config.timeout,
            model=run.config.name,
            stage_name="torch",
        )

    result, seconds = timed(step)
    run.record("torch", seconds, result)
    logger.info("torch: %s and %s written (%.2f s)", MODEL_PT2, STATE_DICT, seconds)


def compare_parties(
    run: Run,
    main_parties: Mapping[str, compare.Outputs],
    not_run: Mapping[str, str] | None = None,
) -> tuple[compare.ComparisonResult, dict[str, compare.Outputs]]:
    """Compare ``main_parties`` (outputs computed or read in this process) and torch's two.

    Returns the comparison and every party's outputs.
    """
    parties: dict[str, compare.Outputs] = {}

    def step() -> compare.ComparisonResult:
        parties.update(main_parties)
        parties[compare.TORCH] = load_npz(run.staging.path(TORCH_OUTPUTS_NPZ))
        parties[compare.TORCH_EXPORT] = load_npz(run.staging.path(PROGRAM_OUTPUTS_NPZ))
        pairs = compare.pairs_for(parties)
        config = run.config
        return compare.compare_outputs(
            parties, config.outputs, config.tolerance_for, pairs, not_run
        )

    result, seconds = timed(step)
    run.record("compare", seconds)
    logger.info("compare: %s", result.verdict)
    return result, parties


def recurrent_node(entry: Any) -> RecurrentNode:
    keys = ("node", "op", "path", "reason")
    if not isinstance(entry, Mapping) or not all(isinstance(entry.get(k), str) for k in keys):
        raise ConversionError(
            f"the tensorflow stage reported a recurrent node as {entry!r}; expected a dict "
            f"with string values for {list(keys)}"
        )
    return RecurrentNode(*(entry[k] for k in keys))
