"""Defaults of graphs without a signature: training graphs, while-loops, scalar placeholders.

Each model is built in the test by the TF worker (``tests.sources.tf_graph_models``), which
also writes TensorFlow's outputs on the model as saved: the expected values.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from pipeline.isolation import Workers
from tests.sources import conversion
from tests.sources.conversion import convert, convert_as_saved, refusal, signature_keys
from tests.sources.tf_models import EXPECTED_NPZ

MODELS = "tests.sources.tf_graph_models"


build = partial(conversion.build, models=MODELS)


@pytest.mark.slow
def test_a_training_checkpoint_is_refused_without_outputs_naming_the_models_output(
    framework_workers: Workers, tmp_path: Path
) -> None:
    meta = build(framework_workers, "write_rnn_checkpoint", str(tmp_path))

    message = refusal(framework_workers, meta, tmp_path)

    assert "the graph is a training graph" in message
    assert "ResourceApplyAdam" in message
    assert "the nodes that feed the loss: ['y:0'," in message
    assert "--outputs y:0" in message


@pytest.mark.slow
def test_a_training_checkpoints_named_output_converts_without_its_labels_and_keep_prob(
    framework_workers: Workers, tmp_path: Path
) -> None:
    meta = build(framework_workers, "write_rnn_checkpoint", str(tmp_path))

    result = convert_as_saved(framework_workers, meta, tmp_path, outputs=["y:0"])

    # labels only feeds the loss; keep_prob is a PlaceholderWithDefault: neither is an input.
    assert [spec.name for spec in result.config.inputs] == ["x:0"]
    assert [node.op for node in result.recurrent_nodes] == ["LSTM"]


@pytest.mark.slow
def test_an_unsigned_tf1_saved_model_defaults_to_the_results_after_its_while_loop(
    framework_workers: Workers, tmp_path: Path
) -> None:
    folder = build(framework_workers, "write_unsigned_gru_saved_model", str(tmp_path))

    result = convert_as_saved(framework_workers, folder, tmp_path, tags=["train_tag"])

    assert result.config.outputs == ("rnn/transpose_1:0", "state:0")


@pytest.mark.slow
def test_an_output_inside_a_while_loop_is_refused_naming_it_and_the_loops_results(
    framework_workers: Workers, tmp_path: Path
) -> None:
    folder = build(framework_workers, "write_unsigned_gru_saved_model", str(tmp_path))

    options = {"tags": ["train_tag"], "outputs": ["rnn/while/Exit:0"]}
    message = refusal(framework_workers, folder, tmp_path, **options)

    assert "outputs [\"rnn/while/Exit:0 (node 'rnn/while/Exit', op Exit)\"]" in message
    assert "ask for a tensor after the loop instead" in message
    assert "['rnn/transpose_1:0', 'state:0']" in message


@pytest.mark.slow
def test_a_while_loops_float_exit_is_a_result_that_converts(
    framework_workers: Workers, tmp_path: Path
) -> None:
    """``rnn/while/Exit_3`` is the GRU's final state as the loop returns it (``state`` is an
    Identity of it); the step counter ``rnn/while/Exit`` stays refused (test above)."""
    folder = build(framework_workers, "write_unsigned_gru_saved_model", str(tmp_path))
    expected = tmp_path / EXPECTED_NPZ

    options = {"tags": ["train_tag"], "outputs": ["rnn/while/Exit_3:0"], "inputs_npz": expected}
    result = convert(framework_workers, folder, tmp_path, **options)

    assert result.passed, result.comparison.verdict
    with np.load(tmp_path / "out" / "reference.npz") as reference, np.load(expected) as saved:
        np.testing.assert_allclose(reference["rnn/while/Exit_3:0"], saved["state:0"], atol=1e-7)


@pytest.mark.slow
def test_the_step_counter_is_refused_naming_the_discarded_final_state_among_the_results(
    framework_workers: Workers, tmp_path: Path
) -> None:
    """``dynamic_rnn``'s state is discarded here (``sequence, _ = ...``): its ``Exit`` nodes
    are among the loop's results to ask for; the gradient loop's are not."""
    meta = build(framework_workers, "write_rnn_checkpoint", str(tmp_path))

    message = refusal(framework_workers, meta, tmp_path, outputs=["rnn/while/Exit:0"])

    results = message.partition("the loop's results here: ")[2]
    assert "gradients/" not in results
    assert re.search(r"'rnn/while/Exit_\d+:0'", results), results


@pytest.mark.slow
def test_a_scalar_keep_prob_placeholder_is_no_random_input_and_converts_once_pinned(
    framework_workers: Workers, tmp_path: Path
) -> None:
    meta = build(framework_workers, "write_rnn_checkpoint", str(tmp_path), False, "placeholder")
    message = refusal(framework_workers, meta, tmp_path, inputs_npz=tmp_path / EXPECTED_NPZ)
    assert re.search(r"placeholder tensor 'keep_prob'.*--pin NAME:0=", message), message

    result = convert_as_saved(framework_workers, meta, tmp_path, {"keep_prob:0": 1.0})
    assert [spec.name for spec in result.config.fed_inputs] == ["x:0"]
    assert result.config.outputs == ("y:0",)


@pytest.mark.slow
def test_a_tf2_while_loop_in_a_tf1_checkpoint_is_refused_naming_the_while_node(
    framework_workers: Workers, tmp_path: Path
) -> None:
    meta = build(framework_workers, "write_rnn_checkpoint", str(tmp_path), False, "default", True)

    message = refusal(framework_workers, meta, tmp_path)

    assert "TF2 control flow found, node(s) ['rnn/while']" in message
    assert "tf.compat.v1.disable_control_flow_v2()" in message


@pytest.mark.slow
def test_a_keras_export_saved_model_converts_its_lstm_into_one_fused_node(
    framework_workers: Workers, tmp_path: Path
) -> None:
    folder = build(framework_workers, "write_keras_export", str(tmp_path))

    result = convert_as_saved(framework_workers, folder, tmp_path, keys=signature_keys)

    assert [node.op for node in result.recurrent_nodes] == ["LSTM"]


def test_a_loss_only_the_gradients_consume_is_still_the_loss_and_the_logits_come_first(
    framework_workers: Workers,
) -> None:
    message = framework_workers.run_tf(
        f"{MODELS}:refusal_of_a_per_example_loss_graph", timeout=180, model="per_example_loss"
    )
    assert "its unconsumed nodes ['per_example:0'] are the loss" in message
    # logits depends on x alone; the loss's own nodes also on labels.
    assert "the nodes that feed the loss: ['logits:0'," in message
    assert "--outputs logits:0" in message
