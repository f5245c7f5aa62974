"""The figures of a run as sections (title, columns, rows, notes), rendered two ways.

``sections`` turns a ``BenchResult`` into plain text cells once; ``rich_table`` and
``markdown`` only lay those cells out, so the terminal and ``BENCHMARKS.md`` always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.table import Table

from pipeline.bench import figures as names
from pipeline.bench.batch import BatchFigures
from pipeline.bench.figures import BenchResult, ModelFigures, Target, evaluate_targets

MIB = 1024 * 1024
MISSING = "-"
BATCH_NOT_BUILT = "not measured in this run"


@dataclass(frozen=True)
class Section:
    """One table: ``rows`` of text cells under ``columns``, and notes printed below it."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = field(default=())


def sections(result: BenchResult) -> list[Section]:
    """Every table of the report, in order."""
    models = result.models
    return [
        _latency_section(models),
        _agreement_section(models),
        _ratio_section(models),
        _target_section(evaluate_targets(models)),
        _stage_section(models),
        _memory_section(models),
        _batch_section(result.batch),
    ]


def rich_table(section: Section) -> Table:
    table = Table(title=section.title, title_justify="left")
    for index, column in enumerate(section.columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in section.rows:
        table.add_row(*row)
    return table


def markdown(result: BenchResult, tables: Sequence[Section]) -> str:
    """``BENCHMARKS.md``: the machine, the method, then every table with its notes."""
    machine = result.machine
    versions = ", ".join(f"{name} {version}" for name, version in machine.versions.items())
    lines = [
        "# Benchmarks",
        "",
        "Figures of one `make bench` run (`python -m pipeline.bench`"
        + (" --quick" if result.quick else "")
        + f"), written by it; the run took {result.wall_seconds:.0f} s.",
        "",
        f"- CPU: {machine.cpu}; {machine.cores} cores ({machine.usable_cores} usable)",
        f"- memory: {machine.memory_bytes / 2**30:.1f} GiB",
        "- load average when the run started (1, 5, 15 min): "
        + ", ".join(f"{value:.2f}" for value in machine.load_average),
        f"- libraries: {versions}",
        f"- threads: {result.threads} intra-op and {result.threads} inter-op thread(s) for "
        "TensorFlow, onnxruntime and torch alike",
        "- latency: medians over repeats after warm-up; the parties timed in one process take "
        "turns in every round; every party is fed the same input arrays (the conversion's "
        "`inputs.npz`); ratios divide two medians of this run",
        "",
    ]
    for section in tables:
        lines += [f"## {section.title}", "", *_markdown_table(section), ""]
        lines += [f"- {note}" for note in section.notes]
        if section.notes:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# The sections


def _model_columns(first: str, models: Sequence[ModelFigures]) -> tuple[str, ...]:
    return (first, *(f.model.name for f in models))


def _latency_section(models: Sequence[ModelFigures]) -> Section:
    rows = []
    notes = [f"{f.model.name}: {f.model.shape_text}; {_repeats(f)}" for f in models]
    for party in names.PARTIES:
        cells = []
        for figures in models:
            entry = figures.latency(party)
            if entry is None or entry.median_s is None:
                cells.append(MISSING if entry is None or not entry.note else "n/a")
                if entry is not None and entry.note:
                    notes.append(f"{party} on {figures.model.name}: {entry.note}")
            else:
                cells.append(_milliseconds(entry.median_s))
        if any(cell != MISSING for cell in cells):
            rows.append((party, *cells))
    notes += [f"{f.model.name}: {note}" for f in models for note in f.notes]
    notes += [f"{f.model.name}: {f.error}" for f in models if f.error]
    return Section(
        "Inference latency (median)", _model_columns("party", models), tuple(rows), tuple(notes)
    )


def _agreement_section(models: Sequence[ModelFigures]) -> Section:
    rows = []
    for party in names.PARTIES[1:]:
        cells = [_number(_error(f, party)) for f in models]
        if any(cell != MISSING for cell in cells):
            rows.append((party, *cells))
    rows.append(("conversion verdict", *(_verdict(f) for f in models)))
    return Section(
        "Agreement: max |first output - TensorFlow's h|",
        _model_columns("party", models),
        tuple(rows),
    )


def _ratio_section(models: Sequence[ModelFigures]) -> Section:
    rows = []
    for ratio in names.RATIOS:
        cells = [_times(f.ratio(ratio.numerator, ratio.denominator)) for f in models]
        if any(cell != MISSING for cell in cells):
            rows.append((ratio.label, *cells))
    return Section(
        "Ratios of medians (same run, same inputs)", _model_columns("ratio", models), tuple(rows)
    )


def _target_section(targets: Sequence[Target]) -> Section:
    rows = []
    notes = []
    for target in targets:
        value = MISSING if target.value is None else f"{target.value:.2f}x"
        met = {True: "met", False: "NOT met", None: "not measured"}[target.met]
        rows.append((target.description, target.model, value, target.limit, met))
        if target.note and target.met is None:
            notes.append(f"{target.description} on {target.model}: {target.note}")
    notes.append("memory value: (sum of peaks - sum of baselines) / the model's weight bytes")
    return Section(
        "Targets", ("target", "model", "value", "limit", "result"), tuple(rows), tuple(notes)
    )


def _stage_section(models: Sequence[ModelFigures]) -> Section:
    stage_names: list[str] = []
    stage_notes: dict[str, str] = {}
    for figures in models:
        for stage in figures.stages:
            if stage.stage not in stage_names:
                stage_names.append(stage.stage)
            if stage.note:
                stage_notes.setdefault(stage.stage, stage.note)
    rows = []
    for stage_name in stage_names:
        cells = [_seconds(_stage_seconds(f, stage_name)) for f in models]
        rows.append((stage_name, *cells))
    notes = [f"{stage_name}: {note}" for stage_name, note in stage_notes.items()]
    return Section(
        "Conversion cost per stage (seconds)",
        _model_columns("stage", models),
        tuple(rows),
        tuple(notes),
    )


def _memory_section(models: Sequence[ModelFigures]) -> Section:
    processes: list[str] = []
    for figures in models:
        processes += [m.process for m in figures.memory if m.process not in processes]
    rows = []
    for process in processes:
        for kind in ("baseline", "peak"):
            cells = [_mib(_process_memory(f, process, kind)) for f in models]
            rows.append((f"{process}: {kind}", *cells))
    has_memory = [bool(f.memory) for f in models]

    def totals(value: Callable[[ModelFigures], float]) -> list[str]:
        return [_mib(value(f)) if ok else MISSING for f, ok in zip(models, has_memory, strict=True)]

    rows.append(("sum: baseline", *totals(lambda f: f.baseline_bytes)))
    rows.append(("sum: peak", *totals(lambda f: f.peak_bytes)))
    rows.append(("peak - baseline", *totals(lambda f: f.peak_bytes - f.baseline_bytes)))
    rows.append(("model weights", *(_mib(f.model.weight_bytes) for f in models)))
    limit = names.MEMORY_WEIGHT_FACTOR
    rows.append(
        (f"{limit:g} x weights (allowed)", *(_mib(limit * f.model.weight_bytes) for f in models))
    )
    notes = (
        "baseline: resident memory of the fresh process once its framework and converter "
        "libraries are imported (main: numpy, onnx, onnxruntime, the pipeline; TF worker: "
        "tensorflow, tf2onnx; torch worker: torch, onnx2torch), before any model",
        "peak: the process's high-water mark (VmHWM) after the whole conversion",
        "each model is converted by a fresh process with fresh workers",
        *(f"{f.model.name}: {note}" for f in models for note in f.memory_notes),
    )
    return Section(
        "Peak memory of a conversion (MiB)", _model_columns("process", models), tuple(rows), notes
    )


def _batch_section(batch: BatchFigures | None) -> Section:
    title, columns = "Batch throughput", ("measure", "wall", "per model")
    if batch is None:
        return Section(title, columns, (("batch conversion", BATCH_NOT_BUILT, MISSING),))
    count = batch.models

    def row(label: str, seconds: float | None, models: int) -> tuple[str, str, str]:
        per_model = None if seconds is None else seconds / models
        return (label, _seconds_short(seconds), _seconds_short(per_model))

    rows = (
        row("one model converted alone (`convert`)", batch.alone, 1),
        row(f"batch of {count}, --jobs 1", batch.one_job, count),
        row(f"batch of {count}, --jobs 2 (first run)", batch.two_jobs, count),
        row(f"immediate rerun, --jobs 2 (skips all {count})", batch.rerun, count),
    )
    notes = [
        f"models: {count} BlockLSTMs of {batch.model_shape}, one config file; each command is "
        "a fresh process, so each pays its own imports",
    ]
    if batch.alone and batch.two_jobs:
        notes.append(
            f"per-model time with 2 jobs: {batch.two_jobs / count / batch.alone:.2f}x of one "
            "model converted alone"
        )
    if batch.two_jobs and batch.rerun:
        notes.append(f"rerun: {batch.rerun / batch.two_jobs:.2f}x of the first run's time")
    if batch.error:
        notes.append(f"not measured: {batch.error}")
    return Section(title, columns, rows, tuple(notes))


# ---------------------------------------------------------------------------------------------
# Cells


def _seconds_short(seconds: float | None) -> str:
    return MISSING if seconds is None else f"{seconds:.1f} s"


def _repeats(figures: ModelFigures) -> str:
    model = figures.model
    return f"{model.warmup} warm-up + {model.repeats} timed runs per party"


def _error(figures: ModelFigures, party: str) -> float | None:
    entry = figures.latency(party)
    return None if entry is None else entry.max_error


def _verdict(figures: ModelFigures) -> str:
    if figures.error:
        return "failed"
    return figures.verdict.split(":")[0] if figures.verdict else MISSING


def _stage_seconds(figures: ModelFigures, stage_name: str) -> float | None:
    return next((s.seconds for s in figures.stages if s.stage == stage_name), None)


def _process_memory(figures: ModelFigures, process: str, kind: str) -> float | None:
    entry = next((m for m in figures.memory if m.process == process), None)
    return None if entry is None else getattr(entry, kind)


def _milliseconds(seconds: float) -> str:
    milliseconds = seconds * 1000
    return f"{milliseconds:.3g} ms" if milliseconds < 100 else f"{milliseconds:.0f} ms"


def _seconds(seconds: float | None) -> str:
    return MISSING if seconds is None else f"{seconds:.3f}"


def _times(ratio: float | None) -> str:
    return MISSING if ratio is None else f"{ratio:.2f}x"


def _number(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2g}"


def _mib(value: float | None) -> str:
    return MISSING if value is None else f"{value / MIB:.1f}"


def _markdown_table(section: Section) -> list[str]:
    header = "| " + " | ".join(section.columns) + " |"
    rule = "|" + "|".join(["---"] + ["---:"] * (len(section.columns) - 1)) + "|"
    body = [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in section.rows
    ]
    return [header, rule, *body]
