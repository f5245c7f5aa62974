"""A SavedModel as the source: one signature, frozen into a ``GraphDef`` (TF worker only).

The MetaGraph is chosen by ``tags`` (default ``["serve"]``) and the function by the
``signature`` key (default ``"serving_default"``); a wrong one is an error listing those the
SavedModel has. TF1 or TF2 is decided from the MetaGraph, as ``tf.saved_model.load`` does:
``tf.saved_model.save`` writes an object graph, a TF1 builder none.

- **TF1** (``tf.compat.v1.saved_model.loader.load`` into a session): the variables are
  frozen into constants for the signature's output tensors, named as in the graph
  (``"x:0"``). A MetaGraph without signatures defaults to its placeholders and unconsumed
  nodes (``pipeline.sources.graph_defaults``), as a checkpoint does, and its TF2 while-loops
  are refused as a checkpoint's are.
- **TF2** (``tf.saved_model.load``): the signature's concrete function is frozen with
  ``convert_variables_to_constants_v2``, its while-loops kept as ``While`` ops (so that
  tf2onnx fuses a Keras recurrent layer into one ONNX node). Tensor names are the frozen
  graph's (``"x:0"``, ``"Identity:0"``); the log says which signature key each one is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import tensorflow as tf
from google.protobuf import message, text_format
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

from pipeline.errors import SourceError
from pipeline.sources.frozen_graph import node_name
from pipeline.sources.graph_defaults import (
    TF1_LOOP_ADVICE,
    default_outputs,
    freeze_session,
    numpy_dtype_name,
    placeholder_inputs,
    refuse_loop_internals,
    refuse_tensor_list_loops,
    shape_of,
)
from pipeline.sources.signature import SourceDescription, TensorDescription

logger = logging.getLogger(__name__)

TF1_KIND = "TF1 SavedModel"
TF2_KIND = "TF2 SavedModel"


def freeze_saved_model(
    folder: str | Path, tags: Sequence[str], signature_key: str, output_names: list[str]
) -> tuple[tf.compat.v1.GraphDef, SourceDescription]:
    """The frozen graph of one signature, and its inputs and outputs.

    ``output_names`` (tensor names) replace the signature's outputs when given.
    """
    folder = Path(folder)
    meta_graph = _meta_graph(folder, list(tags))
    if meta_graph.HasField("object_graph_def") and meta_graph.object_graph_def.nodes:
        logger.info("SavedModel %s: TF2 (it holds an object graph)", folder.name)
        frozen, description = _freeze_tf2(folder, list(tags), signature_key, output_names)
    else:
        logger.info("SavedModel %s: TF1 (it holds no object graph)", folder.name)
        frozen, description = _freeze_tf1(folder, list(tags), signature_key, output_names)
    for tensor in (*description.inputs, *description.outputs):
        if tensor.key:
            logger.info("%s: signature key %r is tensor %s", folder.name, tensor.key, tensor.name)
    return frozen, description


def _meta_graph(folder: Path, tags: list[str]) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraph tagged ``tags``, read from the proto without loading anything."""
    proto = saved_model_pb2.SavedModel()
    binary, text = folder / "saved_model.pb", folder / "saved_model.pbtxt"
    try:
        if binary.is_file():
            proto.ParseFromString(binary.read_bytes())
        else:
            text_format.Parse(text.read_text(encoding="utf-8"), proto)
    except (OSError, message.DecodeError, text_format.ParseError) as error:
        raise SourceError(
            f"cannot read the SavedModel in {folder} ({type(error).__name__}: {error}); is "
            "saved_model.pb complete?"
        ) from error
    available = [sorted(graph.meta_info_def.tags) for graph in proto.meta_graphs]
    for graph in proto.meta_graphs:
        if set(graph.meta_info_def.tags) == set(tags):
            return graph
    raise SourceError(
        f"the SavedModel in {folder} has no MetaGraph tagged {tags}; its tag sets are "
        f"{available}: give one as `tags:` (--tags {','.join(available[0]) if available else ''})"
    )


def _load_error(folder: Path, error: Exception) -> SourceError:
    return SourceError(
        f"TensorFlow cannot load the SavedModel in {folder} ({type(error).__name__}: {error}); "
        "is the folder complete (saved_model.pb and variables/)?"
    )


def _signature_error(folder: Path, key: str, available: Sequence[str]) -> SourceError:
    return SourceError(
        f"the SavedModel in {folder} has no signature {key!r}; its signatures are "
        f"{sorted(available)}: give one as `signature:` (--signature NAME)"
    )


