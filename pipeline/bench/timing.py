"""Latency measurement: warm-up, then repeats interleaved across the parties, then medians.

Parties timed in one process take turns within each round (A, B, C, A, B, C, ...), so a
slow spell of a shared machine hits all of them alike and their ratios stay fair.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """One party's latency samples, in seconds."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def as_plain(self) -> dict[str, object]:
        return {"median_s": self.median, "samples_s": list(self.samples)}


def time_interleaved(
    parties: Mapping[str, Callable[[], object]], *, warmup: int, repeats: int
) -> dict[str, Timing]:
    """Call each party ``warmup`` times untimed, then ``repeats`` timed rounds."""
    if repeats < 1:
        raise ValueError(f"expected at least 1 repeat, received repeats={repeats}")
    for _ in range(warmup):
        for run in parties.values():
            run()
    samples: dict[str, list[float]] = {name: [] for name in parties}
    for _ in range(repeats):
        for name, run in parties.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: Timing(tuple(values)) for name, values in samples.items()}
