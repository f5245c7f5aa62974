"""Resident memory of the calling process, read from ``/proc/self/status`` (Linux).

``VmRSS`` is the resident set now, ``VmHWM`` its high-water mark: the peak since the process
started. Both are read as bytes. Framework-free, so every worker can call it as a stage.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

_STATUS = Path("/proc/self/status")


def resident_bytes() -> dict[str, int]:
    """``{"rss": ..., "peak": ...}`` of this process, in bytes."""
    fields = {}
    for line in _STATUS.read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            number, unit = value.split()
            if unit != "kB":
                raise ValueError(f"{_STATUS}: expected {key} in kB, received {value.strip()!r}")
            fields[key] = int(number) * 1024
    return {"rss": fields["VmRSS"], "peak": fields["VmHWM"]}


def baseline_after_imports(modules: list[str]) -> dict[str, object]:
    """A fresh worker's memory: as started (its framework imported), then after ``modules``.

    Runs as a worker's first task, so ``rss`` is the framework's own footprint and
    ``rss_with_imports`` adds the converter libraries its stage imports.
    """
    started = resident_bytes()
    start = time.perf_counter()
    for module in modules:
        importlib.import_module(module)
    seconds = time.perf_counter() - start
    return {
        "rss": started["rss"],
        "rss_with_imports": resident_bytes()["rss"],
        "import_seconds": seconds,
    }
