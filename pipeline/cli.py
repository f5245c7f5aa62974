"""The command line, and the only module that prints.

``python -m pipeline convert MODEL`` where MODEL is a YAML config (``.yaml``/``.yml``) or a
model path: a TensorFlow frozen graph (``.pb``/``.pbtxt``) or an ONNX model (``.onnx``).
With a frozen graph, tf2onnx's conventions name the inputs and outputs::

    python -m pipeline convert model.pb --inputs x:0[50,1,64] --outputs h:0 --opset 17

An ONNX model's graph names them itself; ``--expected-npz`` adds expected outputs::

    python -m pipeline convert model.onnx --inputs-npz in.npz --expected-npz out.npz

Options also override a config's values. Exit status: 0 when every comparison passes, 1 when
any fails or nothing could serve as the reference, 2 when the model cannot be converted (the
message says why), 130 on interrupt.

``python -m pipeline batch PATH...`` converts every model of the configs given, or found in
the folders given, ``--jobs`` at a time, skipping those already converted (``pipeline.batch``).
It shows a progress display, then a summary table, and writes ``index.md``. Exit status: 0
when every model passed or was up to date, 1 when some mismatched and none failed, 2 when
any failed, 130 on interrupt.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from pipeline import __version__
from pipeline.batch import outcome as outcomes
from pipeline.batch.expansion import BatchEntry, expand_paths
from pipeline.batch.outcome import ModelOutcome
from pipeline.batch.schedule import plan_batch, run_batch
from pipeline.config import (
    DEFAULT_OPSET,
    ModelConfig,
    config_from_model_path,
    is_config_path,
    load_config,
    parse_input_specs,
    parse_outputs,
    parse_pin,
)
from pipeline.convert import ConversionResult, convert_model
from pipeline.convert.run import DEFAULT_TARGETS
from pipeline.errors import ConversionError, StageFailedError
from pipeline.isolation import LOG_FILE_FORMAT, Workers
from pipeline.report.index import write_index
from pipeline.validate.compare import OutputComparison

EXIT_PASSED = 0
EXIT_MISMATCH = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

_PIPED_WIDTH = 160
_CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
DEFAULT_INDEX = Path("out") / "index.md"
BATCH_TARGETS = DEFAULT_TARGETS
"""The framework stages of a batch (tests substitute stand-ins)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    quiet_default = logging.WARNING if args.command == "batch" else logging.INFO
    with _logging(args.verbose, args.quiet, args.log_file, quiet_default) as log_level:
        if args.command == "batch":
            return _batch(args, log_level)
        return _convert(args, log_level)


def _convert(args: argparse.Namespace, log_level: int) -> int:
    try:
        config = _config_from_args(args)
        with Workers(log_level=log_level, log_file=_log_file(args)) as workers:
            result = convert_model(config, workers)
    except ConversionError as error:
        _print_error(error, verbose=args.verbose > 0)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; nothing was published", file=sys.stderr)
        return EXIT_INTERRUPTED
    _print_result(result)
    return EXIT_PASSED if result.passed else EXIT_MISMATCH


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Convert a TensorFlow recurrent model to ONNX and PyTorch, and prove that "
        "all three agree; or convert an ONNX model to PyTorch, and prove that they agree.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser(
        "convert",
        help="convert one model",
        description="Convert one model. Options override the values of a config.",
    )
    convert.add_argument(
        "model",
        type=Path,
        metavar="MODEL",
        help="a .yaml/.yml config, a frozen graph (.pb/.pbtxt) or an ONNX model (.onnx)",
    )
    convert.add_argument(
        "--inputs",
        metavar="NAME:0[d0,d1,...],...",
        help="model inputs and their shapes, comma-separated (tf2onnx's convention); for an "
        "ONNX model, shapes of its inputs (default: the graph's inputs)",
    )
    convert.add_argument(
        "--outputs",
        metavar="NAME:0,...",
        help="model outputs, comma-separated (for an ONNX model, default: the graph's)",
    )
    convert.add_argument(
        "--opset", type=int, help=f"ONNX opset, 14 or newer (default {DEFAULT_OPSET})"
    )
    convert.add_argument(
        "--output-dir", type=Path, metavar="DIR", help="artifact folder (default out/<name>)"
    )
    convert.add_argument("--atol", type=float, help="absolute tolerance of every comparison")
    convert.add_argument("--rtol", type=float, help="relative tolerance of every comparison")
    convert.add_argument("--seed", type=int, help="seed of the random inputs")
    convert.add_argument(
        "--inputs-npz", type=Path, metavar="FILE", help="input values keyed by tensor name"
    )
    convert.add_argument(
        "--expected-npz",
        type=Path,
        metavar="FILE",
        help="ONNX models only: expected outputs keyed by output name, compared as a party",
    )
    convert.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="NAME:0=VALUE",
        help="pin an input to a constant, folded before export (repeatable): keep_prob:0=1.0",
    )
    convert.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="time limit of each stage"
    )
    _add_logging_options(convert, quiet_help="log warnings only")
    _add_batch_parser(commands)
    return parser


