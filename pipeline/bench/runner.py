"""Every model through every measurement; returns the run's figures as data.

For each model, in order:

1. the TF worker writes its frozen graph and weights (``graphs``);
2. ``conversion`` converts it with the real pipeline in a fresh process, into
   ``<scratch>/<model>/``, measuring stage times and memory;
3. every party is timed on the conversion's own ``inputs.npz``: TensorFlow in the TF worker,
   the ONNX files in onnxruntime here, the torch parties in the torch worker. Each party's
   first output is checked against TensorFlow's ``h`` (``reference.npz``).

All latency parties use ``threads`` intra-op (and inter-op) threads.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.bench import figures as names
from pipeline.bench.batch import measure_batch
from pipeline.bench.conversion import process_memory, run_conversion, stage_costs
from pipeline.bench.figures import BenchResult, Latency, ModelFigures
from pipeline.bench.machine import describe_machine
from pipeline.bench.models import INPUT_NAME, OUTPUTS, BenchModel
from pipeline.bench.onnx_side import SessionRun, time_sessions, write_hand_built_model
from pipeline.bench.timing import Timing
from pipeline.errors import ConversionError
from pipeline.inputs import load_npz
from pipeline.isolation import Workers

logger = logging.getLogger(__name__)

_TF_SIDE = "pipeline.bench.tf_side"
_TORCH_PARTIES = {
    "onnx2torch": names.OURS_ONNX2TORCH,
    "model.pt2": names.OURS_PT2,
    "nn.LSTM": names.BARE_LSTM,
    "onnx2pytorch": names.ONNX2PYTORCH,
}


@dataclass(frozen=True)
class BenchOptions:
    models: tuple[BenchModel, ...]
    scratch: Path
    threads: int = 1
    timeout: float = 600.0
    quick: bool = False


@dataclass(frozen=True)
class _Paths:
    """Where one model's files are."""

    folder: Path
    source: Path
    weights: Path

    @property
    def artifacts(self) -> Path:
        return self.folder / "artifacts"

    def artifact(self, name: str) -> Path:
        return self.artifacts / name

    def scratch(self, name: str) -> Path:
        return self.folder / name


def run_bench(options: BenchOptions) -> BenchResult:
    """Measure every model of ``options``; see the module docstring."""
    start = time.perf_counter()
    machine = describe_machine()
    results = []
    with Workers() as workers:
        for model in options.models:
            logger.info("%s (%s): building, converting, timing", model.name, model.shape_text)
            results.append(_measure_model(model, options, workers))
        logger.info("batch throughput: building models, running batches")
        batch = measure_batch(
            options.scratch, workers, quick=options.quick, timeout=options.timeout
        )
    return BenchResult(
        models=tuple(results),
        machine=machine,
        threads=options.threads,
        wall_seconds=time.perf_counter() - start,
        quick=options.quick,
        batch=batch,
    )


def _measure_model(model: BenchModel, options: BenchOptions, workers: Workers) -> ModelFigures:
    folder = options.scratch / model.name
    folder.mkdir(parents=True, exist_ok=True)
    paths = _Paths(folder, folder / "source.pb", folder / "weights.npz")
    workers.run_tf(
        "pipeline.bench.graphs:write_source",
        model.as_plain(),
        str(paths.source),
        str(paths.weights),
        timeout=options.timeout,
        model=model.name,
        stage_name="bench graph",
    )
    conversion = run_conversion(model, paths.source, paths.artifacts, options.timeout)
    if "error" in conversion:
        logger.warning("%s: conversion failed: %s", model.name, conversion["error"])
        return ModelFigures(model, error=f"conversion failed: {conversion['error']}")
    report = _read_json(Path(conversion["report"]))
    stages = stage_costs(report, conversion["convert_seconds"], conversion["worker_start"])
    latencies, notes = _latencies(model, paths, options, workers)
    return ModelFigures(
        model,
        latencies=tuple(latencies),
        stages=tuple(stages),
        memory=tuple(process_memory(conversion)),
        verdict=conversion["verdict"],
        notes=tuple(notes),
        memory_notes=tuple(_memory_notes(conversion)),
    )


def _memory_notes(conversion: dict) -> list[str]:
    imported = conversion.get("main_imported") or []
    if not imported:
        return []
    note = (
        f"the main process of the conversion had {', '.join(imported)} imported after "
        "convert_model, though it should import no framework; its peak includes that"
    )
    if "torch" in imported:
        note += (
            ". torch comes in while the torch stage's result is unpickled: its versions hold "
            "torch.__version__, a str subclass of torch's; the import also lands in the torch "
            "stage's untimed remainder"
        )
    return [note]


