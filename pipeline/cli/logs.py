"""Logging for a command: levels from ``-v``/``-q``, ``--log-file``, and SIGTERM as Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from pipeline.isolation import LOG_FILE_FORMAT

_CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def configured_logging(
    verbose: int, quiet: bool, log_file: Path | None, default: int
) -> Iterator[int]:
    """Log to stderr at the level asked for, and all of it to ``log_file``; yields the level.

    ``default`` is the level without ``-v``/``-q``: INFO for ``convert``, WARNING for
    ``batch`` (whose progress display says what runs). Each ``-v`` is one level more.
    """
    levels = (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG)
    if quiet:
        level = levels[levels.index(default) - 1]
    else:
        level = levels[min(levels.index(default) + verbose, len(levels) - 1)]
    root = logging.getLogger()
    added: list[logging.Handler] = []
    if not root.handlers:  # as logging.basicConfig: a host that set logging up keeps it
        console = _StderrHandler()
        console.setFormatter(logging.Formatter(_CONSOLE_FORMAT))
        console.setLevel(level)
        added.append(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        detail = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        detail.setFormatter(logging.Formatter(LOG_FILE_FORMAT))
        added.append(detail)
    previous_level = root.level
    for handler in added:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if log_file is not None else level)
    try:
        yield level
    finally:
        for handler in added:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(previous_level)


class _StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is at each record, so rich's live display stays last."""

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stderr)
        super().emit(record)


def log_file_of(args: argparse.Namespace) -> str | None:
    return None if args.log_file is None else str(args.log_file.resolve())


def interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so staging folders and workers are cleaned up.
    raise KeyboardInterrupt
