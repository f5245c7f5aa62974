"""Converting a model a test built, and checking the result against the source's own outputs.

The builders (``tests.sources.tf_models``, ``tf_graph_models``) save each model and write
``EXPECTED_NPZ`` beside it: its inputs and TensorFlow's (or Keras's) outputs on the model as
saved. Those, never the pipeline's, are the expected values.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.config import config_from_model_path
from pipeline.convert import ConversionResult, convert_model
from pipeline.errors import ConversionError
from pipeline.inputs import load_npz
from pipeline.isolation import Workers
from tests.end_to_end.helpers import ATOL, describe_errors
from tests.sources.tf_models import EXPECTED_NPZ

PARTIES = ("onnxruntime", "torch", "torch.export")
TF_MODELS = "tests.sources.tf_models"


def build(workers: Workers, builder: str, *args: Any, models: str = TF_MODELS) -> Path:
    """Run ``builder``, a function of the module ``models``, in the TF worker; the path it
    saved."""
    path = workers.run_tf(f"{models}:{builder}", *args, timeout=180, model=builder)
    return Path(path)


def convert(
    workers: Workers, source: Path, folder: Path, pins: dict | None = None, **options: Any
) -> ConversionResult:
    options = {"output_dir": folder / "out", "atol": ATOL, "rtol": 0.0, **options}
    return convert_model(config_from_model_path(source, options, pins), workers)


def convert_as_saved(
    workers: Workers,
    source: Path,
    folder: Path,
    pins: dict | None = None,
    keys: Callable[[ConversionResult], dict[str, str]] | None = None,
    **options: Any,
) -> ConversionResult:
    """``convert`` fed the inputs in ``folder``'s ``EXPECTED_NPZ``, and every party checked
    against the outputs there; ``keys`` maps each output to its key there where they differ
    (``signature_keys``)."""
    expected = folder / EXPECTED_NPZ
    result = convert(workers, source, folder, pins, inputs_npz=expected, **options)
    assert_matches_the_source(result, expected, keys(result) if keys else None)
    return result


def single_output_as(key: str) -> Callable[[ConversionResult], dict[str, str]]:
    """``keys`` for a model of one output, saved as ``key`` (a Keras model's ``y``)."""
    return lambda result: dict.fromkeys(result.config.outputs, key)


def refusal(workers: Workers, source: Path, folder: Path, **options: Any) -> str:
    """The message of the ``ConversionError`` converting ``source`` raises; nothing written."""
    with pytest.raises(ConversionError) as error:
        convert(workers, source, folder, **options)
    assert not (folder / "out").exists()
    return str(error.value)


def assert_matches_the_source(
    result: ConversionResult, expected_npz: Path, keys: dict[str, str] | None = None
) -> None:
    """TF's reference and every other party equal the source's own outputs within 1e-5."""
    assert result.passed, describe_errors(result)
    expected = load_npz(expected_npz)
    reference = load_npz(result.output_dir / "reference.npz")
    outputs = load_npz(result.output_dir / "outputs.npz")
    for output in result.config.outputs:
        want = expected[(keys or {}).get(output, output)]
        np.testing.assert_allclose(reference[output], want, rtol=0, atol=ATOL)
        for party in PARTIES:
            np.testing.assert_allclose(outputs[f"{party}/{output}"], want, rtol=0, atol=ATOL)


def signature_keys(result: ConversionResult) -> dict[str, str]:
    """Tensor name -> signature key, as the describe step reported them."""
    source = next(stage for stage in result.stages if stage.name == "source")
    return {entry["name"]: entry["key"] for entry in source.details["outputs"]}
