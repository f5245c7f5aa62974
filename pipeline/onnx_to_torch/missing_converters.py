"""The nodes onnx2torch has no converter for, and what the user can do about each.

onnx2torch stops at the first such node with ``Converter is not implemented
(OperationDescription(...))``, naming the op but not the node. ``missing_converters``
names every one, subgraph bodies (Scan, Loop, If) included, with its op, opset and advice.
"""

from __future__ import annotations

from collections.abc import Iterator

import onnx
from onnx2torch.node_converters import get_converter

_DEFAULT_DOMAINS = ("", "ai.onnx")
_RANDOM = "a random op, such as a dropout mask: pin keep_prob (--pin NAME:0=1.0)"
_NOISE = "a random op (noise for training): export the model for inference"
_ADVICE = {
    "Loop": (
        "an ONNX Loop comes from a while-loop no rewriter fused (TF2 control flow, or a Keras "
        "model saved as a SavedModel): convert the Keras .keras/.h5 file itself, whose "
        "recurrent layers become fused nodes, or build a TF graph again with "
        "tf.compat.v1.disable_control_flow_v2()"
    ),
    "RandomUniform": _RANDOM,
    "RandomUniformLike": _RANDOM,
    "RandomNormal": _NOISE,
    "RandomNormalLike": _NOISE,
}


def missing_converters(model: onnx.ModelProto) -> list[str]:
    """One line per node without a converter: where it is, its op and opset, the advice."""
    opsets = {_domain(entry.domain): entry.version for entry in model.opset_import}
    problems = []
    for where, node in _nodes(model.graph, "graph"):
        domain = _domain(node.domain)
        version = opsets.get(domain)
        label = f"node {node.name or '(unnamed)'!r} ({node.op_type}) in {where}"
        if version is None:
            problems.append(f"{label}: its domain {domain!r} is not in the model's opset_import")
            continue
        try:
            get_converter(operation_type=node.op_type, version=version, domain=domain)
        except NotImplementedError:
            advice = _ADVICE.get(node.op_type, "onnx2torch has no converter for this op")
            problems.append(
                f"{label}: no converter for {node.op_type} at opset {version}; {advice}"
            )
    return problems


def count_nodes(graph: onnx.GraphProto) -> int:
    return sum(1 for _ in _nodes(graph, "graph"))


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
