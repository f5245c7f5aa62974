"""The one place that knows each framework runs in a process of its own.

Two facts force this. With these wheels, importing tensorflow and then torchvision in one
process segfaults; and TensorFlow 2.21 aborts the whole process on some malformed graphs
(``BlockLSTM`` fed a ``seq_len_max`` above the step count). So the main process imports
neither framework. Each stage runs in a worker of a ``pebble`` process pool:

- one pool per framework, started with ``spawn`` (a clean interpreter, nothing inherited);
- an initializer imports the framework once per worker, so a batch pays for it once;
- stages are named ``"module:function"`` and imported inside the worker, so the main process
  never imports a module that imports a framework;
- arguments and results are plain data (paths, strings, numbers, lists, dicts); arrays cross
  as ``.npz`` files written by one side and read by the other;
- a worker that dies becomes ``WorkerCrashedError`` naming the model, the stage and the
  signal; a stage past its time limit becomes ``StageTimeoutError``. Either way pebble
  replaces the worker and the pool serves the next model;
- a pool may hold several workers (``max_workers``), so a batch converts several models at
  once; ``run`` may be called from several threads;
- workers log to stderr at the main process's level, and with ``log_file`` also append their
  full DEBUG detail to that file.
"""

from __future__ import annotations

import functools
import importlib
import logging
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import BrokenExecutor, CancelledError
from types import TracebackType
from typing import Any

import numpy as np
from pebble import ProcessExpired, ProcessPool

from pipeline import errors
from pipeline.errors import ConversionError, StageFailedError, StageTimeoutError, WorkerCrashedError

logger = logging.getLogger(__name__)

Stage = str | Callable[..., Any]
"""A stage: ``"package.module:function"`` (imported in the worker) or a picklable function."""

_SIGNAL_MEANINGS = {
    signal.SIGABRT: "aborted the process",
    signal.SIGSEGV: "crashed with a segmentation fault in native code",
    signal.SIGKILL: "was killed, often by the out-of-memory killer",
    signal.SIGBUS: "crashed with a bus error in native code",
    signal.SIGILL: "hit an illegal instruction in native code",
}

_FRAMEWORK_HINTS = {
    "tensorflow": (
        "TensorFlow aborts like this on some malformed graphs or inputs (e.g. BlockLSTM fed "
        "seq_len_max greater than the step count); check the model's inputs and pinned values"
    ),
    "torch": "check the ONNX model the torch stage imported, and its inputs",
}

# Exit codes of a native abort or crash, after which the framework hints apply.
_NATIVE_CRASH_CODES = (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS, -signal.SIGILL)

# Set by a worker's initializer when the framework fails to import; raised by every task.
_startup_error: str | None = None


# ---------------------------------------------------------------------------------------------
# Worker side


_WORKER_FORMAT = "%(levelname)s %(name)s: %(message)s"
LOG_FILE_FORMAT = "%(asctime)s %(processName)s %(levelname)s %(name)s: %(message)s"


def _start_worker(framework: str | None, log_level: int, log_file: str | None = None) -> None:
    """Pool initializer: set logging up and import the framework once.

    It never raises: pebble replaces a worker whose initializer fails, forever, without
    telling the task. The failure is kept and reported by the first task instead.
    """
    global _startup_error
    _configure_worker_logging(log_level, log_file)
    if framework is None:
        return
    try:
        if framework == "tensorflow":
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        importlib.import_module(framework)
    except Exception as error:  # reported by the first task, see the docstring
        _startup_error = f"the {framework} worker could not import {framework}: {error!r}"


def _configure_worker_logging(log_level: int, log_file: str | None) -> None:
    console = logging.StreamHandler()
    console.setLevel(log_level)
    console.setFormatter(logging.Formatter(_WORKER_FORMAT))
    root = logging.getLogger()
    root.addHandler(console)
    root.setLevel(log_level)
    if log_file is not None:
        # Appends of one short line are atomic, so every process may share the file.
        detail = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        detail.setFormatter(logging.Formatter(LOG_FILE_FORMAT))
        root.addHandler(detail)
        root.setLevel(logging.DEBUG)


def _run_stage(stage: Stage, args: tuple[Any, ...]) -> Any:
    """Run ``stage`` in the worker and make sure only plain data and our errors cross back.

    An exception of another type could need its framework to unpickle in the main process,
    so it crosses as a ``StageFailedError`` carrying its type, message and traceback.
    """
    if _startup_error is not None:
        raise StageFailedError(_startup_error)
    try:
        result = _resolve(stage)(*args)
    except ConversionError as error:
        raise _as_plain_error(error) from None
    except Exception as error:
        raise StageFailedError(f"{type(error).__name__}: {error}", traceback.format_exc()) from None
    return _plain(result, "result")


def _resolve(stage: Stage) -> Callable[..., Any]:
    if callable(stage):
        return stage
    module_name, _, function_name = stage.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def _as_plain_error(error: ConversionError) -> ConversionError:
    # The nearest class from pipeline.errors, so unpickling imports nothing but that module.
    for cls in type(error).__mro__:
        if cls.__module__ == errors.__name__ and issubclass(cls, ConversionError):
            return cls(str(error))
    return ConversionError(str(error))


