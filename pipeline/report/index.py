"""``index.md``: one row per model of a batch, each linking that model's ``report.md``.

Links are relative to the index's folder, so the folder tree can be moved or browsed as
it is. Written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from pipeline.report.markdown import number, table


class OutcomeLike(Protocol):
    """What the index reads from a model's outcome."""

    @property
    def name(self) -> str: ...

    @property
    def config_file(self) -> Path: ...

    @property
    def status(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def seconds(self) -> float: ...

    @property
    def worst_errors(self) -> Mapping[str, float | None]: ...

    @property
    def report_md(self) -> Path | None: ...


def markdown_index(outcomes: Sequence[OutcomeLike], folder: Path, wall_seconds: float) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in counts.items())
    rows = []
    for outcome in outcomes:
        report = outcome.report_md
        name = outcome.name
        if report is not None and report.is_file():
            name = f"[{name}]({_link(report, folder)})"
        worst = ", ".join(f"{pair} {number(v)}" for pair, v in outcome.worst_errors.items())
        rows.append(
            (
                name,
                outcome.status,
                f"{outcome.seconds:.1f}",
                worst or "-",
                _one_line(outcome.reason),
                f"`{_link(outcome.config_file, folder)}`",
            )
        )
    columns = ("model", "status", "seconds", "worst max abs error per pair", "reason", "config")
    lines = [
        "# Batch conversion",
        "",
        f"{len(outcomes)} models in {wall_seconds:.1f} s: {summary or 'none'}.",
        "",
        *table(columns, rows),
    ]
    return "\n".join(lines) + "\n"


def write_index(path: Path, outcomes: Sequence[OutcomeLike], wall_seconds: float) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(
        markdown_index(outcomes, path.resolve().parent, wall_seconds), encoding="utf-8"
    )
    os.replace(temporary, path)
    return path


def _link(target: Path, folder: Path) -> str:
    """A Markdown link destination; ``<...>`` keeps spaces and parentheses in the path."""
    return f"<{Path(os.path.relpath(Path(target).resolve(), folder)).as_posix()}>"


def _one_line(text: str) -> str:
    return " ".join(text.split())
