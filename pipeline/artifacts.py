"""Artifact writes: stage every file beside the output folder, then move each into place.

A run writes its files into a staging folder created next to the output folder (same
filesystem, so ``os.replace`` is an atomic rename), and publishes them only at the end:
one ``os.replace`` per file, ``report.json`` last, so a report always describes the files
beside it. Files an earlier run published and this one does not (named in the earlier
``report.json``) are removed; nothing else in the folder is touched. A failed or
interrupted run publishes nothing and its staging folder is removed; one left by a killed
run (its process gone) is removed by the next run for the same folder.

An output folder that exists must be empty or hold a report this tool wrote: a folder of
someone else's files is refused before anything runs.
"""

from __future__ import annotations

import json
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
        remove_abandoned_staging(self.output_dir)
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
        """Move the staged files ``names`` into the output folder; return their new paths.

        Every file must exist, and no folder may stand where one goes, before anything
        moves, so such a run publishes nothing.
        """
        staging = self.folder
        missing = [name for name in names if not (staging / name).is_file()]
        if missing:
            raise ConversionError(
                f"cannot publish to {self.output_dir}: the run did not write {missing}; "
                "the stage that owns them should have failed with a reason"
            )
        check_output_dir(self.output_dir)
        blocked = [name for name in names if (self.output_dir / name).is_dir()]
        if blocked:
            raise ConversionError(
                f"cannot publish to {self.output_dir}: folders stand where {blocked} go; "
                "remove them or choose another folder (--output-dir)"
            )
        earlier = _published_by_an_earlier_run(self.output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        ordered = sorted(names, key=lambda name: name == MARKER)
        for name in ordered:
            target = self.output_dir / name
            try:
                os.replace(staging / name, target)
            except OSError as error:
                raise ConversionError(
                    f"cannot publish {name} to {self.output_dir}: {error}; remove what is in "
                    "the way or choose another folder (--output-dir)"
                ) from None
        for name in sorted(earlier - set(names)):
            (self.output_dir / name).unlink(missing_ok=True)
        logger.debug("published %s to %s", ordered, self.output_dir)
        return tuple(self.output_dir / name for name in sorted(names))


def check_output_dir(output_dir: Path) -> None:
    """Refuse an output folder that is a file, or a folder of files that are not ours."""
    if not output_dir.exists():
        return
    if not output_dir.is_dir():
        raise ConfigError(
            f"output folder {output_dir} is a file; choose a folder path (--output-dir)"
        )
    if any(output_dir.iterdir()) and _earlier_report(output_dir) is None:
        raise ConfigError(
            f"output folder {output_dir} holds files, but no {MARKER} this tool wrote; "
            "choose a new or empty folder (--output-dir), so that no file of yours is "
            "replaced"
        )


def _earlier_report(output_dir: Path) -> dict | None:
    """The report an earlier run of this tool wrote in ``output_dir``, or ``None``."""
    try:
        report = json.loads((output_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or "pipeline" not in report.get("versions", {}):
        return None
    return report


def _published_by_an_earlier_run(output_dir: Path) -> set[str]:
    report = _earlier_report(output_dir) if output_dir.is_dir() else None
    artifacts = (report or {}).get("artifacts", [])
    return {name for name in artifacts if isinstance(name, str) and Path(name).name == name}


def remove_abandoned_staging(output_dir: Path) -> None:
    """Remove the staging folders for ``output_dir`` of runs whose process no longer exists."""
    parent, name = output_dir.parent, output_dir.name
    if not parent.is_dir():
        return
    owner = re.compile(rf"\.{re.escape(name)}\.staging-(\d+)(?:-.*)?")
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
