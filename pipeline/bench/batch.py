"""Batch throughput: what the shared workers save, and what a rerun costs.

Builds ``count`` example-sized BlockLSTM graphs (different weights), writes them as one
config file of several models, and times four commands, each a fresh process, as a user
runs them:

1. ``python -m pipeline convert`` of one of them alone: every import paid for one model;
2. ``python -m pipeline batch --jobs 1 --force``: one worker of each framework;
3. ``python -m pipeline batch --jobs 2 --force``: two of each; this is the first run;
4. ``python -m pipeline batch --jobs 2``: the immediate rerun, which skips every model.

Per-model time is the command's wall time divided by the models it converted.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from pipeline.isolation import Workers
from pipeline.sources.example import EXAMPLE, BlockLstmSpec

logger = logging.getLogger(__name__)

QUICK_SPEC = BlockLstmSpec(input_size=8, hidden_size=16, steps=5)


@dataclass(frozen=True)
class BatchFigures:
    """Wall seconds of each command; ``error`` says why a figure is missing."""

    models: int
    model_shape: str
    alone: float | None = None
    one_job: float | None = None
    two_jobs: float | None = None
    rerun: float | None = None
    error: str = ""


def measure_batch(
    scratch: Path, workers: Workers, *, quick: bool, timeout: float, count: int = 6
) -> BatchFigures:
    spec = QUICK_SPEC if quick else EXAMPLE
    shape = f"{spec.input_size}->{spec.hidden_size}, {spec.steps} steps, batch {spec.batch}"
    folder = scratch / "batch"
    configs = _write_models(folder, workers, spec, count, timeout)
    commands = {
        "alone": ["convert", str(configs / "alone.yaml")],
        "one_job": ["batch", str(configs / "models.yaml"), "--jobs", "1", "--force"],
        "two_jobs": ["batch", str(configs / "models.yaml"), "--jobs", "2", "--force"],
        "rerun": ["batch", str(configs / "models.yaml"), "--jobs", "2"],
    }
    seconds: dict[str, float] = {}
    for key, arguments in commands.items():
        if key != "alone":
            arguments += ["--index", str(folder / "out" / "index.md")]
        wall, status = _timed_command([*arguments, "-q"], 8 * timeout)
        logger.info("batch throughput: %s took %.1f s (exit %d)", key, wall, status)
        if status != 0:
            error = f"`python -m pipeline {' '.join(arguments)}` exited with {status}"
            return BatchFigures(count, shape, error=error, **seconds)
        seconds[key] = wall
    return BatchFigures(count, shape, **seconds)


def _write_models(
    folder: Path, workers: Workers, spec: BlockLstmSpec, count: int, timeout: float
) -> Path:
    configs = folder / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    models = []
    for index in range(count):
        source = folder / "graphs" / f"lstm_{index}.pb"
        workers.run_tf(
            "pipeline.sources.example:write_block_lstm_graph",
            replace(spec, seed=index),
            str(source),
            timeout=timeout,
            model=f"batch lstm_{index}",
            stage_name="bench graph",
        )
        models.append(
            {"name": f"lstm_{index}", "source": f"../graphs/{source.name}",
             "output_dir": f"../out/lstm_{index}"}
        )  # fmt: skip
    shapes = spec.input_shapes()
    defaults = {
        "inputs": [{"name": name, "shape": shapes[name]} for name in spec.input_names],
        "outputs": spec.output_names,
        "timeout": timeout,
    }
    text = yaml.safe_dump({"defaults": defaults, "models": models}, sort_keys=False)
    (configs / "models.yaml").write_text(text, encoding="utf-8")
    alone = {**defaults, **models[0], "name": "alone", "output_dir": "../out/alone"}
    (configs / "alone.yaml").write_text(yaml.safe_dump(alone), encoding="utf-8")
    return configs


def _timed_command(arguments: list[str], timeout: float) -> tuple[float, int]:
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if completed.returncode != 0:
        logger.warning("batch throughput: %s", completed.stderr[-2000:])
    return time.perf_counter() - start, completed.returncode
