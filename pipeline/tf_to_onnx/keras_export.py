"""Keras models to ONNX, each recurrent layer one fused ONNX ``LSTM``/``GRU``/``RNN`` node.

Runs in the TF worker. tf2onnx 1.17's ``from_keras`` fails on Keras 3, and tracing a Keras 3
recurrent layer yields a ``While`` loop that tf2onnx writes as an ONNX ``Loop``. So:

1. the model is cloned with each recurrent layer replaced by a stand-in op
   (``keras/stand_in.py``), which also refuses, by layer name, what has no exact form;
2. the clone is traced and frozen into a GraphDef (``keras/trace.py``);
3. tf2onnx converts it through ``convert_graph_def`` with our handlers, plus one for the
   stand-in op that writes the layer's ONNX node from the original weights
   (``keras/handler.py``);
4. the checks of ``export_graph_def`` follow: refusals, ops tf2onnx left unconverted, and
   here also any ``Loop`` or ``Scan``: a loop is never written silently;
5. graph inputs and outputs are renamed to ``input_names(model)`` and the output names.

Only the requested outputs (``outputs``, by default every one the model returns) are
converted, in the order requested, as a SavedModel is frozen to its requested outputs:
tf2onnx then drops every node they do not need. A tensor the model returns twice is one
output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import keras
import onnx
from tf2onnx.graph import Graph, Node

from pipeline.errors import NoExactConversionError, SourceError
from pipeline.sources.keras_model import input_names, returned_names
from pipeline.tf_to_onnx.export import (
    ExportResult,
    check_export,
    check_opset,
    tf2onnx_errors_reported_by_us,
)
from pipeline.tf_to_onnx.handlers import custom_op_handlers
from pipeline.tf_to_onnx.keras.handler import STAND_IN_OP, StandInCall, convert_stand_in
from pipeline.tf_to_onnx.keras.stand_in import clone_with_stand_ins
from pipeline.tf_to_onnx.keras.trace import freeze_model
from pipeline.tf_to_onnx.records import ExportLog
from pipeline.tf_to_onnx.tf2onnx_entry import convert_graph_def

logger = logging.getLogger(__name__)

_LOOP_OPS = ("Loop", "Scan")
_KERAS_HINT = "Replace the Keras layers holding them with layers made of standard TensorFlow ops."


def _keras_hint(op_types: set[str]) -> str:
    return _KERAS_HINT


def export_keras_model(
    model: keras.Model, opset: int, outputs: list[str] | None = None
) -> ExportResult:
    """Convert ``model``; ONNX inputs ``input_names(model)``, outputs ``outputs`` in order.

    ``outputs`` are names of ``output_names(model)``; ``None`` means all of them.
    """
    check_opset(opset)
    calls: dict[str, StandInCall] = {}
    clone = clone_with_stand_ins(model, calls)
    sources, returned = input_names(model), returned_names(model)
    targets = list(dict.fromkeys(returned)) if outputs is None else list(outputs)
    _check_outputs(targets, returned, model.name)
    frozen = freeze_model(clone, [name.rsplit(":", 1)[0] for name in sources])
    # The first traced tensor of each name: a tensor returned twice is traced twice.
    traced = {name: frozen.output_names[returned.index(name)] for name in targets}

    log = ExportLog()
    handlers = custom_op_handlers(log)
    handlers[STAND_IN_OP] = (partial(_stand_in_handler, calls, log), [])
    with tf2onnx_errors_reported_by_us():
        converted = convert_graph_def(
            frozen.graph_def, frozen.input_names, list(traced.values()), opset, handlers, None
        )
    check_export(converted, log, _keras_hint)
    _check_no_loops(converted, model.name)
    _rename_values(
        converted.graph,
        dict(zip(frozen.input_names, sources, strict=True))
        | {tensor: name for name, tensor in traced.items()},
    )
    converted.graph.name = model.name
    logger.info(
        "exported Keras model %r: %d recurrent layer call(s) as fused nodes, %d ONNX nodes "
        "at opset %d",
        model.name,
        len(log.nodes),
        len(converted.graph.node),
        opset,
    )
    return ExportResult(model=converted, recurrent_nodes=log.nodes)


def _stand_in_handler(
    calls: dict[str, StandInCall], log: ExportLog, ctx: Graph, node: Node, name: str, args: list
) -> None:
    """tf2onnx swallows handler errors; note each one so that the export refuses."""
    try:
        convert_stand_in(ctx, node, calls, log)
    except Exception as error:
        if not log.refusals:
            log.refusals.append(
                f"stand-in node {node.name!r}: writing its fused ONNX node failed: "
                f"{type(error).__name__}: {error}"
            )
        raise


def _check_outputs(targets: list[str], returned: list[str], model_name: str) -> None:
    known = list(dict.fromkeys(returned))
    unknown = [name for name in targets if name not in known]
    if unknown:
        raise SourceError(
            f"outputs {unknown} are not outputs of the Keras model {model_name!r}; its outputs "
            f"are {known}"
        )
    repeated = sorted({name for name in targets if targets.count(name) > 1})
    if repeated:
        raise SourceError(f"Keras model {model_name!r}: outputs {repeated} are asked for twice")


def _check_no_loops(model: onnx.ModelProto, model_name: str) -> None:
    loops = [node for node in model.graph.node if node.op_type in _LOOP_OPS]
    if loops:
        listing = ", ".join(f"{node.op_type} {node.name!r}" for node in loops)
        raise NoExactConversionError(
            f"Keras model {model_name!r}: the export holds {listing}, a loop no layer of ours "
            "wrote (a custom recurrent layer or a tf.while_loop in a layer). Only LSTM, GRU, "
            "SimpleRNN and Bidirectional of them become fused nodes; rebuild the layer as one."
        )


def _rename_values(graph: onnx.GraphProto, renames: dict[str, str]) -> None:
    """Rename graph values at once (``renames`` maps old to new names)."""
    renames = {old: new for old, new in renames.items() if old != new}
    if not renames:
        return
    taken = _value_names(graph) - set(renames)
    clashes = sorted(set(renames.values()) & taken)
    if clashes:
        raise NoExactConversionError(
            f"cannot name the ONNX graph's inputs and outputs {clashes}: other values of the "
            "exported graph carry those names. Rename the Keras layers concerned."
        )
    rename: Callable[[str], str] = lambda name: renames.get(name, name)  # noqa: E731
    for node in graph.node:
        node.input[:] = [rename(name) for name in node.input]
        node.output[:] = [rename(name) for name in node.output]
    for value in (*graph.input, *graph.output, *graph.value_info):
        value.name = rename(value.name)
    for tensor in graph.initializer:
        tensor.name = rename(tensor.name)


def _value_names(graph: onnx.GraphProto) -> set[str]:
    names = {value.name for value in (*graph.input, *graph.output)}
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
    return names
