"""A mixed batch of 12 config files through the real frameworks, run as a user runs it.

BlockLSTM graphs of several sizes and variants, the two real TF1 graphs of shared/models
(one file, two models), a truncated ``.pb``, a config naming a missing file, and a model
whose tolerance is too tight to pass. The good ones convert; each bad one is reported with
its reason; the exit status is non-zero; the immediate rerun skips every converted model.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from pipeline.sources.example import EXAMPLE, BlockLstmSpec
from tests.end_to_end.helpers import write_graph

ROOT = Path(__file__).resolve().parents[2]
SHARED_MODELS = ROOT.parent / "shared" / "models"

BLOCK_LSTMS = {
    "tiny": BlockLstmSpec(input_size=4, hidden_size=6, steps=5, batch=2),
    "small": BlockLstmSpec(input_size=16, hidden_size=32, steps=20, batch=1),
    "example": EXAMPLE,
    "wide-batch": BlockLstmSpec(input_size=32, hidden_size=48, steps=30, batch=4),
    "v2": BlockLstmSpec(version=2, input_size=12, hidden_size=20, steps=10, batch=3),
    "peephole": BlockLstmSpec(input_size=8, hidden_size=12, steps=9, batch=2, use_peephole=True),
    "clipped": BlockLstmSpec(input_size=8, hidden_size=8, steps=6, batch=2, cell_clip=0.5),
    "forget-bias": BlockLstmSpec(input_size=10, hidden_size=10, steps=8, forget_bias=0.0),
}
BAD = {"truncated": "failed", "missing-file": "failed", "too-tight": "mismatch"}


def block_lstm_config(name: str, spec: BlockLstmSpec, source: str, **extra: object) -> dict:
    shapes = spec.input_shapes()
    return {
        "name": name,
        "source": source,
        "inputs": [{"name": n, "shape": shapes[n]} for n in spec.input_names],
        "outputs": spec.output_names,
        "output_dir": f"../out/{name}",
        "atol": 1e-5,
        "rtol": 0.0,
        "timeout": 300,
        **extra,
    }


def write_configs(folder: Path, framework_workers) -> None:
    graphs, configs = folder / "graphs", folder / "configs"
    configs.mkdir(parents=True)
    for name, spec in BLOCK_LSTMS.items():
        path = write_graph(framework_workers, spec, graphs / name)
        config = block_lstm_config(name, spec, f"../graphs/{name}/{path.name}")
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(config))

    whole = (graphs / "small" / "graph.pb").read_bytes()
    (graphs / "truncated.pb").write_bytes(whole[: len(whole) // 2])
    spec = BLOCK_LSTMS["small"]
    bad = {
        "truncated": block_lstm_config("truncated", spec, "../graphs/truncated.pb"),
        "missing-file": block_lstm_config("missing-file", spec, "../graphs/nowhere.pb"),
        "too-tight": block_lstm_config(
            "too-tight", replace(spec), "../graphs/small/graph.pb", atol=1e-12
        ),
    }
    for name, config in bad.items():
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(config))

    shared = {
        "defaults": {
            "inputs": [{"name": "X:0", "shape": [1, 784]}, {"name": "keep_prob:0", "value": 1.0}],
            "outputs": ["output:0"],
            "atol": 1e-5,
            "rtol": 0.0,
        },
        "models": [
            {
                "name": f"shared-{kind}",
                "source": str(SHARED_MODELS / f"{kind}_frozen.pb"),
                "inputs_npz": str(SHARED_MODELS / f"{kind}_io_example.npz"),
                "output_dir": f"../out/shared-{kind}",
            }
            for kind in ("lstm", "gru")
        ],
    }
    (configs / "shared.yaml").write_text(yaml.safe_dump(shared, sort_keys=False))


def run_batch_command(folder: Path) -> tuple[subprocess.CompletedProcess, float]:
    command = [
        sys.executable, "-m", "pipeline", "batch", str(folder / "configs"), "--jobs", "2",
        "--index", str(folder / "out" / "index.md"),
    ]  # fmt: skip
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500)
    return completed, time.perf_counter() - start


def statuses(stdout: str, names: list[str]) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) > 2 and cells[0] in names:
            found[cells[0]] = cells[1]
    return found


@pytest.mark.slow
def test_a_mixed_batch_converts_the_good_reports_the_bad_and_the_rerun_skips(
    framework_workers, tmp_path: Path
) -> None:
    write_configs(tmp_path, framework_workers)
    good = [*BLOCK_LSTMS, "shared-lstm", "shared-gru"]
    names = [*good, *BAD]

    first, first_seconds = run_batch_command(tmp_path)

    assert first.returncode == 2, first.stdout[-3000:] + first.stderr[-3000:]
    expected = {**dict.fromkeys(good, "passed"), **BAD}
    assert statuses(first.stdout, names) == expected, first.stdout[-5000:]
    for name in good:
        report = json.loads((tmp_path / "out" / name / "report.json").read_text())
        assert report["passed"], report["verdict"]
        assert (tmp_path / "out" / name / "report.md").is_file()
    assert "file not found" in first.stdout and "nowhere.pb" in first.stdout
    assert "FAILED" in first.stdout and "atol 1e-12" in first.stdout
    assert not (tmp_path / "out" / "truncated").exists()
    index = (tmp_path / "out" / "index.md").read_text()
    assert all(f"[{name}](<{name}/report.md>)" in index for name in good)

    rerun, rerun_seconds = run_batch_command(tmp_path)

    assert rerun.returncode == 2
    assert statuses(rerun.stdout, names) == {**dict.fromkeys(good, "skipped"), **BAD}
    print(f"first run {first_seconds:.1f} s, rerun {rerun_seconds:.1f} s")
    assert rerun_seconds < first_seconds / 3
