"""The ``.npz`` files a user gives (a source's arrays, the input ``x``), and the probe input.

A one-step input shows neither the recurrent kernel (``h`` is zero at the first step) nor
``forget_bias`` (it scales a zero cell state), so a port can agree with TF on it and still
differ on every longer input. The diagnosis therefore also scores every port on a probe of
its own: seeded random, ``[PROBE_STEPS, PROBE_STEPS, I]``, so that it has ``PROBE_STEPS``
steps whichever way it is read (time-major or batch-major).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from numpy.lib.npyio import NpzFile

from pipeline.errors import ConfigError, ConversionError

PROBE_STEPS = 5
_PROBE_SEED = 20240607


def read_npz(path: Path, what: str, error: type[ConversionError]) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``; ``what`` names it in the errors (``--input``)."""
    if not path.is_file():
        raise error(f"{what} {path}: no such file; expected an .npz (numpy.savez)")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, NpzFile):
            raise ValueError(f"a single .npy array of shape {np.shape(loaded)}")
        with loaded as arrays:
            return {name: np.asarray(arrays[name]) for name in arrays.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as failure:
        reason = str(failure).splitlines()[0] if str(failure) else type(failure).__name__
        if "pickled" in reason:  # numpy's guess for a file that is no zip archive
            reason = "not a zip archive of .npy arrays"
        raise error(
            f"{what} {path}: expected an .npz written by numpy.savez, received a file numpy "
            f"cannot read as one ({reason}); write it with numpy.savez(path, name=array, ...)"
        ) from None


def read_input(path: Path) -> np.ndarray:
    """The one array of ``--input``, checked to be ``[T, B, I]`` of numbers and not empty."""
    arrays = read_npz(path, "--input", ConfigError)
    names = list(arrays)
    if "x" not in names and len(names) != 1:
        raise ConfigError(f"--input {path}: expected one array (or one named 'x'), found {names}")
    x = arrays["x" if "x" in names else names[0]]
    if x.ndim != 3:
        raise ConfigError(f"--input {path}: expected a rank-3 array, received shape {x.shape}")
    if 0 in x.shape:
        raise ConfigError(
            f"--input {path}: expected a non-empty input, received shape {list(x.shape)}; "
            "feed the array (at least one step of one sequence) you fed both frameworks"
        )
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ConfigError(f"--input {path}: expected real numbers, received dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ConfigError(f"--input {path}: expected finite numbers, the input holds NaN or inf")
    return x.astype(np.float32)


def check_features(x: np.ndarray, path: Path, input_size: int, layer: str) -> None:
    """Refuse an input whose feature count is not the source's first layer's."""
    if x.shape[-1] != input_size:
        raise ConfigError(
            f"--input {path}: the input has {x.shape[-1]} features (shape {list(x.shape)}), "
            f"the source's layer {layer} takes {input_size}; feed the array you fed TF"
        )


def probe_input(input_size: int) -> np.ndarray:
    """The probe: ``[PROBE_STEPS, PROBE_STEPS, input_size]``, uniform in [-1, 1), seeded."""
    rng = np.random.default_rng(_PROBE_SEED)
    shape = (PROBE_STEPS, PROBE_STEPS, input_size)
    return rng.uniform(-1, 1, shape).astype(np.float32)
