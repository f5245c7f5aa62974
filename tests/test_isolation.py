"""Worker pools: crashes and hangs become errors for one model, and the pool carries on."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from pipeline.errors import (
    SourceError,
    StageFailedError,
    StageTimeoutError,
    WorkerCrashedError,
)
from pipeline.isolation import WorkerPool, Workers
from tests import worker_stand_ins as stand_ins


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool("tensorflow", preload=False)
    yield pool
    pool.close(wait=False)


def run(pool: WorkerPool, stage: object, *args: object, timeout: float = 30) -> object:
    return pool.run(stage, *args, timeout=timeout, model="lstm", stage_name="tensorflow")


def test_a_stage_runs_in_the_worker_and_returns_plain_data(pool: WorkerPool) -> None:
    assert run(pool, stand_ins.add, 2, 3) == 5


def test_a_stage_named_by_module_and_function_is_imported_in_the_worker(
    pool: WorkerPool,
) -> None:
    assert run(pool, "tests.worker_stand_ins:add", 1, 1) == 2


def test_an_abort_becomes_worker_crashed_and_the_pool_serves_the_next_task(
    pool: WorkerPool,
) -> None:
    with pytest.raises(WorkerCrashedError) as error:
        run(pool, stand_ins.abort)
    message = str(error.value)
    assert message.startswith("lstm: SIGABRT: the tensorflow worker aborted the process")
    assert "during the tensorflow stage" in message
    assert "TensorFlow aborts like this" in message
    assert run(pool, stand_ins.add, 4, 4) == 8


def test_a_hanging_stage_times_out_and_the_pool_serves_the_next_task(pool: WorkerPool) -> None:
    with pytest.raises(
        StageTimeoutError, match="lstm: the tensorflow stage ran past its limit of 1 s"
    ):
        run(pool, stand_ins.hang, timeout=1)
    assert run(pool, stand_ins.add, 1, 2) == 3


def test_an_unexpected_exception_crosses_as_stage_failed_with_its_traceback(
    pool: WorkerPool,
) -> None:
    with pytest.raises(StageFailedError) as error:
        run(pool, stand_ins.raise_value_error)
    assert str(error.value) == (
        "lstm: the tensorflow stage failed: ValueError: shape (3,) does not fit (4,)"
    )
    assert "raise_value_error" in error.value.remote_traceback


def test_a_pipeline_error_subclass_crosses_as_its_pipeline_errors_base(pool: WorkerPool) -> None:
    with pytest.raises(SourceError, match="node 'lstm' cannot be read") as error:
        run(pool, stand_ins.raise_exporter_error)
    assert type(error.value) is SourceError


def test_a_result_that_is_not_plain_data_is_refused(pool: WorkerPool) -> None:
    with pytest.raises(StageFailedError, match=r"builtins.object at result\['bad'\]"):
        run(pool, stand_ins.return_an_object)


def test_str_subclasses_cross_as_plain_str_so_unpickling_imports_nothing(
    pool: WorkerPool,
) -> None:
    result = run(pool, stand_ins.return_a_str_subclass)

    assert type(result["versions"]["torch"]) is str
    assert result == {"versions": {"torch": "2.14.1"}, "count": True}


def test_a_framework_that_fails_to_import_is_reported_by_the_task() -> None:
    pool = WorkerPool("no_such_framework_for_tests")
    try:
        with pytest.raises(StageFailedError, match="could not import no_such_framework_for_tests"):
            run(pool, stand_ins.add, 1, 1)
    finally:
        pool.close(wait=False)


def test_the_main_process_imports_no_framework() -> None:
    code = (
        "import sys, pipeline.cli, pipeline.convert;"
        "print(sorted(m for m in ('tensorflow', 'torch', 'torchvision') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_tensorflow_and_torchvision_load_in_their_own_workers_without_clashing() -> None:
    with Workers() as workers:
        loaded = workers.run_tf(stand_ins.loaded_frameworks, timeout=120, model="m")
        assert loaded == ["tensorflow"]
        assert workers.run_torch(stand_ins.import_torchvision, timeout=120, model="m")
        assert workers.run_tf(stand_ins.loaded_frameworks, timeout=120, model="m") == loaded


def test_a_worker_that_dies_while_importing_its_framework_is_reported_and_replaced() -> None:
    pool = WorkerPool("tests.crash_on_import")
    try:
        with pytest.raises(WorkerCrashedError, match="lstm: the tests.crash_on_import worker died"):
            run(pool, stand_ins.add, 1, 1)
        with pytest.raises(WorkerCrashedError):
            run(pool, stand_ins.add, 1, 1)
    finally:
        pool.close(wait=False)


def test_a_stage_module_that_cannot_be_imported_is_a_stage_failure(pool: WorkerPool) -> None:
    with pytest.raises(StageFailedError, match="ModuleNotFoundError: No module named 'nowhere'"):
        run(pool, "nowhere.stage:run")


def test_stopping_the_pool_releases_a_thread_waiting_on_a_running_stage() -> None:
    pool = WorkerPool("tensorflow", preload=False)
    errors: list[BaseException] = []

    def wait_on_a_hanging_stage() -> None:
        try:
            run(pool, stand_ins.hang, timeout=600)
        except BaseException as error:  # the test asserts on it below
            errors.append(error)

    waiter = threading.Thread(target=wait_on_a_hanging_stage)
    waiter.start()
    time.sleep(3)  # the worker has started and is running the stage
    started = time.perf_counter()
    pool.close(wait=False)
    waiter.join(timeout=30)

    assert not waiter.is_alive()
    assert time.perf_counter() - started < 30
    assert [type(error) for error in errors] == [StageFailedError]
    assert "cancelled" in str(errors[0])
    with pytest.raises(StageFailedError, match="workers are stopped"):
        run(pool, stand_ins.add, 1, 1)
