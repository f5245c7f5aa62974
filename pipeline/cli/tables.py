"""What a command prints: errors, the comparison table, the batch summary and verdict."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.batch import outcome as outcomes
from pipeline.batch.outcome import ModelOutcome
from pipeline.convert import ConversionResult
from pipeline.errors import ConversionError, StageFailedError
from pipeline.validate.compare import OutputComparison

_PIPED_WIDTH = 160


def print_error(error: ConversionError, *, verbose: bool) -> None:
    if verbose:
        traceback.print_exception(error, file=sys.stderr)
        if isinstance(error, StageFailedError) and error.remote_traceback:
            print("worker traceback:\n" + error.remote_traceback, file=sys.stderr)
    print(f"error: {error}", file=sys.stderr)


def print_result(result: ConversionResult) -> None:
    # soft_wrap: lines longer than the terminal stay single lines (the verdict above all).
    # Piped output gets room for the table instead of rich's default of 80 columns.
    width = None if sys.stdout.isatty() else _PIPED_WIDTH
    console = Console(highlight=False, soft_wrap=True, width=width)
    console.print(_comparison_table(result))
    for party, reason in result.comparison.not_run.items():
        console.print(Text(f"Not run: {party} - {reason}", style="yellow"))
    console.print(Text("Recurrent nodes:", style="bold"))
    if not result.recurrent_nodes:
        console.print(Text("  none"))
    for node in result.recurrent_nodes:
        console.print(Text(f"  {node.node} ({node.op}): {node.path} - {node.reason}"))
    names = ", ".join(path.name for path in result.artifacts)
    console.print(Text(f"Artifacts in {result.output_dir}: {names}"))
    verdict = result.comparison.verdict
    console.print(Text(verdict, style="bold green" if result.passed else "bold red"))


def _comparison_table(result: ConversionResult) -> Table:
    table = Table(title=f"{result.config.name}: outputs compared pair by pair")
    for column in ("output", "pair", "shapes", "max abs", "max rel", "atol/rtol", "result"):
        table.add_column(column)
    for row in result.comparison.rows:
        cells = (
            row.output,
            row.pair,
            _shapes(row),
            number(row.max_abs_error),
            number(row.max_rel_error),
            f"{row.atol:g}/{row.rtol:g}",
        )
        outcome = Text("PASS", style="green") if row.passed else Text("FAIL", style="bold red")
        table.add_row(*(Text(cell) for cell in cells), outcome)
    for party in result.comparison.not_run:
        cells = ("all", party, "-", "-", "-", "-")
        table.add_row(*(Text(cell) for cell in cells), Text("NOT RUN", style="yellow"))
    return table


def _shapes(row: OutputComparison) -> str:
    if row.reference_shape == row.candidate_shape:
        return _shape(row.reference_shape)
    return f"{_shape(row.reference_shape)} vs {_shape(row.candidate_shape)}"


def _shape(shape: tuple[int, ...] | None) -> str:
    return "missing" if shape is None else str(list(shape))


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


# ---------------------------------------------------------------------------------------------
# Batch


def summary_table(results: Sequence[ModelOutcome]) -> Table:
    table = Table(title="Batch: one row per model", title_justify="left", show_lines=True)
    for column in ("model", "status", "worst max abs error per pair", "time", "recurrent nodes"):
        table.add_column(column)
    table.add_column("reason", overflow="fold")
    styles = {
        outcomes.PASSED: "green",
        outcomes.SKIPPED: "green",
        outcomes.MISMATCH: "bold red",
        outcomes.FAILED: "bold red",
    }
    for result in results:
        worst = "\n".join(
            f"{_short_pair(pair)} {number(value)}" for pair, value in result.worst_errors.items()
        )
        reason = "" if result.status == outcomes.PASSED else result.reason
        table.add_row(
            Text(result.name),
            Text(result.status, style=styles[result.status]),
            Text(worst or "-"),
            Text(f"{result.seconds:.1f} s"),
            Text("\n".join(result.recurrent_paths) or "-"),
            Text(reason),
        )
    return table


_SHORT_PARTIES = {
    "tensorflow": "tf",
    "onnxruntime": "ort",
    "torch": "torch",
    "torch.export": "pt2",
    "expected": "expected",
}


def _short_pair(pair: str) -> str:
    reference, _, candidate = pair.partition(" vs ")
    return "-".join(_SHORT_PARTIES.get(party, party) for party in (reference, candidate))


def batch_verdict(
    results: Sequence[ModelOutcome], wall_seconds: float, jobs: int, index: Path
) -> str:
    counts = {status: 0 for status in outcomes.STATUSES}
    for result in results:
        counts[result.status] += 1
    tally = ", ".join(f"{count} {status}" for status, count in counts.items())
    return (
        f"{len(results)} models in {wall_seconds:.1f} s with {jobs} job(s): {tally}; index: {index}"
    )


def console_width() -> int | None:
    return None if sys.stdout.isatty() else _PIPED_WIDTH
