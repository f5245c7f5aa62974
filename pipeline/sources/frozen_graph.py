"""TF1 frozen graphs: read them, pin inputs to constants, and run them in graph mode.

A frozen graph is a ``GraphDef`` whose variables are already constants, stored as binary
protobuf (``.pb``) or text (``.pbtxt``). Tensor names follow TensorFlow's ``node:index``
convention throughout (``"x:0"``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import message, text_format

from pipeline.errors import SourceError
from pipeline.sources.block_lstm_gates import (
    gate_consumers,
    gate_step_counts,
    warn_of_unwritten_reads,
    zero_unwritten_steps,
)

logger = logging.getLogger(__name__)

_PLACEHOLDER_OPS = ("Placeholder", "PlaceholderWithDefault")


def load_graph_def(path: str | Path) -> tf.compat.v1.GraphDef:
    """Read a frozen ``GraphDef`` from a binary ``.pb`` or a text ``.pbtxt`` file."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"source model {path} does not exist or is not a file")
    graph_def = tf.compat.v1.GraphDef()
    data = path.read_bytes()
    try:
        if path.suffix == ".pbtxt":
            text_format.Parse(data.decode("utf-8"), graph_def)
        else:
            graph_def.ParseFromString(data)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError) as error:
        raise SourceError(
            f"{path} is not a valid {'text' if path.suffix == '.pbtxt' else 'binary'} "
            f"GraphDef ({error}); is the file truncated, or saved in the other format?"
        ) from error
    if not graph_def.node:
        raise SourceError(f"{path} holds an empty GraphDef: no nodes to convert")
    logger.debug("read %s: %d nodes", path, len(graph_def.node))
    return graph_def


def node_name(tensor_name: str) -> str:
    """``"scope/x:0"`` -> ``"scope/x"``."""
    return tensor_name.split(":")[0]


def pin_inputs(
    graph_def: tf.compat.v1.GraphDef, pinned: Mapping[str, object]
) -> tf.compat.v1.GraphDef:
    """Replace placeholders by constants, so ops that only serve training fold away.

    ``pinned`` maps tensor names (``"keep_prob:0"``) to values. Each must name a
    placeholder of the graph; its dtype is kept.
    """
    if not pinned:
        return graph_def
    nodes = {node.name: node for node in graph_def.node}
    result = tf.compat.v1.GraphDef()
    result.CopyFrom(graph_def)
    by_name = {node.name: node for node in result.node}
    for tensor_name, value in pinned.items():
        name = node_name(tensor_name)
        node = nodes.get(name)
        if node is None or node.op not in _PLACEHOLDER_OPS:
            placeholders = sorted(n.name + ":0" for n in nodes.values() if n.op in _PLACEHOLDER_OPS)
            found = "absent" if node is None else f"a {node.op} node"
            raise SourceError(
                f"cannot pin {tensor_name!r}: expected a placeholder, found {found}; "
                f"the graph's placeholders are {placeholders}"
            )
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
        const = by_name[name]
        const.op = "Const"
        del const.input[:]
        const.attr.clear()
        const.attr["dtype"].type = dtype.as_datatype_enum
        array = np.asarray(value, dtype=dtype.as_numpy_dtype)
        const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(array))
        logger.info("pinned %s to a constant %s", tensor_name, array.tolist())
    return result


def run_graph(
    graph_def: tf.compat.v1.GraphDef,
    feeds: Mapping[str, np.ndarray],
    output_names: list[str],
) -> dict[str, np.ndarray]:
    """Run ``graph_def`` in TF1 graph mode and return the named outputs."""
    graph = tf.Graph()
    with graph.as_default():
        try:
            tf.compat.v1.import_graph_def(graph_def, name="")
        except (ValueError, tf.errors.OpError) as error:
            raise SourceError(f"TensorFlow cannot import the graph: {error}") from error
        tensors = {name: _tensor(graph, name, "output") for name in output_names}
        feed_dict = {_tensor(graph, name, "input"): value for name, value in feeds.items()}
        _check_feed_kinds(feed_dict)
        step_counts = gate_step_counts(tensors)
        consumed = gate_consumers(graph)
    with tf.compat.v1.Session(graph=graph) as session:
        try:
            values, counts, reads = session.run(
                (tensors, step_counts, consumed), feed_dict=feed_dict
            )
        except tf.errors.InvalidArgumentError as error:
            raise SourceError(_run_failure(error, _UNFED_HINT)) from error
        except tf.errors.OpError as error:
            raise SourceError(_run_failure(error, "")) from error
        except ValueError as error:  # a feed whose shape the placeholder does not accept
            raise SourceError(
                f"TensorFlow refused the inputs: {error}. Give each input the shape its "
                "placeholder declares (--inputs NAME:0[d0,d1,...] or the config's inputs)."
            ) from error
    warn_of_unwritten_reads(reads)
    values = {name: np.asarray(value) for name, value in values.items()}
    return zero_unwritten_steps(values, counts)


_UNFED_HINT = (
    " A placeholder without a value (such as a dropout keep_prob) can be pinned to a constant: "
    "--pin NAME:0=VALUE, or `value:` on the input in the config."
)


_TF_MESSAGE_NOISE = ("Graph execution error", "Detected at node", "Node:", "File ", "[[")


def _run_failure(error: tf.errors.OpError, hint: str) -> str:
    node = error.op.name if error.op is not None else "?"
    # NOTE: TF wraps the reason in a header and a Python traceback of where the graph was
    # built; keep the paragraphs that state the reason itself.
    lines = [line.strip() for line in error.message.splitlines()]
    reasons = [line for line in lines if line and not line.startswith(_TF_MESSAGE_NOISE)]
    message = " ".join(reasons) or error.message.strip()
    if hint and "must feed a value for placeholder" not in message:
        hint = ""
    return f"TensorFlow failed to run the graph at node {node!r}: {message}.{hint}"


def _check_feed_kinds(feed_dict: Mapping[tf.Tensor, np.ndarray]) -> None:
    """Refuse values of another kind than their placeholder's (floats for an int32 length):
    TF would cast them, onnxruntime refuse them."""
    for tensor, value in feed_dict.items():
        expected = np.dtype(tensor.dtype.as_numpy_dtype)
        if np.asarray(value).dtype.kind != expected.kind:
            raise SourceError(
                f"input {tensor.name!r} is a {expected.name} placeholder, but its values are "
                f"{np.asarray(value).dtype} (an input without a dtype is float32 unless the "
                f"source declares one): give `dtype: {expected.name}` on the input in a "
                "config, or its values through --inputs-npz"
            )


def _tensor(graph: tf.Graph, name: str, role: str) -> tf.Tensor:
    try:
        return graph.get_tensor_by_name(name)
    except (KeyError, ValueError) as error:
        raise SourceError(
            f"{role} {name!r} is not a tensor of the graph ({error}); "
            "name tensors as node:index, for example 'x:0'"
        ) from error
