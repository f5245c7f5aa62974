"""Every source format, built in the test and converted from that format, three ways.

Each model is saved by the TF worker (``tests.sources.tf_models``), which also runs the
model as saved and writes its outputs: the expected values are TensorFlow's (or Keras's)
on the source itself, never the pipeline's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import cli
from pipeline.batch.expansion import expand_paths
from pipeline.batch.schedule import plan_batch, run_batch
from pipeline.errors import ConversionError
from pipeline.inputs import load_npz
from pipeline.isolation import Workers
from tests.end_to_end.helpers import ATOL
from tests.sources import tf_models
from tests.sources.conversion import (
    build,
    convert,
    convert_as_saved,
    refusal,
    signature_keys,
    single_output_as,
)

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_tf1_checkpoint_is_frozen_and_defaults_to_its_placeholders_and_unconsumed_nodes(
    framework_workers: Workers, tmp_path: Path
) -> None:
    meta = build(framework_workers, "write_checkpoint", str(tmp_path))

    result = convert_as_saved(framework_workers, meta, tmp_path)

    assert [spec.name for spec in result.config.inputs] == ["x:0"]
    assert result.config.outputs == tf_models.GRAPH_OUTPUTS
    assert [node.op for node in result.recurrent_nodes] == ["BlockLSTMV2"]


@pytest.mark.slow
def test_a_checkpoint_output_that_names_no_node_is_refused_listing_the_candidates(
    framework_workers: Workers, tmp_path: Path
) -> None:
    meta = build(framework_workers, "write_checkpoint", str(tmp_path / "ckpt"))
    with pytest.raises(ConversionError, match=r"its unconsumed nodes are \['h:0', 'cs_final:0'\]"):
        convert(framework_workers, meta, tmp_path, outputs=["hidden:0"])
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_tf1_saved_model_converts_its_serving_signature(
    framework_workers: Workers, tmp_path: Path
) -> None:
    folder = build(framework_workers, "write_tf1_saved_model", str(tmp_path))

    result = convert_as_saved(framework_workers, folder, tmp_path)

    assert result.config.format == "saved_model"
    assert set(result.config.outputs) == set(tf_models.GRAPH_OUTPUTS)
    assert signature_keys(result) == {"cs_final:0": "final_cell", "h:0": "sequence"}


@pytest.mark.slow
def test_a_tf1_saved_model_without_signatures_defaults_to_its_graph(
    framework_workers: Workers, tmp_path: Path
) -> None:
    folder = build(framework_workers, "write_tf1_saved_model", str(tmp_path), 0, False)

    result = convert_as_saved(framework_workers, folder, tmp_path)

    assert [spec.name for spec in result.config.inputs] == ["x:0"]
    assert result.config.outputs == tf_models.GRAPH_OUTPUTS


@pytest.mark.slow
def test_a_tf2_saved_model_converts_its_signature_from_the_frozen_graph(
    framework_workers: Workers, tmp_path: Path
) -> None:
    folder = build(framework_workers, "write_tf2_saved_model", str(tmp_path))

    # Through saved_model.pb itself: the file names its folder.
    saved_model_pb = folder / "saved_model.pb"
    result = convert_as_saved(framework_workers, saved_model_pb, tmp_path, keys=signature_keys)

    assert result.config.source == folder
    assert result.config.name == "tf2_saved_model"
    assert sorted(signature_keys(result).values()) == ["final_cell", "sequence"]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_keras_file_converts_with_its_layers_names(
    framework_workers: Workers, tmp_path: Path, suffix: str
) -> None:
    source = build(framework_workers, "write_keras_model", str(tmp_path), suffix)

    result = convert_as_saved(framework_workers, source, tmp_path, keys=single_output_as("y"))

    assert result.config.format == "keras"
    assert [spec.name for spec in result.config.inputs] == ["x:0"]
    expected = load_npz(tmp_path / tf_models.EXPECTED_NPZ)
    assert expected["y"].shape == (2, tf_models.STEPS, tf_models.UNITS)


@pytest.mark.slow
def test_a_lambda_layer_in_a_keras_file_is_refused_unless_safe_mode_is_off(
    framework_workers: Workers, tmp_path: Path
) -> None:
    source = build(framework_workers, "write_keras_model", str(tmp_path), ".keras", True)

    assert re.search("safe mode.*--unsafe-load", refusal(framework_workers, source, tmp_path))

    keys = single_output_as("y")
    convert_as_saved(framework_workers, source, tmp_path, keys=keys, safe_mode=False)


@pytest.mark.slow
@pytest.mark.parametrize("builder", ["write_tf1_saved_model", "write_tf2_saved_model"])
def test_a_wrong_tag_or_signature_is_an_error_listing_the_available_ones(
    framework_workers: Workers, tmp_path: Path, builder: str
) -> None:
    folder = build(framework_workers, builder, str(tmp_path))

    with pytest.raises(ConversionError, match=r"no MetaGraph tagged \['gpu'\]; its tag sets are "):
        convert(framework_workers, folder, tmp_path, tags=["gpu"])
    with pytest.raises(ConversionError, match=r"its signatures are \['serving_default'\]"):
        convert(framework_workers, folder, tmp_path, signature="predict")


@pytest.mark.slow
def test_the_command_line_shows_the_defaults_it_chose_for_a_checkpoint(
    framework_workers: Workers, tmp_path: Path
) -> None:
    meta = build(framework_workers, "write_checkpoint", str(tmp_path / "ckpt"))

    # A process of its own, so the command sets its logging up as it does for a user.
    command = [sys.executable, "-m", "pipeline", "convert", str(meta)]
    command += ["--output-dir", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPOSITORY)

    assert done.returncode == cli.EXIT_PASSED, done.stderr
    assert (
        "default input x:0: float32 [1, 4, 3], unknown dimension 0 (the batch) set to 1"
        in done.stderr
    )
    assert "default output h:0 " in done.stderr
    assert "default output cs_final:0 " in done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("PASSED")


@pytest.mark.slow
def test_a_batch_file_names_a_checkpoint_and_saved_models_and_a_rerun_skips_them(
    framework_workers: Workers, tmp_path: Path
) -> None:
    meta = build(framework_workers, "write_checkpoint", str(tmp_path / "ckpt"))
    tf1 = build(framework_workers, "write_tf1_saved_model", str(tmp_path / "tf1"))
    tf2 = build(framework_workers, "write_tf2_saved_model", str(tmp_path / "tf2"))
    models = [
        {"name": "checkpoint", "source": str(meta)},
        {"name": "tf1", "source": str(tf1), "signature": "serving_default"},
        {"name": "tf2", "source": str(tf2), "tags": ["serve"]},
    ]
    config = tmp_path / "models.yaml"
    defaults = {"atol": ATOL, "rtol": 0.0}
    models = [{**model, "output_dir": f"out/{model['name']}"} for model in models]
    config.write_text(yaml.safe_dump({"defaults": defaults, "models": models}))

    first = run_batch(plan_batch(expand_paths([config])), framework_workers, jobs=1)
    again = run_batch(plan_batch(expand_paths([config])), framework_workers, jobs=1)

    assert [(o.name, o.status) for o in first] == [
        ("checkpoint", "passed"),
        ("tf1", "passed"),
        ("tf2", "passed"),
    ], [o.reason for o in first]
    assert [o.status for o in again] == ["skipped"] * 3
