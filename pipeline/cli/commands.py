"""The two commands, ``convert`` and ``batch``, and their exit statuses."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.text import Text

from pipeline.batch import outcome as outcomes
from pipeline.batch.expansion import expand_paths
from pipeline.batch.schedule import plan_batch, run_batch
from pipeline.cli.arguments import (
    build_parser,
    config_from_args,
    core_count,
    port_options_from_args,
)
from pipeline.cli.logs import configured_logging, interrupt, log_file_of
from pipeline.cli.port_output import print_diagnosis, print_weights
from pipeline.cli.progress import BatchProgress, progress_display
from pipeline.cli.tables import (
    batch_verdict,
    console_width,
    print_error,
    print_result,
    summary_table,
)
from pipeline.convert import convert_model
from pipeline.convert.run import DEFAULT_TARGETS
from pipeline.errors import ConversionError
from pipeline.isolation import Workers
from pipeline.port.hand_port import HandPortOptions, diagnose_port
from pipeline.port.weights import port_weights
from pipeline.report.index import write_index

logger = logging.getLogger(__name__)

T = TypeVar("T")

EXIT_PASSED = 0
EXIT_MISMATCH = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

BATCH_TARGETS = DEFAULT_TARGETS
"""The framework stages of a batch (tests substitute stand-ins)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)
    quiet_default = logging.WARNING if args.command == "batch" else logging.INFO
    with configured_logging(args.verbose, args.quiet, args.log_file, quiet_default) as log_level:
        command = _COMMANDS.get(args.command, run_convert_command)
        try:
            return command(args, log_level)
        except _Stopped as stopped:
            return stopped.status


class _Stopped(Exception):
    """A command ended early; ``status`` is its exit status (the reason is printed)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _in_workers(
    args: argparse.Namespace, log_level: int, work: Callable[[Workers], T], interrupted: str
) -> T:
    """``work`` with fresh workers; an error or an interrupt is printed and stops the command."""
    try:
        with Workers(log_level=log_level, log_file=log_file_of(args)) as workers:
            return work(workers)
    except ConversionError as error:
        print_error(error, verbose=args.verbose > 0)
        raise _Stopped(EXIT_ERROR) from None
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        raise _Stopped(EXIT_INTERRUPTED) from None


def run_convert_command(args: argparse.Namespace, log_level: int) -> int:
    try:
        config = config_from_args(args)
    except ConversionError as error:
        print_error(error, verbose=args.verbose > 0)
        return EXIT_ERROR
    result = _in_workers(
        args,
        log_level,
        lambda workers: convert_model(config, workers),
        "interrupted; nothing was published",
    )
    print_result(result)
    return EXIT_PASSED if result.passed else EXIT_MISMATCH


def run_batch_command(args: argparse.Namespace, log_level: int) -> int:
    if args.jobs < 1:
        print(f"error: --jobs: expected 1 or more, received {args.jobs}", file=sys.stderr)
        return EXIT_ERROR
    if args.timeout is not None and args.timeout <= 0:
        print(f"error: --timeout: expected seconds > 0, received {args.timeout}", file=sys.stderr)
        return EXIT_ERROR
    cores = core_count()
    if args.jobs > cores:
        logger.warning(
            "--jobs %d is more than the %d cores: each job holds a TensorFlow and a torch "
            "worker (about 1.5 GB), and they will only take turns on the cores",
            args.jobs,
            cores,
        )
    overrides = {} if args.timeout is None else {"timeout": args.timeout}
    try:
        entries = expand_paths(args.paths, overrides)
    except ConversionError as error:
        print_error(error, verbose=args.verbose > 1)
        return EXIT_ERROR
    if not entries:
        paths = ", ".join(str(path) for path in args.paths)
        print(f"error: no config (.yaml, .yml) found in {paths}", file=sys.stderr)
        return EXIT_ERROR
    console = Console(highlight=False, soft_wrap=True, width=console_width(), stderr=False)
    start = time.perf_counter()
    plan = plan_batch(entries, force=args.force)
    # Pools sized by the work left: every worker imports its framework, used or not.
    jobs = max(1, min(args.jobs, sum(planned.needs_conversion for planned in plan)))
    try:
        with (
            progress_display(console) as progress,
            Workers(max_workers=jobs, log_level=log_level, log_file=log_file_of(args)) as workers,
        ):
            listener = BatchProgress(progress, console, len(entries))
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
    console.print(summary_table(results))
    console.print(Text(batch_verdict(results, wall_seconds, jobs, index), style="bold"))
    if any(result.status == outcomes.FAILED for result in results):
        return EXIT_ERROR
    if any(result.status == outcomes.MISMATCH for result in results):
        return EXIT_MISMATCH
    return EXIT_PASSED


def run_weights_command(args: argparse.Namespace, log_level: int) -> int:
    """Exit status 0 when every module was written, 2 when the source cannot be ported."""
    output_dir = (args.output_dir or Path("out") / "weights" / args.source.name).resolve()
    result = _in_workers(
        args,
        log_level,
        lambda workers: port_weights(
            args.source, output_dir, port_options_from_args(args), workers
        ),
        "interrupted",
    )
    print_weights(result)
    return EXIT_PASSED


def run_diagnose_command(args: argparse.Namespace, log_level: int) -> int:
    """Exit status 0 when the corrections explain the mismatch, 1 when they do not, 2 on error."""
    output = args.output or args.state_dict.with_suffix(".corrected.pt")
    options = HandPortOptions(
        batch_first=args.batch_first,
        port=port_options_from_args(args),
        input_name=args.input_name,
    )
    result = _in_workers(
        args,
        log_level,
        lambda workers: diagnose_port(
            args.source, args.state_dict, args.input, output.resolve(), options, workers
        ),
        "interrupted",
    )
    print_diagnosis(result)
    return EXIT_PASSED if result.within_tolerance else EXIT_MISMATCH


_COMMANDS: dict[str, Callable[[argparse.Namespace, int], int]] = {
    "convert": run_convert_command,
    "batch": run_batch_command,
    "weights": run_weights_command,
    "diagnose": run_diagnose_command,
}
