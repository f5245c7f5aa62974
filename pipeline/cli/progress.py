"""The batch's progress display: models done, failed and running, and the time left."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from pipeline.batch.expansion import BatchEntry
from pipeline.batch.outcome import ModelOutcome


def progress_display(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


class BatchProgress:
    """The progress display: models done, failed and running, and the time left."""

    def __init__(self, progress: Progress, console: Console, total: int) -> None:
        self._progress = progress
        self._console = console
        self._lock = threading.Lock()
        self._running: list[str] = []
        self._done = self._failed = 0
        self._task = progress.add_task("batch", total=total, counts=self._counts())

    def started(self, entry: BatchEntry) -> None:
        with self._lock:
            self._running.append(entry.name)
            self._progress.update(self._task, counts=self._counts())

    def finished(self, outcome: ModelOutcome) -> None:
        with self._lock:
            if outcome.name in self._running:
                self._running.remove(outcome.name)
            self._done += 1
            self._failed += not outcome.ok
            self._progress.update(self._task, advance=1, counts=self._counts())
            style = "green" if outcome.ok else "bold red"
            first_line = outcome.reason.splitlines()[0] if outcome.reason else ""
            self._progress.console.print(
                Text(f"{outcome.status:>8} ", style=style)
                + Text(f"{outcome.name} ({outcome.seconds:.1f} s): {first_line}")
            )

    def _counts(self) -> str:
        running = ", ".join(self._running[:4]) + (", ..." if len(self._running) > 4 else "")
        text = f"done {self._done}, failed {self._failed}, running {len(self._running)}"
        return f"{text} ({running})" if running else text