def _plain(value: Any, where: str) -> Any:
    # NOTE: subclasses become their base type: torch.__version__ is a str subclass whose
    # pickle would import torch into the main process.
    if value is None or isinstance(value, bool):
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(key): _plain(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise StageFailedError(
        f"the stage returned a {type(value).__module__}.{type(value).__name__} at {where}; "
        "stages must return plain data (str, numbers, lists, dicts) and write arrays to files"
    )


# ---------------------------------------------------------------------------------------------
# Main side


class WorkerPool:
    """A pool of worker processes for one framework, kept alive across models."""

    def __init__(
        self,
        framework: str,
        *,
        preload: bool = True,
        max_workers: int = 1,
        log_level: int = logging.WARNING,
        log_file: str | None = None,
    ) -> None:
        self.framework = framework
        self.max_workers = max_workers
        self._new_pool = functools.partial(
            ProcessPool,
            max_workers=max_workers,
            initializer=_start_worker,
            initargs=(framework if preload else None, log_level, log_file),
            context=multiprocessing.get_context("spawn"),
        )
        self._pool = self._new_pool()
        self._lock = threading.Lock()
        self._closed = False
        self._running: set[Any] = set()

    def run(self, stage: Stage, *args: Any, timeout: float, model: str, stage_name: str) -> Any:
        """Run ``stage(*args)`` in a worker and return its result; ``timeout`` in seconds.

        ``model`` and ``stage_name`` only label errors.
        """
        logger.debug("%s worker: running %s for %s", self.framework, stage_name, model)
        with self._lock:
            if self._closed:
                raise StageFailedError(
                    f"{model}: the {stage_name} stage was not started: the workers are stopped"
                )
            future = self._pool.schedule(_run_stage, args=(stage, args), timeout=timeout)
            self._running.add(future)
        try:
            return future.result()
        except ProcessExpired as error:
            raise WorkerCrashedError(self._crash_message(error, model, stage_name)) from None
        except BrokenExecutor:
            # Every worker died before taking the task, as when importing the framework
            # crashes natively; pebble then refuses new tasks, so start a fresh pool.
            self._replace_broken_pool()
            raise WorkerCrashedError(
                f"{model}: the {self.framework} worker died while starting, before the "
                f"{stage_name} stage began; run `python -c 'import {self.framework}'` to see "
                "whether importing it crashes"
            ) from None
        except TimeoutError:
            raise StageTimeoutError(
                f"{model}: the {stage_name} stage ran past its limit of {timeout:g} s and its "
                f"{self.framework} worker was stopped; raise `timeout` if the model is "
                "just slow"
            ) from None
        except CancelledError:
            raise StageFailedError(f"{model}: the {stage_name} stage was cancelled") from None
        except StageFailedError as error:
            raise StageFailedError(
                f"{model}: the {stage_name} stage failed: {error.args[0]}", *error.args[1:]
            ) from None
        finally:
            with self._lock:
                self._running.discard(future)

    def _replace_broken_pool(self) -> None:
        with self._lock:
            if self._closed or self._pool.active:
                return  # closed, or another thread has replaced it already
            self._pool.stop()
            self._pool.join()
            self._pool = self._new_pool()

    def _crash_message(self, error: ProcessExpired, model: str, stage_name: str) -> str:
        code = error.exitcode
        message = f"{model}: the {self.framework} worker exited with status {code}"
        if code is not None and code < 0:
            signum = signal.Signals(-code)
            what = _SIGNAL_MEANINGS.get(signum, "was killed by a signal")
            message = f"{model}: {signum.name}: the {self.framework} worker {what}"
        message += f" during the {stage_name} stage."
        if code in _NATIVE_CRASH_CODES and self.framework in _FRAMEWORK_HINTS:
            message += f" {_FRAMEWORK_HINTS[self.framework]}."
        return message

    def close(self, *, wait: bool = True) -> None:
        """Stop the workers; ``wait=False`` stops running tasks too. A second call does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            running = list(self._running)
        if not wait:
            # Threads waiting on these tasks get CancelledError instead of waiting forever.
            for future in running:
                future.cancel()
        if wait:
            self._pool.close()
        else:
            self._pool.stop()
        self._pool.join()


class Workers:
    """The TensorFlow and torch worker pools, as a context manager.

    ``preload=False`` starts bare workers (for stages that import their framework
    themselves, and for tests). Workers start on first use. ``max_workers`` is the number of
    workers of each pool: a batch converting N models at once needs N of each.
    """

    def __init__(
        self,
        *,
        preload: bool = True,
        max_workers: int = 1,
        log_level: int = logging.WARNING,
        log_file: str | None = None,
    ) -> None:
        options = dict(
            preload=preload, max_workers=max_workers, log_level=log_level, log_file=log_file
        )
        self.tensorflow = WorkerPool("tensorflow", **options)
        self.torch = WorkerPool("torch", **options)

    def run_tf(
        self, stage: Stage, *args: Any, timeout: float, model: str, stage_name: str = "tensorflow"
    ) -> Any:
        """Run a stage in the TensorFlow worker."""
        return self.tensorflow.run(
            stage, *args, timeout=timeout, model=model, stage_name=stage_name
        )

    def run_torch(
        self, stage: Stage, *args: Any, timeout: float, model: str, stage_name: str = "torch"
    ) -> Any:
        """Run a stage in the torch worker."""
        return self.torch.run(stage, *args, timeout=timeout, model=model, stage_name=stage_name)

    def close(self, *, wait: bool = True) -> None:
        self.tensorflow.close(wait=wait)
        self.torch.close(wait=wait)

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_traceback: TracebackType | None,
    ) -> None:
        self.close(wait=exc_type is None)
