"""The benchmark's command line (``python -m pipeline.bench``), and the only code that prints."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from pipeline.bench.figures import evaluate_targets
from pipeline.bench.models import FULL_MODELS, QUICK_MODELS
from pipeline.bench.runner import BenchOptions, run_bench
from pipeline.bench.tables import markdown, rich_table, sections

_PIPED_WIDTH = 140


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    scratch = args.scratch or Path("out") / ("bench-quick" if args.quick else "bench")
    output = args.output or (scratch / "BENCHMARKS.md" if args.quick else Path("BENCHMARKS.md"))
    options = BenchOptions(
        models=QUICK_MODELS if args.quick else FULL_MODELS,
        scratch=scratch.resolve(),
        threads=args.threads,
        timeout=args.timeout,
        quick=args.quick,
    )
    result = run_bench(options)
    tables = sections(result)

    width = None if sys.stdout.isatty() else _PIPED_WIDTH
    console = Console(highlight=False, soft_wrap=True, width=width)
    for section in tables:
        console.print(rich_table(section))
        for note in section.notes:
            console.print(Text(f"  {note}", style="dim"))
        console.print()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(markdown(result, tables), encoding="utf-8")
    targets = evaluate_targets(result.models)
    met = sum(1 for target in targets if target.met)
    console.print(
        Text(
            f"targets met: {met} of {len(targets)}; figures written to {output} "
            f"(run took {result.wall_seconds:.0f} s on {result.machine.cpu})",
            style="bold",
        )
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.bench",
        description="Benchmark the converted models: latency, conversion cost, memory.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny models, few repeats")
    parser.add_argument(
        "--threads", type=int, default=1, help="intra-op threads of every framework (default 1)"
    )
    parser.add_argument("--output", type=Path, help="the markdown file (default BENCHMARKS.md)")
    parser.add_argument("--scratch", type=Path, help="working folder (default out/bench)")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds allowed to each worker task"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    return parser
