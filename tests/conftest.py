"""Fixtures shared across test folders.

This process never imports TensorFlow: tests that need it run it in the pipeline's own
TensorFlow worker, exactly as the pipeline does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.isolation import Workers


@pytest.fixture(scope="session")
def framework_workers() -> Iterator[Workers]:
    """Real TensorFlow and torch workers, started once for the whole session."""
    with Workers() as workers:
        yield workers
