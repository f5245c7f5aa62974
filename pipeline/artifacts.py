"""Atomic artifact writes: stage the whole output folder beside it, then swap it into place.

A run writes its files into a staging folder created next to the output folder (same
filesystem, so ``os.replace`` is an atomic rename). ``publish`` removes the scratch files,
moves an earlier run's folder aside, renames the staging folder into its place and only then
deletes the earlier folder, so readers see the old artifacts or the new ones, never a mix.
A failed or interrupted run publishes nothing and its staging folder is removed; one left by
a killed run (its process gone) is removed by the next run for the same folder.

An output folder that exists must be an earlier run's (it holds ``report.json``) or empty:
a folder of the user's own files is refused before anything runs, never replaced.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from pipeline.errors import ConfigError, ConversionError

logger = logging.getLogger(__name__)

MARKER = "report.json"


class ArtifactStaging:
    """Context manager owning one run's staging folder for ``output_dir``.

    ``path(name)`` gives where to write a file; ``publish(names)`` makes those files the
    content of ``output_dir``. Files left in staging (scratch outputs) are not published.
    """

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = Path(output_dir)
        self._staging: Path | None = None

    def __enter__(self) -> ArtifactStaging:
        check_output_dir(self.output_dir)
        parent = self.output_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_staging(parent, self.output_dir.name)
        prefix = f".{self.output_dir.name}.staging-{os.getpid()}-"
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
        """Make the staged files ``names`` the output folder's content; return their paths.

        Every file must exist before anything moves, so a missing one publishes nothing.
        """
        staging = self.folder
        missing = [name for name in names if not (staging / name).is_file()]
        if missing:
            raise ConversionError(
                f"cannot publish to {self.output_dir}: the run did not write {missing}; "
                "the stage that owns them should have failed with a reason"
            )
        for entry in staging.iterdir():
            if entry.name not in names:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        check_output_dir(self.output_dir)
        _swap_into_place(staging, self.output_dir)
        self._staging = None
        logger.debug("published %s to %s", sorted(names), self.output_dir)
        return tuple(self.output_dir / name for name in sorted(names))


def check_output_dir(output_dir: Path) -> None:
    """Refuse an output folder that is a file, or a folder of files that are not ours."""
    if not output_dir.exists():
        return
    if not output_dir.is_dir():
        raise ConfigError(
            f"output folder {output_dir} is a file; choose a folder path (--output-dir)"
        )
    if any(output_dir.iterdir()) and not (output_dir / MARKER).is_file():
        raise ConfigError(
            f"output folder {output_dir} holds files that no run of this tool wrote (it has "
            f"no {MARKER}); a run replaces its output folder whole, so choose a new or empty "
            "folder (--output-dir), or remove that one"
        )


def _swap_into_place(staging: Path, output_dir: Path) -> None:
    previous = None
    if output_dir.exists():
        previous = output_dir.with_name(f".{output_dir.name}.previous-{os.getpid()}")
        os.replace(output_dir, previous)
    try:
        os.replace(staging, output_dir)
    except OSError as error:
        if previous is not None:
            os.replace(previous, output_dir)
        raise ConversionError(
            f"cannot publish to {output_dir}: {error}; the earlier artifacts are kept"
        ) from None
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _remove_abandoned_staging(parent: Path, name: str) -> None:
    """Remove staging and set-aside folders of runs whose process no longer exists."""
    owner = re.compile(rf"\.{re.escape(name)}\.(?:staging|previous)-(\d+)(?:-.*)?")
    for folder in parent.iterdir():
        match = owner.fullmatch(folder.name)
        if match and not _is_running(int(match.group(1))):
            logger.info("removing %s, left by a run that was killed", folder)
            shutil.rmtree(folder, ignore_errors=True)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
