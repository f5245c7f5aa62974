"""Run a batch: plan which models need converting, then convert up to ``jobs`` at once.

``plan_batch`` hashes each model's inputs and reads its last report (``state``), before
any worker starts, so the caller can size its pools by the work left: a rerun with nothing
to convert starts no framework at all.

``run_batch`` takes the plan and a ``Workers`` whose TensorFlow and torch pools hold
``jobs`` workers each. ``jobs`` threads each take the next model and drive it through
``convert_model``, so every worker imports its framework once and serves many models. The
threads wait on the workers most of the time; the main-process steps (onnx checks,
onnxruntime, the comparison, the reports) overlap with other models' framework stages.

For each model, in the order of the plan:

- an entry without a config (invalid, or its file missing) is ``failed`` at once;
- an up-to-date model is ``skipped`` (or stays ``mismatch``, see ``outcome.STATUSES``);
- otherwise it is converted: ``passed``, ``mismatch``, or ``failed`` with the error's
  message. A crash or a timeout is such an error: pebble replaces the worker, and the batch
  goes on.

On ``KeyboardInterrupt`` the models not started are cancelled, the workers are stopped (so
the running conversions fail and publish nothing), and the interrupt goes on up. Finished
models keep their published artifacts, so a rerun resumes where this one stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.artifacts import remove_abandoned_staging
from pipeline.batch import outcome as outcomes
from pipeline.batch.expansion import BatchEntry
from pipeline.batch.outcome import ModelOutcome
from pipeline.batch.state import up_to_date_report
from pipeline.convert import StageTargets, convert_model
from pipeline.convert.fingerprint import fingerprint
from pipeline.convert.run import DEFAULT_TARGETS
from pipeline.errors import ConversionError
from pipeline.isolation import Workers

logger = logging.getLogger(__name__)


class BatchListener(Protocol):
    """Told of each model as it starts and as it ends, from the thread that runs it."""

    def started(self, entry: BatchEntry) -> None: ...

    def finished(self, outcome: ModelOutcome) -> None: ...


class _Silent:
    def started(self, entry: BatchEntry) -> None:
        pass

    def finished(self, outcome: ModelOutcome) -> None:
        pass


@dataclass(frozen=True)
class PlannedModel:
    """One entry, its content hash, and its last report if that still stands."""

    entry: BatchEntry
    fingerprint: dict[str, Any] | None = None
    standing_report: dict[str, Any] | None = None

    @property
    def needs_conversion(self) -> bool:
        return self.entry.config is not None and self.standing_report is None


def plan_batch(entries: Sequence[BatchEntry], *, force: bool = False) -> tuple[PlannedModel, ...]:
    """Each entry with what ``run_batch`` needs to know; ``force`` lets no report stand."""
    plan = []
    for entry in entries:
        if entry.config is None:
            plan.append(PlannedModel(entry))
            continue
        try:
            content = fingerprint(entry.config)
        except OSError as error:  # the source went away since validation: convert_model says
            logger.debug("%s: cannot hash its files: %s", entry.name, error)
            plan.append(PlannedModel(entry))
            continue
        remove_abandoned_staging(entry.config.output_dir)  # also for models left as they are
        standing = None if force else up_to_date_report(entry.config, content)
        plan.append(PlannedModel(entry, content, standing))
    left = sum(planned.needs_conversion for planned in plan)
    logger.info("batch: %d models, %d to convert", len(plan), left)
    return tuple(plan)


def run_batch(
    plan: Sequence[PlannedModel],
    workers: Workers,
    *,
    jobs: int,
    targets: StageTargets = DEFAULT_TARGETS,
    listener: BatchListener | None = None,
) -> tuple[ModelOutcome, ...]:
    """Every planned model's outcome, in the order of ``plan`` (see the module docstring)."""
    listener = listener or _Silent()
    start = time.perf_counter()
    executor = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="model")
    futures: dict[Future[ModelOutcome], int] = {}
    results: list[ModelOutcome | None] = [None] * len(plan)
    try:
        for index, planned in enumerate(plan):
            task = executor.submit(_run_one, planned, workers, targets, listener)
            futures[task] = index
        for task in as_completed(futures):
            results[futures[task]] = task.result()
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        workers.close(wait=False)
        raise
    executor.shutdown()
    finished = tuple(result for result in results if result is not None)
    counts = {status: sum(o.status == status for o in finished) for status in outcomes.STATUSES}
    logger.info(
        "batch: %d models in %.1f s: %s",
        len(finished),
        time.perf_counter() - start,
        ", ".join(f"{count} {status}" for status, count in counts.items()),
    )
    return finished


def _run_one(
    planned: PlannedModel, workers: Workers, targets: StageTargets, listener: BatchListener
) -> ModelOutcome:
    listener.started(planned.entry)
    result = _convert_or_skip(planned, workers, targets, time.perf_counter())
    listener.finished(result)
    return result


def _convert_or_skip(
    planned: PlannedModel, workers: Workers, targets: StageTargets, start: float
) -> ModelOutcome:
    entry, config = planned.entry, planned.entry.config
    if config is None:
        logger.warning("%s: not converted: %s", entry.name, entry.error)
        return outcomes.from_error(entry, entry.error)
    if planned.standing_report is not None:
        logger.info("%s: up to date, not converted again (%s)", entry.name, config.output_dir)
        return outcomes.from_report(entry, planned.standing_report, time.perf_counter() - start)
    try:
        result = convert_model(config, workers, targets, planned.fingerprint)
    except (ConversionError, OSError) as error:
        seconds = time.perf_counter() - start
        logger.warning("%s: failed after %.1f s: %s", entry.name, seconds, error)
        return outcomes.from_error(entry, str(error), seconds)
    except Exception as error:  # a bug of ours must not take the other models down
        seconds = time.perf_counter() - start
        logger.exception("%s: failed after %.1f s with an unexpected error", entry.name, seconds)
        return outcomes.from_error(entry, f"unexpected {type(error).__name__}: {error}", seconds)
    seconds = time.perf_counter() - start
    logger.info("%s: %s in %.1f s", entry.name, result.comparison.verdict, seconds)
    return outcomes.from_result(entry, result, seconds)
