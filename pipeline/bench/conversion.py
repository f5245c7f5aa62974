"""One conversion through the real pipeline, in a fresh process, with its memory measured.

Peak resident memory only grows over a process's life, so each model is converted by a
process of its own with workers of its own::

    python -m pipeline.bench.conversion REQUEST.json RESULT.json

The child measures, for each process that takes part (itself, the TF worker, the torch
worker), the baseline (resident memory once its framework and converter libraries are
imported, before any model) and the peak (``VmHWM``) after ``convert_model``. It reads its
stage timings back from the published ``report.json``.

The module imports nothing heavy at its top: spawned workers re-import the main module, and
that must not add to their baseline.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.bench.figures import ProcessMemory, StageCost
from pipeline.bench.models import INPUT_NAME, OUTPUTS, BenchModel

logger = logging.getLogger(__name__)

MEMORY_STAGE = "pipeline.bench.memory:resident_bytes"
BASELINE_STAGE = "pipeline.bench.memory:baseline_after_imports"
TF_IMPORTS = ["pipeline.tf_to_onnx.stage"]
TORCH_IMPORTS = ["pipeline.onnx_to_torch.stage"]
_FRAMEWORKS = frozenset({"tensorflow", "torch", "torchvision", "onnx2torch"})


def run_conversion(model: BenchModel, source: Path, output_dir: Path, timeout: float) -> dict:
    """Convert ``model`` from ``source`` into ``output_dir`` in a child process; its result."""
    request = output_dir.parent / f"{model.name}.request.json"
    result = output_dir.parent / f"{model.name}.result.json"
    request.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)
    payload = {
        "model": model.as_plain(),
        "source": str(source),
        "output_dir": str(output_dir),
        "timeout": timeout,
    }
    request.write_text(json.dumps(payload), encoding="utf-8")
    command = [sys.executable, "-m", "pipeline.bench.conversion", str(request), str(result)]
    completed = subprocess.run(command, check=False, timeout=4 * timeout)
    if not result.is_file():
        return {"error": f"the conversion process exited with status {completed.returncode}"}
    return json.loads(result.read_text(encoding="utf-8"))


def stage_costs(report: dict, convert_seconds: float, worker_start: dict) -> list[StageCost]:
    """The conversion's steps from ``report.json``, in the order of issue #7.

    Steps the pipeline does not time on their own are named with what they include.
    """
    stages = {entry["name"]: entry for entry in report["stages"]}
    tf_stage, torch_stage = stages["tensorflow"], stages["torch"]
    tf_timings, torch_timings = tf_stage["timings"], torch_stage["timings"]
    recorded = sum(entry["seconds"] for entry in report["stages"])
    return [
        StageCost(
            "worker start: spawn + import TF, tf2onnx",
            worker_start.get("tensorflow"),
            "once per worker; paid here by every model",
        ),
        StageCost(
            "worker start: spawn + import torch, onnx2torch",
            worker_start.get("torch"),
            "once per worker; paid here by every model",
        ),
        StageCost("inputs", stages["inputs"]["seconds"]),
        StageCost("load", tf_timings.get("load")),
        StageCost("TF reference run", tf_timings.get("tf_reference"), "one session, cold"),
        StageCost("export (tf2onnx + our handlers)", tf_timings.get("export")),
        StageCost(
            "TF stage: IPC and npz",
            tf_stage["seconds"] - sum(tf_timings.values()),
            "the TF stage's wall time less its three timings",
        ),
        StageCost("check (onnx.checker + shape inference)", stages["onnx_check"]["seconds"]),
        StageCost("onnxruntime run", stages["onnxruntime"]["seconds"], "session creation included"),
        StageCost("torch import (onnx2torch)", torch_timings.get("torch_import")),
        StageCost("torch eager run", torch_timings.get("torch_run"), "one run, cold"),
        StageCost(
            "torch.export",
            torch_timings.get("torch_export"),
            "export, save, load and one run of model.pt2: the pipeline times them as one",
        ),
        StageCost(
            "torch stage: onnx load, IPC, state_dict",
            torch_stage["seconds"] - sum(torch_timings.values()),
            "the torch stage's wall time less its three timings",
        ),
        StageCost("compare", stages["compare"]["seconds"]),
        StageCost(
            "report + publish",
            convert_seconds - recorded,
            "not a pipeline stage record: convert_model's wall time less every recorded stage",
        ),
        StageCost("total (convert_model)", convert_seconds),
    ]


def process_memory(result: dict) -> list[ProcessMemory]:
    """The per-process memory of a conversion's result."""
    return [
        ProcessMemory(process, entry["baseline"], entry["peak"])
        for process, entry in result["memory"].items()
    ]


# ---------------------------------------------------------------------------------------------
# The child process


def _convert(request: dict[str, Any]) -> dict[str, Any]:
    from pipeline.bench.memory import resident_bytes
    from pipeline.config import ModelConfig
    from pipeline.convert import convert_model
    from pipeline.errors import ConversionError
    from pipeline.isolation import Workers

    main_baseline = resident_bytes()["rss"]
    model = BenchModel.from_plain(request["model"])
    config = ModelConfig.model_validate(
        {
            "name": model.name,
            "source": request["source"],
            "inputs": [{"name": INPUT_NAME, "shape": list(model.input_shape)}],
            "outputs": list(OUTPUTS),
            "atol": model.atol,
            "rtol": model.atol,
            "output_dir": request["output_dir"],
            "seed": model.seed,
            "timeout": request["timeout"],
        }
    )
    timeout = request["timeout"]
    with Workers() as workers:
        start = time.perf_counter()
        tf_base = workers.run_tf(BASELINE_STAGE, TF_IMPORTS, timeout=timeout, model=model.name)
        tf_start = time.perf_counter() - start
        start = time.perf_counter()
        torch_base = workers.run_torch(
            BASELINE_STAGE, TORCH_IMPORTS, timeout=timeout, model=model.name
        )
        torch_start = time.perf_counter() - start
        start = time.perf_counter()
        try:
            result = convert_model(config, workers)
        except ConversionError as error:
            return {"error": f"{type(error).__name__}: {error}"}
        convert_seconds = time.perf_counter() - start
        tf_peak = workers.run_tf(MEMORY_STAGE, timeout=timeout, model=model.name)["peak"]
        torch_peak = workers.run_torch(MEMORY_STAGE, timeout=timeout, model=model.name)["peak"]
    report_path = Path(request["output_dir"]) / "report.json"
    return {
        "passed": result.passed,
        "verdict": result.comparison.verdict,
        "report": str(report_path),
        "convert_seconds": convert_seconds,
        "worker_start": {"tensorflow": tf_start, "torch": torch_start},
        "memory": {
            "main": {"baseline": main_baseline, "peak": resident_bytes()["peak"]},
            "tensorflow worker": {"baseline": tf_base["rss_with_imports"], "peak": tf_peak},
            "torch worker": {"baseline": torch_base["rss_with_imports"], "peak": torch_peak},
        },
        "framework_only": {"tensorflow": tf_base["rss"], "torch": torch_base["rss"]},
        "main_imported": sorted(_FRAMEWORKS.intersection(sys.modules)),
    }


def _main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    request_path, result_path = (Path(arg) for arg in argv)
    result = _convert(json.loads(request_path.read_text(encoding="utf-8")))
    result_path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0 if "error" not in result else 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
