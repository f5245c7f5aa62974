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
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline import __version__
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
from pipeline.errors import ConversionError, StageFailedError
from pipeline.isolation import Workers
from pipeline.validate.compare import OutputComparison

EXIT_PASSED = 0
EXIT_MISMATCH = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

_PIPED_WIDTH = 160


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    log_level = _configure_logging(args.verbose, args.quiet)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        config = _config_from_args(args)
        with Workers(log_level=log_level) as workers:
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
    loudness = convert.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="count", default=0, help="log details, show tracebacks"
    )
    loudness.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    return parser


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


def _configure_logging(verbose: int, quiet: bool) -> int:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    return level


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
