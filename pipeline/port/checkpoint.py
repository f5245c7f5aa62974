"""The variables of a TF1 checkpoint, without its graph (runs in the TF worker).

``tf.train.load_checkpoint(prefix)`` reads the variables by name from the ``.index`` and
``.data-*`` files; the cells are then found by those names (``pipeline.port.variables``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from pipeline.errors import SourceError
from pipeline.port.layers import layers_to_npz
from pipeline.port.variables import layers_from_variables

logger = logging.getLogger(__name__)


def read_checkpoint(prefix: str, npz_path: str, forget_bias: float) -> list[dict]:
    """Every recurrent layer of the checkpoint ``prefix`` (or folder), as plain dicts."""
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (ValueError, tf.errors.OpError) as error:
        raise SourceError(
            f"{prefix} is not a readable TF checkpoint ({error}); give the prefix "
            "(model.ckpt, beside model.ckpt.index) or its folder"
        ) from error
    dtypes = reader.get_variable_to_dtype_map()
    variables = {
        name: np.asarray(reader.get_tensor(name))
        for name, dtype in dtypes.items()
        if dtype.is_floating
    }
    layers = layers_from_variables(
        variables, forget_bias=forget_bias, where=f"checkpoint {Path(prefix).name}"
    )
    logger.info("%s: %d variables, %d recurrent layer(s)", prefix, len(variables), len(layers))
    return layers_to_npz(layers, npz_path)
