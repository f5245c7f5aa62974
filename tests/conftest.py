"""Fixtures shared across test folders.

This process never imports TensorFlow: tests that need it run it in the pipeline's own
TensorFlow worker, exactly as the pipeline does.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from pipeline.isolation import Workers


@pytest.fixture(scope="session")
def framework_workers() -> Iterator[Workers]:
    """Real TensorFlow and torch workers, started once for the whole session."""
    with Workers() as workers:
        yield workers


def pytest_collection_finish(session: pytest.Session) -> None:
    """Importing tensorflow here, then torchvision, would segfault this process."""
    if "tensorflow" in sys.modules:
        raise pytest.UsageError(
            "a test module imported tensorflow into the test process; run TensorFlow in the "
            "pipeline's TF worker instead (framework_workers.run_tf)"
        )
