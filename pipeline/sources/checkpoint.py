"""A TF1 checkpoint as the source: its ``.meta`` graph, restored and frozen (TF worker only).

``tf.compat.v1.train.import_meta_graph`` rebuilds the graph and its ``Saver``; the Saver
restores the variables from the prefix (``pipeline.sources.formats.checkpoint_prefix``) in
a session; ``freeze_session`` (what ``convert_variables_to_constants`` does) then freezes
every variable the requested outputs read into a constant and prunes the rest. The user
runs no freeze script.

Such a graph has no signature: its inputs default to the placeholders the outputs need, its
outputs to its unconsumed nodes (``pipeline.sources.graph_defaults``); a training graph has
no default outputs. Outputs inside a TF1 while-loop, and TF2 while-loops (``While`` with
``TensorList`` ops, which no export turns into a recurrent node) are refused up front.
"""

from __future__ import annotations

import logging
from pathlib import Path

import tensorflow as tf
from google.protobuf import message

from pipeline.errors import SourceError
from pipeline.sources import formats
from pipeline.sources.frozen_graph import node_name
from pipeline.sources.graph_defaults import (
    TF1_LOOP_ADVICE,
    default_outputs,
    freeze_session,
    placeholder_inputs,
    refuse_loop_internals,
    refuse_tensor_list_loops,
    unconsumed_outputs,
)
from pipeline.sources.signature import SourceDescription, TensorDescription

logger = logging.getLogger(__name__)

KIND = "TF1 checkpoint"


def freeze_checkpoint(
    meta_path: str | Path, output_names: list[str]
) -> tuple[tf.compat.v1.GraphDef, SourceDescription]:
    """The frozen graph of the checkpoint, and its inputs and outputs.

    ``output_names`` (tensor names) pick what is kept; empty, the unconsumed nodes are.
    """
    meta_path = Path(meta_path)
    try:
        prefix = formats.checkpoint_prefix(meta_path)
    except FileNotFoundError as error:
        raise SourceError(str(error)) from error
    graph = tf.Graph()
    with graph.as_default():
        saver = _import_meta_graph(meta_path)
        graph_def = graph.as_graph_def()
        saver_scope = _saver_scope(saver)
        outputs = [TensorDescription(name) for name in output_names]
        if not outputs:
            outputs = default_outputs(graph_def, [saver_scope], meta_path.name)
        _check_outputs(graph_def, outputs, saver_scope, meta_path)
        refuse_loop_internals(graph_def, [tensor.name for tensor in outputs], meta_path.name)
        with tf.compat.v1.Session(graph=graph) as session:
            if saver is not None:
                _restore(saver, session, prefix)
            frozen = freeze_session(
                session, graph_def, sorted({node_name(tensor.name) for tensor in outputs})
            )
    refuse_tensor_list_loops(frozen, meta_path.name, TF1_LOOP_ADVICE)
    logger.info(
        "%s %s: variables restored from %s and frozen; %d nodes kept for %d output(s)",
        KIND,
        meta_path.name,
        prefix.name,
        len(frozen.node),
        len(outputs),
    )
    description = SourceDescription(
        kind=KIND,
        inputs=tuple(placeholder_inputs(frozen)),
        outputs=tuple(outputs),
        origin="its placeholders and unconsumed nodes (a checkpoint has no signature)",
    )
    return frozen, description


def _import_meta_graph(meta_path: Path) -> tf.compat.v1.train.Saver | None:
    try:
        return tf.compat.v1.train.import_meta_graph(str(meta_path), clear_devices=True)
    except (ValueError, OSError, KeyError, message.DecodeError, tf.errors.OpError) as error:
        raise SourceError(
            f"TensorFlow cannot read {meta_path} as a TF1 MetaGraph ({type(error).__name__}: "
            f"{error}); give the .meta file a tf.compat.v1.train.Saver wrote"
        ) from error


def _saver_scope(saver: tf.compat.v1.train.Saver | None) -> str:
    if saver is None:
        return ""
    return saver.saver_def.filename_tensor_name.rpartition("/")[0]


def _restore(saver: tf.compat.v1.train.Saver, session: tf.compat.v1.Session, prefix: Path) -> None:
    try:
        saver.restore(session, str(prefix))
    except (ValueError, tf.errors.OpError) as error:
        raise SourceError(
            f"cannot restore the variables of the checkpoint {prefix} into its graph "
            f"({type(error).__name__}: {str(error).splitlines()[0]}); the .meta and the "
            "variables must come from the same Saver.save"
        ) from error


def _check_outputs(
    graph_def: tf.compat.v1.GraphDef,
    outputs: list[TensorDescription],
    saver_scope: str,
    meta_path: Path,
) -> None:
    if not outputs:
        raise SourceError(
            f"{meta_path.name}: no node of the graph looks like an output (every node is "
            "consumed, or serves saving, training or initialisation); name the outputs "
            "(--outputs NAME:0,...)"
        )
    names = {node.name for node in graph_def.node}
    missing = [tensor.name for tensor in outputs if node_name(tensor.name) not in names]
    if missing:
        candidates = [tensor.name for tensor in unconsumed_outputs(graph_def, [saver_scope])]
        raise SourceError(
            f"{meta_path.name}: outputs {missing} name no node of the graph; its unconsumed "
            f"nodes are {candidates[:20]}; name outputs as node:index"
        )
