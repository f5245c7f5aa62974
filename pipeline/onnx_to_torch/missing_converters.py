"""Name the nodes onnx2torch has no converter for, and what the user can do about each.

onnx2torch stops at the first such node with ``Converter is not implemented
(OperationDescription(...))``; the import error lists every one, by node name, instead.
"""

from __future__ import annotations

import onnx
from onnx2torch.node_converters import get_converter

_ADVICE = {
    "Loop": (
        "an ONNX Loop comes from a while-loop no rewriter fused (TF2 control flow, or a Keras "
        "model saved as a SavedModel): convert the Keras .keras/.h5 file itself, whose "
        "recurrent layers become fused nodes, or build a TF graph again with "
        "tf.compat.v1.disable_control_flow_v2()"
    ),
    "RandomUniform": "a random op, such as a dropout mask: pin keep_prob (--pin NAME:0=1.0)",
    "RandomUniformLike": "a random op, such as a dropout mask: pin keep_prob (--pin NAME:0=1.0)",
    "RandomNormal": "a random op (noise for training): export the model for inference",
    "RandomNormalLike": "a random op (noise for training): export the model for inference",
}


def describe_missing_converters(model: onnx.ModelProto) -> str:
    """One clause per op type without a converter: its nodes and the advice for it."""
    versions = {entry.domain or "": entry.version for entry in model.opset_import}
    missing: dict[tuple[str, str], list[str]] = {}
    for index, node in enumerate(model.graph.node):
        domain = node.domain or ""
        try:
            get_converter(node.op_type, versions.get(domain, 1), domain)
        except NotImplementedError:
            key = (domain, node.op_type)
            missing.setdefault(key, []).append(node.name or f"#{index} {node.op_type}")
    clauses = []
    for (domain, op_type), names in missing.items():
        op = f"{domain}.{op_type}" if domain else op_type
        advice = _ADVICE.get(op_type, "onnx2torch has no converter for this op")
        shown = ", ".join(repr(name) for name in names[:3])
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        clauses.append(f"{op} node(s) {shown}{more} ({advice})")
    return "; ".join(clauses)
