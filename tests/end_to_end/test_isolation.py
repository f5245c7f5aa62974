"""A user's import order and a TF abort on a broken graph never take the pipeline down."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.errors import WorkerCrashedError
from pipeline.sources.example import BlockLstmSpec
from tests.end_to_end.helpers import convert_block_lstm

SPEC = BlockLstmSpec(input_size=5, hidden_size=6, steps=7, batch=2)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tensorflow_abort_on_seq_len_max_above_steps_is_a_clear_error_for_that_model(
    framework_workers, tmp_path
):
    with pytest.raises(
        WorkerCrashedError, match="SIGABRT: the tensorflow worker aborted the process"
    ):
        convert_block_lstm(framework_workers, replace(SPEC, seq_len_max=9), tmp_path / "bad")

    assert not (tmp_path / "bad" / "out").exists()
    assert convert_block_lstm(framework_workers, SPEC, tmp_path / "good").passed


@pytest.mark.slow
def test_a_process_that_imported_tensorflow_first_still_converts(tmp_path):
    graph = tmp_path / "graph.pb"
    script = f"""
import sys
import tensorflow  # the user's own import, before anything of ours
from pipeline.sources.example import BlockLstmSpec, write_block_lstm_graph
from pipeline.cli import main
spec = BlockLstmSpec(input_size=5, hidden_size=6, steps=7, batch=2)
write_block_lstm_graph(spec, {str(graph)!r})
sys.exit(main(["convert", {str(graph)!r}, "--inputs", "x:0[7,2,5]",
               "--outputs", "h:0,cs_final:0", "--output-dir", {str(tmp_path / "out")!r}]))
"""
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )

    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "PASSED" in completed.stdout
