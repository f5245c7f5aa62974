"""Fold shape computations to constants before the import, for a capturable program.

tf2onnx computes many shapes at run time (``Shape -> Gather -> Expand``). onnx2torch imports
them as modules that turn tensors into Python sizes, which ``torch.export`` cannot capture.
The exported program has fixed input shapes anyway, so the copy of the model handed to
onnx2torch is simplified for the shapes actually fed: onnx-simplifier folds every constant
subgraph (with onnxruntime, so the folded values are the ones onnxruntime computes). The
published ``model.onnx`` keeps its dynamic form.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import onnx
import onnxsim

logger = logging.getLogger(__name__)


def fold_for_shapes(model: onnx.ModelProto, inputs: Mapping[str, Any]) -> onnx.ModelProto:
    """``model`` folded for the shapes of ``inputs`` (arrays or tensors, keyed by graph input
    name; initializers listed as graph inputs are skipped); unchanged on failure."""
    shapes = {name: list(array.shape) for name, array in inputs.items()}
    try:
        folded, valid = onnxsim.simplify(model, overwrite_input_shapes=shapes)
    except Exception as error:  # onnxsim raises bare exceptions of many kinds
        logger.warning("onnx-simplifier could not fold the model (%s); importing it as is", error)
        return model
    if not valid:
        logger.warning("onnx-simplifier's result failed its own check; importing the model as is")
        return model
    logger.debug("folded %d nodes into %d", len(model.graph.node), len(folded.graph.node))
    return folded
