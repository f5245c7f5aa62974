"""Atomic artifact writes: stage every file beside the output folder, then move it into place.

A run writes its files into a staging folder created next to the output folder (same
filesystem, so ``os.replace`` is an atomic rename), and publishes them only at the end,
one ``os.replace`` per file, ``report.json`` last. A failed or interrupted run never
publishes, so it leaves no half-written file, and its staging folder is removed. Files of an
earlier run in the output folder stay until a later run replaces them.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from pipeline.errors import ConversionError

logger = logging.getLogger(__name__)

PUBLISHED_LAST = "report.json"


class ArtifactStaging:
    """Context manager owning one run's staging folder for ``output_dir``.

    ``path(name)`` gives where to write a file; ``publish(names)`` moves those files into
    ``output_dir``. Files left in staging (scratch outputs) are removed with it on exit.
    """

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = Path(output_dir)
        self._staging: Path | None = None

    def __enter__(self) -> ArtifactStaging:
        parent = self.output_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{self.output_dir.name}.staging-"
        self._staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        logger.debug("staging artifacts in %s", self._staging)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_traceback: TracebackType | None,
    ) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    @property
    def folder(self) -> Path:
        if self._staging is None:
            raise RuntimeError("ArtifactStaging is used outside its `with` block")
        return self._staging

    def path(self, name: str) -> Path:
        """Where to write the file ``name`` during the run."""
        return self.folder / name

    def publish(self, names: Sequence[str]) -> tuple[Path, ...]:
        """Move the staged files ``names`` into the output folder; return their new paths.

        Every file must exist before any is moved, so a missing one publishes nothing.
        """
        missing = [name for name in names if not self.path(name).is_file()]
        if missing:
            raise ConversionError(
                f"cannot publish to {self.output_dir}: the run did not write {missing}; "
                "the stage that owns them should have failed with a reason"
            )
        self.output_dir.mkdir(parents=True, exist_ok=True)
        ordered = sorted(names, key=lambda name: name == PUBLISHED_LAST)
        published = []
        for name in ordered:
            target = self.output_dir / name
            os.replace(self.path(name), target)
            published.append(target)
        logger.debug("published %s to %s", ordered, self.output_dir)
        return tuple(published)
