"""PNG plots of the error per time step, one file per sequence output.

matplotlib's object API with the Agg canvas draws each figure on its own (no ``pyplot``,
no global state, no display), so conversions running in threads can plot; a lock keeps
them from drawing at the same time all the same, as matplotlib promises no thread safety.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np

PLOT_PREFIX = "error_per_step_"
ZERO_FLOOR = 1e-10
"""Exact agreement is drawn at this height, since a log scale has no zero."""

_LOCK = threading.Lock()


def plot_file_name(output: str, taken: set[str]) -> str:
    """A file name for ``output``'s plot, unique among ``taken`` (which it joins)."""
    stem = PLOT_PREFIX + re.sub(r"[^A-Za-z0-9_.-]", "_", output)
    name, index = f"{stem}.png", 1
    while name in taken:
        index += 1
        name = f"{stem}_{index}.png"
    taken.add(name)
    return name


def plot_error_per_step(
    path: Path,
    *,
    title: str,
    reference: str,
    curves: Mapping[str, np.ndarray],
    atol: float,
) -> Path:
    """Draw each party's error per step in ``curves`` against ``reference`` into ``path``."""
    # NOTE: matplotlib's font search logs thousands of DEBUG lines into --log-file.
    logging.getLogger("matplotlib").setLevel(logging.INFO)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _LOCK:
        figure = Figure(figsize=(8, 4), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for party, curve in curves.items():
            steps = np.arange(curve.shape[0])
            axes.plot(steps, np.maximum(curve, ZERO_FLOOR), label=f"{reference} vs {party}")
        if atol > 0:
            axes.axhline(atol, color="grey", linestyle="--", linewidth=1, label=f"atol {atol:g}")
        axes.set_yscale("log")
        axes.set_xlabel("time step")
        axes.set_ylabel(f"max |error| over batch and units\n(0 drawn at {ZERO_FLOOR:g})")
        axes.set_title(title)
        axes.grid(True, which="major", alpha=0.3)
        axes.legend(fontsize="small")
        figure.tight_layout()
        figure.savefig(path, format="png")
    return Path(path)
