"""The benchmark's targets and tables, on made-up figures: no timing, no framework."""

from __future__ import annotations

import pytest

from pipeline.bench import figures as names
from pipeline.bench.figures import (
    BenchResult,
    Latency,
    MachineInfo,
    ModelFigures,
    ProcessMemory,
    StageCost,
    evaluate_targets,
)
from pipeline.bench.models import BenchModel
from pipeline.bench.tables import BATCH_NOT_BUILT, markdown, rich_table, sections

MIB = 1024 * 1024
EXAMPLE = BenchModel("example", 64, 100, 50, 1, has_peer=True)
MID = BenchModel("mid", 256, 512, 100, 16)


def latencies(**medians: float | None) -> tuple[Latency, ...]:
    parties = {
        "tf": names.TF_SOURCE,
        "ours": names.OURS_ORT,
        "node": names.HAND_BUILT,
        "peer": names.PEER,
        "onnx2torch": names.OURS_ONNX2TORCH,
        "pt2": names.OURS_PT2,
        "lstm": names.BARE_LSTM,
        "onnx2pytorch": names.ONNX2PYTORCH,
    }
    return tuple(
        Latency(parties[key], value, 5, 1e-7, "" if value is not None else "not installed")
        for key, value in medians.items()
    )


def model_figures(model: BenchModel = EXAMPLE, peak_mib: float = 1000.0, **medians) -> ModelFigures:
    memory = (
        ProcessMemory("main", 100 * MIB, 200 * MIB),
        ProcessMemory("tensorflow worker", 500 * MIB, int(peak_mib * MIB) - 200 * MIB),
    )
    stages = (StageCost("export", 0.25), StageCost("report + publish", 0.01, "remainder"))
    return ModelFigures(model, latencies(**medians), stages, memory, verdict="PASSED: all")


def result(*models: ModelFigures) -> BenchResult:
    machine = MachineInfo("Test CPU 9000", 2, 2, 24 * 2**30, versions={"torch": "2.14.1"})
    return BenchResult(models, machine, threads=1, wall_seconds=123.0)


def target(targets, description: str, model: str = "example"):
    return next(t for t in targets if t.description.startswith(description) and t.model == model)


FAST = dict(tf=0.010, ours=0.0021, node=0.0020, peer=0.0200, onnx2torch=0.0030, pt2=0.0031)


def test_targets_are_met_within_their_limits():
    targets = evaluate_targets((model_figures(**FAST, lstm=0.0029, onnx2pytorch=None),))

    assert target(targets, "ORT: our model.onnx").met
    assert target(targets, "ORT: our model.onnx").value == pytest.approx(1.05)
    assert target(targets, "torch: onnx2torch").met
    assert target(targets, "torch: model.pt2").met
    assert target(targets, "ORT: speed-up").value == pytest.approx(20 / 2.1)
    assert target(targets, "ORT: speed-up").met


def test_targets_past_their_limits_are_not_met():
    slow = dict(FAST, ours=0.0030, peer=0.0100, pt2=0.0040)
    targets = evaluate_targets((model_figures(**slow, lstm=0.0029, peak_mib=1000.0),))

    assert target(targets, "ORT: our model.onnx").met is False
    assert target(targets, "torch: model.pt2").met is False
    assert target(targets, "ORT: speed-up").met is False
    # 1000 - 600 MiB over the baseline is far more than 3 x the example's 264 kB of weights
    assert target(targets, "memory").met is False


def test_memory_target_compares_the_excess_with_three_times_the_weights():
    weights_mib = MID.weight_bytes / MIB
    within = model_figures(MID, peak_mib=600 + 2.9 * weights_mib, **FAST, lstm=0.003)
    beyond = model_figures(MID, peak_mib=600 + 3.1 * weights_mib, **FAST, lstm=0.003)

    assert target(evaluate_targets((within,)), "memory", "mid").met
    assert target(evaluate_targets((beyond,)), "memory", "mid").met is False


def test_a_missing_party_leaves_its_target_unmeasured_and_the_peer_only_on_the_example():
    targets = evaluate_targets((model_figures(MID, **dict(FAST, peer=None), lstm=None),))

    assert target(targets, "torch: onnx2torch", "mid").met is None
    assert not any(t.description.startswith("ORT: speed-up") for t in targets)


def test_markdown_names_the_machine_and_holds_every_table():
    run = result(model_figures(**FAST, lstm=0.0029, onnx2pytorch=None))
    text = markdown(run, sections(run))

    assert "Test CPU 9000" in text and "2 cores" in text and "torch 2.14.1" in text
    assert "| ours ORT / hand-built node | 1.05x |" in text
    assert "| ORT: our model.onnx vs hand-built node | example | 1.05x | <= 1.1x | met |" in text
    assert BATCH_NOT_BUILT in text
    assert f"{names.ONNX2PYTORCH} on example: not installed" in text
    assert "| report + publish | 0.010 |" in text


def test_rich_tables_have_one_column_per_model():
    run = result(model_figures(**FAST, lstm=0.0029), model_figures(MID, **FAST, lstm=0.003))

    table = rich_table(sections(run)[0])

    assert [column.header for column in table.columns] == ["party", "example", "mid"]
