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
from collections.abc import Iterator

import onnx
from onnx2torch.node_converters import get_converter

from pipeline.errors import TorchImportError
from pipeline.onnx_to_torch.importer import import_onnx
from pipeline.onnx_to_torch.registry import register_converters

logger = logging.getLogger(__name__)

_DEFAULT_DOMAINS = ("", "ai.onnx")


def check_importable(onnx_path: str) -> dict:
    """Raise ``TorchImportError`` listing every node that onnx2torch cannot import."""
    register_converters()
    model = onnx.load(onnx_path, load_external_data=False)
    opsets = {_domain(entry.domain): entry.version for entry in model.opset_import}
    problems = []
    num_nodes = 0
    for where, node in _nodes(model.graph, "graph"):
        num_nodes += 1
        domain = _domain(node.domain)
        version = opsets.get(domain)
        label = f"node {node.name or '(unnamed)'!r} ({node.op_type}) in {where}"
        if version is None:
            problems.append(f"{label}: its domain {domain!r} is not in the model's opset_import")
            continue
        try:
            get_converter(operation_type=node.op_type, version=version, domain=domain)
        except NotImplementedError:
            problems.append(f"{label}: no converter for {node.op_type} at opset {version}")
    if problems:
        raise TorchImportError(
            f"onnx2torch cannot import {len(problems)} node(s) of {onnx_path}: "
            + "; ".join(problems)
            + ". Each needs a converter registered in pipeline/onnx_to_torch/registry.py "
            "(onnx2torch's add_converter), or a model without that op"
        )
    logger.debug("%s: onnx2torch has a converter for all %d nodes", onnx_path, num_nodes)
    import_onnx(model)
    return {"nodes_checked": num_nodes}


def _nodes(graph: onnx.GraphProto, where: str) -> Iterator[tuple[str, onnx.NodeProto]]:
    """Every node, with subgraph bodies (Scan, Loop, If) after the node that holds them."""
    for node in graph.node:
        yield where, node
        for attribute in node.attribute:
            subgraphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else []
            for subgraph in [*subgraphs, *attribute.graphs]:
                yield from _nodes(subgraph, f"the {attribute.name!r} body of {node.name!r}")


def _domain(domain: str) -> str:
    return "" if domain in _DEFAULT_DOMAINS else domain
