"""The input arrays every framework is fed: made from the config, or read from an ``.npz``.

Random inputs are drawn from one ``numpy.random.default_rng(seed)`` in config order:

- floats: uniform in ``[-1, 1)``;
- integers: uniform in ``[0, 10)``, except where an integer input looks like sequence
  lengths beside a sequence input: a scalar, or a vector ``[B]`` beside a float input of
  ``[T, B, I]`` or ``[B, T, I]``. Those are uniform in ``[0, T]`` (every value a valid length;
  where both readings fit, or for a scalar, the smaller step count). Pin or give an ``.npz``
  for other index inputs whose valid range is narrower;
- bools: true or false with equal odds.

Pinned inputs are constants folded into the graph, so they are never part of the arrays.
Arrays cross process boundaries as ``.npz`` files keyed by tensor name (``"x:0"``; for an
ONNX source, the ONNX value name). An ONNX source's expected outputs come from an ``.npz``
keyed by output name (``load_expected_npz``).
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pipeline.config import InputSpec, ModelConfig
from pipeline.errors import ConfigError, ConversionError

logger = logging.getLogger(__name__)

_INT_HIGH = 10


def make_inputs(config: ModelConfig) -> dict[str, np.ndarray]:
    """The arrays to feed, keyed by tensor name: from ``config.inputs_npz`` or seeded random."""
    if config.inputs_npz is not None:
        return load_inputs_npz(config.inputs_npz, config.fed_inputs)
    return random_inputs(config.fed_inputs, config.seed)


def random_inputs(specs: Sequence[InputSpec], seed: int) -> dict[str, np.ndarray]:
    """Seeded random arrays for ``specs``; every spec needs a shape."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for spec in specs:
        if spec.shape is None:
            raise ConfigError(
                f"input {spec.name!r} has no shape, so no random values can be made for it; "
                "give its shape, or its values through inputs_npz"
            )
        high = _INT_HIGH
        steps = _steps_beside(spec.shape, specs)
        if steps is not None:
            high = steps + 1
            logger.info("random %s: lengths in [0, %d], the steps of a sequence input",
                        spec.name, steps)  # fmt: skip
        arrays[spec.name] = _random_array(rng, spec.shape, np.dtype(spec.dtype), high)
    return arrays


def _steps_beside(shape: tuple[int, ...], specs: Sequence[InputSpec]) -> int | None:
    """The step count an integer input of ``shape`` is a length of (module docstring)."""
    if len(shape) > 1:
        return None
    steps = []
    for spec in specs:
        if np.dtype(spec.dtype).kind != "f" or spec.shape is None or len(spec.shape) != 3:
            continue
        first, second = spec.shape[:2]
        if not shape:  # a scalar: a step count of either reading
            steps.append(min(first, second))
        steps += [t for t, b in ((first, second), (second, first)) if shape and b == shape[0]]
    return min(steps, default=None)


def _random_array(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, int_high: int
) -> np.ndarray:
    if dtype.kind == "f":
        return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, int_high, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(size=shape) < 0.5
    raise ConfigError(f"cannot make random values of dtype {dtype}; give them through inputs_npz")


def load_inputs_npz(path: Path, specs: Sequence[InputSpec]) -> dict[str, np.ndarray]:
    """Read the arrays for ``specs`` from ``path`` and check their shapes and dtypes.

    An array is cast to its input's ``dtype`` when the config gives one; without one, an
    array of another kind (integers for a float default) keeps its own dtype.

    A key may be the tensor name (``"x:0"``) or the bare node name (``"x"``). Keys that no
    spec asks for are ignored (such files often hold expected outputs too).
    """
    stored = load_npz(path)
    arrays: dict[str, np.ndarray] = {}
    problems: list[str] = []
    for spec in specs:
        key = _find_key(stored, spec.name)
        if key is None:
            problems.append(f"no array for input {spec.name!r}")
            continue
        array = stored[key]
        if spec.shape is not None and array.shape != spec.shape:
            problems.append(
                f"{key!r} has shape {list(array.shape)}, the config says {list(spec.shape)}"
            )
            continue
        dtype = np.dtype(spec.dtype)
        if "dtype" not in spec.model_fields_set and array.dtype.kind != dtype.kind:
            # No dtype was asked for (the command line has no syntax for one): the file's own
            # kind wins, so integer lengths stay integers.
            dtype = array.dtype
        elif not np.can_cast(array.dtype, dtype, casting="same_kind"):
            problems.append(f"{key!r} has dtype {array.dtype}, which does not cast to {dtype}")
            continue
        if array.dtype != dtype:
            logger.info("inputs_npz %s: %r cast from %s to %s", path, key, array.dtype, dtype)
        arrays[spec.name] = array.astype(dtype, copy=False)
    if problems:
        raise ConfigError(
            f"inputs_npz {path} does not fit the inputs: {'; '.join(problems)}. "
            f"It holds {sorted(stored)}; fix the file, or the inputs (--inputs or the config)"
        )
    ignored = sorted(set(stored) - {_find_key(stored, spec.name) for spec in specs})
    if ignored:
        logger.debug("inputs_npz %s: ignoring arrays %s", path, ignored)
    return arrays


def load_expected_npz(path: Path, outputs: Sequence[str]) -> dict[str, np.ndarray]:
    """The expected array of each of ``outputs`` from ``path``; every one must be there.

    Keys that name no output are ignored, so one file may hold the inputs too.
    """
    stored = load_npz(path)
    missing = [name for name in outputs if name not in stored]
    if missing:
        raise ConfigError(
            f"expected_npz {path} has no array for the outputs {missing}; it holds "
            f"{sorted(stored)}. Key each expected output by its ONNX output name, or leave "
            "the output out of `outputs`"
        )
    return {name: stored[name] for name in outputs}


def _find_key(stored: Mapping[str, np.ndarray], tensor_name: str) -> str | None:
    node_name = tensor_name.rsplit(":", 1)[0]
    if tensor_name in stored:
        return tensor_name
    if tensor_name.endswith(":0") and node_name in stored:
        return node_name
    return None


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, loaded into memory; a clear error if it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ConversionError(f"cannot read {path} as an .npz of arrays: {error}") from error


def save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` uncompressed, keyed by tensor name."""
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    return path
