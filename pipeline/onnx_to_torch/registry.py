"""The one place where our onnx2torch converters are registered.

``register_converters()`` adds them to onnx2torch's registry through its public
``add_converter`` decorator, keyed by (domain, op, since-version); it is called by
``pipeline.onnx_to_torch.importer.import_onnx`` and by nothing at import time. Calling it
again does nothing; a converter that someone else registered for the same key is an error.

- ``LSTM`` and ``RNN`` 7, 14, 22, ``GRU`` 3, 7, 14, 22:
  ``pipeline.onnx_to_torch.recurrent.convert_recurrent``.
- ``Constant`` 19, 21, 23, 24: onnx2torch 1.5.15 registers ``Constant`` only up to version
  13, so a model at opset 19 or later that holds its weights in ``Constant`` nodes would not
  import. Those versions only add element types; onnx2torch's own ``OnnxConstant`` module
  serves them. A version onnx2torch already covers is left to it.
- ``GreaterOrEqual`` and ``LessOrEqual`` 16: onnx2torch 1.5.15 registers them at version 12
  only; 16 adds bfloat16 and nothing else, so its own ``OnnxCompare`` serves them (tf2onnx
  writes them for a ``sequence_length`` under ``dynamic_rnn`` at opset 16 and later).
- ``ReverseSequence`` 10: ``pipeline.onnx_to_torch.reverse_sequence``.
- ``Scan`` 9 to 25: ``pipeline.onnx_to_torch.scan`` (tf2onnx writes TF1 while-loops as Scan).
- ``tfrnn.BlockLSTM``, our exact op for TF's fused LSTM: ``pipeline.onnx_to_torch.block_lstm``.
- ``Squeeze`` and ``Slice`` of our private domain: ``pipeline.onnx_to_torch.static_inputs``.
"""

from __future__ import annotations

import logging

import torch
from onnx2torch.node_converters.comparisons import OnnxCompare
from onnx2torch.node_converters.constant import OnnxConstant
from onnx2torch.node_converters.registry import add_converter, get_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node

from pipeline.errors import ConversionError
from pipeline.onnx_to_torch import static_inputs
from pipeline.onnx_to_torch.block_lstm import convert_block_lstm
from pipeline.onnx_to_torch.recurrent import convert_recurrent
from pipeline.onnx_to_torch.reverse_sequence import convert_reverse_sequence
from pipeline.onnx_to_torch.scan import convert_scan
from pipeline.recurrent import block_lstm_op

logger = logging.getLogger(__name__)

RECURRENT_VERSIONS = {"LSTM": (7, 14, 22), "GRU": (3, 7, 14, 22), "RNN": (7, 14, 22)}
CONSTANT_VERSIONS = (19, 21, 23, 24)
COMPARISON_VERSIONS = {"GreaterOrEqual": (16,), "LessOrEqual": (16,)}
SCAN_VERSIONS = (9, 11, 16, 19, 21, 23, 24, 25)

_registered = False


def register_converters() -> None:
    """Register our converters with onnx2torch, once per process."""
    global _registered
    if _registered:
        return
    for operation_type, versions in RECURRENT_VERSIONS.items():
        for version in versions:
            add_converter(operation_type=operation_type, version=version)(convert_recurrent)
    for version in CONSTANT_VERSIONS:
        if not _is_registered("Constant", version):
            add_converter(operation_type="Constant", version=version)(convert_constant)
    for operation_type, versions in COMPARISON_VERSIONS.items():
        for version in versions:
            if not _is_registered(operation_type, version):
                add_converter(operation_type=operation_type, version=version)(convert_comparison)
    for operation_type, converter in static_inputs.CONVERTERS.items():
        add_converter(operation_type, version=1, domain=static_inputs.STATIC_DOMAIN)(converter)
    add_converter(operation_type="ReverseSequence", version=10)(convert_reverse_sequence)
    for version in SCAN_VERSIONS:
        add_converter(operation_type="Scan", version=version)(convert_scan)
    add_converter(block_lstm_op.OP_TYPE, block_lstm_op.VERSION, domain=block_lstm_op.DOMAIN)(
        convert_block_lstm
    )
    _registered = True
    logger.debug("registered %s and Constant %s", RECURRENT_VERSIONS, CONSTANT_VERSIONS)


def convert_comparison(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """``GreaterOrEqual``/``LessOrEqual`` 16 by onnx2torch's own comparison module."""
    return OperationConverterResult(
        torch_module=OnnxCompare(operation_type=node.operation_type),
        onnx_mapping=onnx_mapping_from_node(node=node),
    )


def convert_constant(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """A ``Constant`` holding a tensor (``value``) or a number or list of numbers."""
    attribute, value = next(iter(node.attributes.items()))
    if attribute == "value":
        value = value.to_torch()
    elif attribute in ("value_float", "value_floats", "value_int", "value_ints"):
        value = torch.tensor(value)
    else:
        raise ConversionError(
            f"Constant node {node.name!r}: attribute {attribute!r} is not supported; "
            "use value, value_float(s) or value_int(s)"
        )
    return OperationConverterResult(
        torch_module=OnnxConstant(value), onnx_mapping=onnx_mapping_from_node(node)
    )


def _is_registered(operation_type: str, version: int) -> bool:
    try:
        get_converter(operation_type=operation_type, version=version)
    except NotImplementedError:
        return False
    return True