def _latencies(
    model: BenchModel, paths: _Paths, options: BenchOptions, workers: Workers
) -> tuple[list[Latency], list[str]]:
    inputs = load_npz(paths.artifact("inputs.npz"))
    reference = load_npz(paths.artifact("reference.npz"))["h:0"]
    x = inputs[INPUT_NAME]
    latencies: list[Latency] = []
    notes: list[str] = []

    latencies.append(_tf_latency(model, paths, options, workers))

    onnx_files = {
        names.OURS_ORT: paths.artifact("model.onnx"),
        names.HAND_BUILT: write_hand_built_model(
            model, paths.weights, paths.scratch("hand_built.onnx")
        ),
    }
    feeds = {names.OURS_ORT: {INPUT_NAME: x}, names.HAND_BUILT: {INPUT_NAME: x}}
    if model.has_peer:
        peer = _build_peer(model, paths, options, workers)
        if "error" in peer:
            latencies.append(Latency(names.PEER, None, note=peer["error"]))
        else:
            batch_major = np.ascontiguousarray(x.transpose(1, 0, 2))
            onnx_files[names.PEER] = paths.scratch("peer_keras3.onnx")
            feeds[names.PEER] = {peer["input"]: batch_major}
            onnx_files[names.OURS_KERAS] = paths.scratch("ours_keras3.onnx")
            feeds[names.OURS_KERAS] = {peer["ours_input"]: batch_major}
            notes.append(_peer_note(peer))
    runs = time_sessions(
        onnx_files, feeds, warmup=model.warmup, repeats=model.repeats, threads=options.threads
    )
    for party, run in runs.items():
        latencies.append(_ort_latency(party, run, reference))
    if names.PEER in runs:
        ours = runs[names.OURS_ORT].first_output
        peer_output = _time_major(runs[names.PEER].first_output, reference.shape, batch_major=True)
        notes.append(f"peer vs ours: max |difference| {_max_error(peer_output, ours):.3g}")

    latencies.extend(_torch_latencies(model, paths, options, workers, reference))
    order = {party: index for index, party in enumerate(names.PARTIES)}
    return sorted(latencies, key=lambda entry: order[entry.party]), notes


def _tf_latency(
    model: BenchModel, paths: _Paths, options: BenchOptions, workers: Workers
) -> Latency:
    try:
        timing = workers.run_tf(
            f"{_TF_SIDE}:time_source_graph",
            str(paths.source),
            str(paths.artifact("inputs.npz")),
            list(OUTPUTS),
            model.warmup,
            model.repeats,
            options.threads,
            timeout=options.timeout,
            model=model.name,
            stage_name="TF latency",
        )
    except ConversionError as error:
        return Latency(names.TF_SOURCE, None, note=str(error))
    return Latency(names.TF_SOURCE, timing["median_s"], model.repeats, 0.0, "the reference")


def _build_peer(model: BenchModel, paths: _Paths, options: BenchOptions, workers: Workers) -> dict:
    try:
        return workers.run_tf(
            f"{_TF_SIDE}:build_keras_peer",
            str(paths.weights),
            model.steps,
            model.batch,
            str(paths.scratch("peer_keras3.onnx")),
            str(paths.scratch("ours_keras3.onnx")),
            timeout=options.timeout,
            model=model.name,
            stage_name="tf2onnx peer",
        )
    except ConversionError as error:
        logger.warning("%s: the tf2onnx peer failed: %s", model.name, error)
        return {"error": f"tf2onnx failed on the Keras 3 LSTM: {error}"}


def _peer_note(peer: dict) -> str:
    ops = ", ".join(f"{op} {count}" for op, count in peer["op_counts"].items())
    ours = ", ".join(f"{op} {count}" for op, count in peer["ours_op_counts"].items())
    note = f"peer: Keras {peer['keras']} LSTM via {peer['converter']}; ops: {ops}"
    note += f"; our export of it: {ours}"
    if peer["from_keras_error"]:
        note += f"; from_keras raised {peer['from_keras_error']}"
    return note


def _ort_latency(party: str, run: SessionRun, reference: np.ndarray) -> Latency:
    batch_major = party in (names.PEER, names.OURS_KERAS)
    output = _time_major(run.first_output, reference.shape, batch_major=batch_major)
    return Latency(party, run.timing.median, len(run.timing.samples), _max_error(output, reference))


def _torch_latencies(
    model: BenchModel, paths: _Paths, options: BenchOptions, workers: Workers, reference
) -> list[Latency]:
    outputs_npz = paths.scratch("torch_outputs.npz")
    try:
        result = workers.run_torch(
            "pipeline.bench.torch_side:time_torch_parties",
            model.as_plain(),
            str(paths.artifact("model.onnx")),
            str(paths.artifact("model.pt2")),
            str(paths.weights),
            str(paths.artifact("inputs.npz")),
            str(outputs_npz),
            options.threads,
            timeout=options.timeout,
            model=model.name,
            stage_name="torch latency",
        )
    except ConversionError as error:
        return [Latency(party, None, note=str(error)) for party in _TORCH_PARTIES.values()]
    outputs = load_npz(outputs_npz)
    latencies = []
    for key, party in _TORCH_PARTIES.items():
        if key in result["unavailable"]:
            latencies.append(Latency(party, None, note=result["unavailable"][key]))
            continue
        timing = Timing(tuple(result["timings"][key]["samples_s"]))
        output = _time_major(outputs[key], reference.shape, batch_major=False)
        error = _max_error(output, reference)
        latencies.append(Latency(party, timing.median, len(timing.samples), error))
    return latencies


def _time_major(output: np.ndarray, shape: tuple[int, ...], *, batch_major: bool) -> np.ndarray:
    """``output`` as ``[T, B, H]``: batch-major is transposed, ONNX's ``[T, 1, B, H]`` reshaped."""
    if batch_major:
        output = output.transpose(1, 0, 2)
    return output.reshape(shape)


def _max_error(output: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(output.astype(np.float64) - reference)))


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
