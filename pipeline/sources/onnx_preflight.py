"""Before an ONNX source is converted: does onnx2torch have a converter for every node?

onnx2torch stops at the first op it has no converter for, and names the op but not the
node. This check runs first and names every such node at once, with its op and opset. Runs
in the torch worker (onnx2torch imports torch); returns plain data.

Then the model is imported once (``import_onnx``), so that a converter that exists but
refuses a node (weights that are not constants, an activation ONNX does not define) says so,
naming the node and the attribute, before onnxruntime or the torch stage runs.
"""

from __future__ import annotations

import logging

import onnx

from pipeline.errors import TorchImportError
from pipeline.onnx_to_torch.importer import import_onnx
from pipeline.onnx_to_torch.missing_converters import count_nodes, missing_converters
from pipeline.onnx_to_torch.registry import register_converters

logger = logging.getLogger(__name__)


def check_importable(onnx_path: str) -> dict:
    """Raise ``TorchImportError`` listing every node that onnx2torch cannot import."""
    register_converters()
    model = onnx.load(onnx_path, load_external_data=False)
    problems = missing_converters(model)
    if problems:
        raise TorchImportError(
            f"onnx2torch cannot import {len(problems)} node(s) of {onnx_path}: "
            + "; ".join(problems)
        )
    num_nodes = count_nodes(model.graph)
    logger.debug("%s: onnx2torch has a converter for all %d nodes", onnx_path, num_nodes)
    import_onnx(model)
    return {"nodes_checked": num_nodes}