def _freeze_tf1(
    folder: Path, tags: list[str], signature_key: str, output_names: list[str]
) -> tuple[tf.compat.v1.GraphDef, SourceDescription]:
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        try:
            meta_graph = tf.compat.v1.saved_model.loader.load(session, tags, str(folder))
        except (RuntimeError, ValueError, OSError, tf.errors.OpError) as error:
            raise _load_error(folder, error) from error
        graph_def = graph.as_graph_def()
        signatures = meta_graph.signature_def
        if signatures:
            if signature_key not in signatures:
                raise _signature_error(folder, signature_key, list(signatures))
            inputs, outputs = _tf1_signature(signatures[signature_key])
            origin = f"signature {signature_key!r}"
        else:
            logger.info("SavedModel %s has no signatures; using the graph's own", folder.name)
            saver_scope = meta_graph.saver_def.filename_tensor_name.rpartition("/")[0]
            inputs, outputs = [], []
            if not output_names:
                outputs = default_outputs(graph_def, [saver_scope or "save"], folder.name)
            origin = "its placeholders and unconsumed nodes (it has no signature)"
        if output_names:
            outputs = [TensorDescription(name) for name in output_names]
        names = {node.name for node in graph_def.node}
        missing = [tensor.name for tensor in outputs if node_name(tensor.name) not in names]
        if missing or not outputs:
            raise SourceError(
                f"the SavedModel in {folder}: outputs {missing or '(none found)'} name no node "
                "of its graph; name outputs as node:index (--outputs NAME:0,...)"
            )
        refuse_loop_internals(graph_def, [tensor.name for tensor in outputs], folder.name)
        frozen = freeze_session(
            session, graph_def, sorted({node_name(tensor.name) for tensor in outputs})
        )
    refuse_tensor_list_loops(frozen, folder.name, TF1_LOOP_ADVICE)
    if not signatures:
        inputs = placeholder_inputs(frozen)
    return frozen, SourceDescription(TF1_KIND, tuple(inputs), tuple(outputs), origin=origin)


def _tf1_signature(
    signature: meta_graph_pb2.SignatureDef,
) -> tuple[list[TensorDescription], list[TensorDescription]]:
    def describe(key: str, info: meta_graph_pb2.TensorInfo) -> TensorDescription:
        shape = shape_of(tf.TensorShape(info.tensor_shape))
        return TensorDescription(info.name, numpy_dtype_name(info.dtype), shape, key)

    inputs = [describe(key, info) for key, info in sorted(signature.inputs.items())]
    outputs = [describe(key, info) for key, info in sorted(signature.outputs.items())]
    return inputs, outputs


def _freeze_tf2(
    folder: Path, tags: list[str], signature_key: str, output_names: list[str]
) -> tuple[tf.compat.v1.GraphDef, SourceDescription]:
    try:
        loaded = tf.saved_model.load(str(folder), tags=tags)
    except (RuntimeError, ValueError, OSError, tf.errors.OpError) as error:
        raise _load_error(folder, error) from error
    signatures = loaded.signatures
    if signature_key not in signatures:
        if not signatures:
            raise SourceError(
                f"the TF2 SavedModel in {folder} has no signatures, so nothing says what to "
                "convert; save it with tf.saved_model.save(obj, path, signatures=...)"
            )
        raise _signature_error(folder, signature_key, list(signatures))
    # NOTE: lowered, a TF2 while-loop (a Keras 3 LSTM, GRU or SimpleRNN layer) becomes TF1
    # control flow around TensorList ops that tf2onnx cannot convert; kept as a While,
    # tf2onnx's TF2 LSTM/GRU rewriters fuse it into one ONNX node.
    frozen_function = convert_variables_to_constants_v2(
        signatures[signature_key], lower_control_flow=False
    )
    graph_def = frozen_function.graph.as_graph_def()
    argument_keys = set(signatures[signature_key].structured_input_signature[1])
    inputs = [
        TensorDescription(
            tensor.name,
            numpy_dtype_name(tensor.dtype),
            shape_of(tensor.shape),
            node_name(tensor.name) if node_name(tensor.name) in argument_keys else "",
        )
        for tensor in frozen_function.inputs
    ]
    # The frozen function keeps the outputs in the order nest.flatten gives the signature's
    # dict: sorted by key.
    structured = signatures[signature_key].structured_outputs
    keys = sorted(structured) if isinstance(structured, dict) else []
    if len(keys) != len(frozen_function.outputs):
        keys = [""] * len(frozen_function.outputs)
    outputs = [
        TensorDescription(tensor.name, numpy_dtype_name(tensor.dtype), shape_of(tensor.shape), key)
        for key, tensor in zip(keys, frozen_function.outputs, strict=True)
    ]
    if output_names:
        outputs = [TensorDescription(name) for name in output_names]
    description = SourceDescription(
        TF2_KIND, tuple(inputs), tuple(outputs), origin=f"signature {signature_key!r}"
    )
    return graph_def, description