def _add_batch_parser(commands: Any) -> None:
    batch = commands.add_parser(
        "batch",
        help="convert every model of the configs given or found in folders",
        description="Convert every model of the configs given, or found in the folders given "
        "(a config may describe several models), several at a time. Models converted before "
        "whose source, config and tool versions are unchanged are skipped.",
    )
    batch.add_argument(
        "paths", type=Path, nargs="+", metavar="PATH", help="a .yaml/.yml config or a folder"
    )
    batch.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=_core_count(),
        metavar="N",
        help=f"models converted at once, each with its own workers (default {_core_count()}, "
        "the cores)",
    )
    batch.add_argument("--force", action="store_true", help="convert even up-to-date models")
    batch.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="time limit of each stage, every model"
    )
    batch.add_argument(
        "--index",
        type=Path,
        default=DEFAULT_INDEX,
        metavar="FILE",
        help=f"the index report linking every model's report (default {DEFAULT_INDEX})",
    )
    _add_logging_options(batch, quiet_help="log errors only", verbose_help="log each stage")


def _add_logging_options(
    parser: argparse.ArgumentParser,
    *,
    quiet_help: str,
    verbose_help: str = "log details, show tracebacks",
) -> None:
    parser.add_argument(
        "--log-file", type=Path, metavar="FILE", help="also append the full DEBUG log to FILE"
    )
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="count", default=0, help=verbose_help)
    loudness.add_argument("-q", "--quiet", action="store_true", help=quiet_help)


def _core_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _config_from_args(args: argparse.Namespace) -> ModelConfig:
    overrides: dict[str, Any] = {}
    if args.inputs is not None:
        overrides["inputs"] = parse_input_specs(args.inputs)
    if args.outputs is not None:
        overrides["outputs"] = parse_outputs(args.outputs)
    for key in ("opset", "atol", "rtol", "seed", "timeout"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    for key in ("output_dir", "inputs_npz", "expected_npz"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key).resolve()
    pins = dict(parse_pin(text) for text in args.pin)
    if is_config_path(args.model):
        return load_config(args.model, overrides, pins)
    return config_from_model_path(args.model.resolve(), overrides, pins)


@contextlib.contextmanager
def _logging(verbose: int, quiet: bool, log_file: Path | None, default: int) -> Iterator[int]:
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


def _log_file(args: argparse.Namespace) -> str | None:
    return None if args.log_file is None else str(args.log_file.resolve())


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so staging folders and workers are cleaned up.
    raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------------
# Output


def _print_error(error: ConversionError, *, verbose: bool) -> None:
    if verbose:
        traceback.print_exception(error, file=sys.stderr)
        if isinstance(error, StageFailedError) and error.remote_traceback:
            print("worker traceback:\n" + error.remote_traceback, file=sys.stderr)
    print(f"error: {error}", file=sys.stderr)


def _print_result(result: ConversionResult) -> None:
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
            _number(row.max_abs_error),
            _number(row.max_rel_error),
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


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


# ---------------------------------------------------------------------------------------------
# Batch


def _batch(args: argparse.Namespace, log_level: int) -> int:
    if args.jobs < 1:
        print(f"error: --jobs: expected 1 or more, received {args.jobs}", file=sys.stderr)
        return EXIT_ERROR
    overrides = {} if args.timeout is None else {"timeout": args.timeout}
    try:
        entries = expand_paths(args.paths, overrides)
    except ConversionError as error:
        _print_error(error, verbose=args.verbose > 1)
        return EXIT_ERROR
    console = Console(highlight=False, soft_wrap=True, width=_width(), stderr=False)
    start = time.perf_counter()
    plan = plan_batch(entries, force=args.force)
    # Pools sized by the work left: every worker imports its framework, used or not.
    jobs = max(1, min(args.jobs, sum(planned.needs_conversion for planned in plan)))
    try:
        with (
            _progress(console) as progress,
            Workers(max_workers=jobs, log_level=log_level, log_file=_log_file(args)) as workers,
        ):
            listener = _BatchProgress(progress, console, len(entries))
            results = run_batch(
                plan,
                workers,
                jobs=jobs,
                targets=BATCH_TARGETS,
                listener=listener,
            )
    except KeyboardInterrupt:
        print(
            "interrupted; finished models are published, a rerun resumes with the rest",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    wall_seconds = time.perf_counter() - start
    index = write_index(args.index, results, wall_seconds)
    console.print(_summary_table(results))
    console.print(Text(_batch_verdict(results, wall_seconds, jobs, index), style="bold"))
    if any(result.status == outcomes.FAILED for result in results):
        return EXIT_ERROR
    if any(result.status == outcomes.MISMATCH for result in results):
        return EXIT_MISMATCH
    return EXIT_PASSED


def _progress(console: Console) -> Progress:
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


class _BatchProgress:
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


def _summary_table(results: Sequence[ModelOutcome]) -> Table:
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
            f"{_short_pair(pair)} {_number(value)}" for pair, value in result.worst_errors.items()
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


def _batch_verdict(
    results: Sequence[ModelOutcome], wall_seconds: float, jobs: int, index: Path
) -> str:
    counts = {status: 0 for status in outcomes.STATUSES}
    for result in results:
        counts[result.status] += 1
    tally = ", ".join(f"{count} {status}" for status, count in counts.items())
    return (
        f"{len(results)} models in {wall_seconds:.1f} s with {jobs} job(s): {tally}; index: {index}"
    )


def _width() -> int | None:
    return None if sys.stdout.isatty() else _PIPED_WIDTH
