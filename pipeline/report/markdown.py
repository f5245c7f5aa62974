"""``report.md``: one model's report for a person, built from the ``report.json`` dict.

Sections, in order: the verdict; the source and its hash; the comparison of every output
under every pair (TensorFlow, onnxruntime, torch, torch.export); error statistics (max,
mean, 99th percentile, absolute and relative); a plot of the error per time step for each
sequence output; the path each recurrent node took, and the torch module that computes it;
stage times; tool versions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def markdown_report(report: Mapping[str, Any]) -> str:
    """The Markdown text of ``report`` (the dict ``report.json`` holds)."""
    config = report["config"]
    parties = report["parties"]
    fingerprint = report.get("fingerprint") or {}
    outcome = "PASSED" if report["passed"] else "FAILED"
    lines = [
        f"# {report['model']}: {outcome}",
        "",
        f"> {report['verdict']}",
        "",
        f"- source: `{config['source']}`",
    ]
    if fingerprint:
        lines.append(f"- source sha256: `{fingerprint.get('source_sha256', '-')}`")
    lines += [
        f"- reference: {parties['reference'] or 'none'}; compared: "
        + ", ".join(parties["compared"]),
    ]
    lines += [f"- not run: {party}: {reason}" for party, reason in parties["not_run"].items()]
    lines += ["", "## Outputs compared pair by pair", "", *_comparison_table(report)]
    lines += ["", "## Error statistics", "", *_statistics_table(report.get("statistics", []))]
    lines += ["", "## Error per time step", "", *_plots(report)]
    lines += ["", "## Recurrent nodes", "", *_recurrent_table(report["recurrent_nodes"])]
    lines += ["", "## PyTorch modules", "", *torch_modules_table(report["stages"])]
    lines += ["", "## Stage times", "", *_stage_table(report["stages"])]
    lines += ["", "## Tool versions", "", *_versions_table(report["versions"])]
    return "\n".join(lines).rstrip() + "\n"


def write_markdown_report(report: Mapping[str, Any], path: Path) -> Path:
    Path(path).write_text(markdown_report(report), encoding="utf-8")
    return Path(path)


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table; ``|`` inside cells is escaped."""
    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return [header, rule, *body]


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value  # "nan", "inf" as report.json writes them
    return f"{value:.3g}"


def _comparison_table(report: Mapping[str, Any]) -> list[str]:
    rows = []
    for row in report["comparisons"]:
        shapes = _shape(row["reference_shape"])
        if row["candidate_shape"] != row["reference_shape"]:
            shapes += f" vs {_shape(row['candidate_shape'])}"
        result = "PASS" if row["passed"] else f"**FAIL** {row['problem']}".rstrip()
        rows.append(
            (
                f"`{row['output']}`",
                f"{row['reference']} vs {row['candidate']}",
                shapes,
                number(row["max_abs_error"]),
                number(row["max_rel_error"]),
                f"{row['atol']:g} / {row['rtol']:g}",
                str(row["num_mismatched"]),
                result,
            )
        )
    for party in report["parties"]["not_run"]:
        rows.append(("all", party, "-", "-", "-", "-", "-", "NOT RUN"))
    columns = ("output", "pair", "shape", "max abs", "max rel", "atol / rtol", "beyond", "result")
    return table(columns, rows)


def _statistics_table(statistics: Sequence[Mapping[str, Any]]) -> list[str]:
    if not statistics:
        return ["No arrays could be compared element-wise."]
    rows = [
        (
            f"`{entry['output']}`",
            f"{entry['reference']} vs {entry['candidate']}",
            *(number(entry[key]) for key in ("max_abs", "mean_abs", "p99_abs")),
            *(number(entry[key]) for key in ("max_rel", "mean_rel", "p99_rel")),
        )
        for entry in statistics
    ]
    columns = ("output", "pair", "abs max", "abs mean", "abs p99", "rel max", "rel mean", "rel p99")
    return [*table(columns, rows), "", "Relative error: |a - b| / max(|b|, float32 eps)."]


def _plots(report: Mapping[str, Any]) -> list[str]:
    plots = report.get("plots") or {}
    if not plots:
        return [
            "No output is a time-major sequence (rank 3 or more, axis 0 the steps of an "
            "input), so nothing is plotted."
        ]
    lines = []
    for output, file_name in plots.items():
        lines += [f"![error per time step of {output}]({file_name})", ""]
    lines.append(
        "Maximum absolute error over batch and units at each step, against the reference; "
        "the dashed line is atol."
    )
    return lines


def _recurrent_table(nodes: Sequence[Mapping[str, str]]) -> list[str]:
    if not nodes:
        return ["None."]
    rows = [(f"`{n['node']}`", n["op"], n["path"], n["reason"]) for n in nodes]
    return table(("node", "op", "path", "reason"), rows)


_RECURRENT_OPS = ("LSTM", "GRU", "RNN", "Scan", "Loop", "BlockLSTM")


def torch_modules_table(stages: Sequence[Mapping[str, Any]]) -> list[str]:
    """Which module computes each recurrent ONNX node (the torch stage's record)."""
    modules = next((s.get("modules") for s in stages if s["name"] == "torch"), None) or []
    modules = [entry for entry in modules if entry.get("op") in _RECURRENT_OPS]
    if not modules:
        return ["None recorded."]
    rows = []
    for entry in modules:
        blockers = entry.get("why_not_torch_module")
        why = "; ".join(blockers) if blockers else "-"
        rows.append((f"`{entry['node']}`", entry["op"], f"`{entry['module']}`", why))
    return table(("ONNX node", "op", "module", "why not a torch.nn module"), rows)


def _stage_table(stages: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = []
    for stage in stages:
        timings = ", ".join(f"{k} {v:.2f} s" for k, v in stage.get("timings", {}).items())
        rows.append((stage["name"], f"{stage['seconds']:.2f}", timings or "-"))
    total = sum(stage["seconds"] for stage in stages)
    rows.append(("**total**", f"**{total:.2f}**", ""))
    return table(("stage", "seconds", "inside the worker"), rows)


def _versions_table(versions: Mapping[str, str]) -> list[str]:
    return table(("package", "version"), sorted(versions.items()))


def _shape(shape: Sequence[int] | None) -> str:
    return "missing" if shape is None else str(list(shape))
