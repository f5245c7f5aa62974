"""Which format a source path holds, and which files make it up. No framework is imported.

The path decides, unless the config names the format (``format:``, ``--format``):

- ``frozen_graph``: a ``.pb`` (binary) or ``.pbtxt`` (text) ``GraphDef``;
- ``saved_model``: a folder holding ``saved_model.pb`` (or ``.pbtxt``), or that file itself;
- ``checkpoint``: a TF1 ``.meta`` graph. Its variables are the ``.meta`` path without
  ``.meta`` when that prefix's ``.index`` is there, else the latest checkpoint the
  ``checkpoint`` file beside it names;
- ``keras``: a Keras ``.keras``, ``.h5`` or ``.hdf5`` file;
- ``onnx``: an ``.onnx`` model.

``onnx`` is converted as given; every other format is a TensorFlow source.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

FROZEN_GRAPH = "frozen_graph"
SAVED_MODEL = "saved_model"
CHECKPOINT = "checkpoint"
KERAS = "keras"
ONNX = "onnx"

SourceFormat = Literal["frozen_graph", "saved_model", "checkpoint", "keras", "onnx"]
FORMATS: tuple[str, ...] = (FROZEN_GRAPH, SAVED_MODEL, CHECKPOINT, KERAS, ONNX)

DESCRIBED_FORMATS = (SAVED_MODEL, CHECKPOINT, KERAS)
"""Formats whose inputs and outputs default to what the source declares (the TF worker's
``describe`` step); a frozen graph's must be given."""

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
CHECKPOINT_STATE = "checkpoint"
"""The text file TF1's ``Saver`` keeps beside its checkpoints, naming the latest."""

_SUFFIXES = {
    ".pb": FROZEN_GRAPH,
    ".pbtxt": FROZEN_GRAPH,
    ".onnx": ONNX,
    ".meta": CHECKPOINT,
    ".keras": KERAS,
    ".h5": KERAS,
    ".hdf5": KERAS,
}
FORMAT_HELP = (
    "a frozen graph (.pb, .pbtxt), a SavedModel (a folder holding saved_model.pb), a TF1 "
    "checkpoint (.meta), a Keras file (.keras, .h5, .hdf5) or an ONNX model (.onnx)"
)
_LATEST = re.compile(r'^model_checkpoint_path:\s*"(.*)"\s*$', re.MULTILINE)


def detect_format(path: Path) -> str | None:
    """The format the path says it holds, or ``None`` when it says nothing (see the table)."""
    if path.is_dir():
        if any((path / name).is_file() for name in SAVED_MODEL_FILES):
            return SAVED_MODEL
        return None
    if path.name.lower() in SAVED_MODEL_FILES:
        return SAVED_MODEL
    return _SUFFIXES.get(path.suffix.lower())


def source_root(path: Path, source_format: str) -> Path:
    """The path a format's loader takes: a SavedModel's folder, else ``path`` itself."""
    if source_format == SAVED_MODEL and path.is_file():
        return path.parent
    return path


def is_tensorflow(source_format: str | None) -> bool:
    """Whether the format goes through TensorFlow (every format but ``onnx``)."""
    return source_format != ONNX


def missing_source(path: Path, source_format: str) -> str:
    """Why ``path`` cannot hold a source of ``source_format`` (``""`` when it can)."""
    if source_format == SAVED_MODEL:
        if not any((path / name).is_file() for name in SAVED_MODEL_FILES):
            return f"no SavedModel found at {path}: expected a folder holding saved_model.pb"
        return ""
    if not path.is_file():
        return f"file not found: {path}; check the path"
    if source_format == CHECKPOINT:
        try:
            checkpoint_prefix(path)
        except FileNotFoundError as error:
            return str(error)
    return ""


def checkpoint_prefix(meta_path: Path) -> Path:
    """The variables prefix of a ``.meta`` graph: ``model.ckpt`` beside ``model.ckpt.meta``
    when its ``.index`` is there, else the latest named by the ``checkpoint`` file beside it."""
    beside = meta_path.with_suffix("") if meta_path.suffix == ".meta" else meta_path
    if beside.with_name(beside.name + ".index").is_file():
        return beside
    state = meta_path.parent / CHECKPOINT_STATE
    if state.is_file():
        match = _LATEST.search(state.read_text(encoding="utf-8", errors="replace"))
        if match:
            latest = Path(match.group(1))
            latest = latest if latest.is_absolute() else meta_path.parent / latest
            if latest.with_name(latest.name + ".index").is_file():
                return latest
    raise FileNotFoundError(
        f"no variables found for the checkpoint graph {meta_path}: expected "
        f"{beside.name}.index (and its .data-* files) beside it, or a '{CHECKPOINT_STATE}' "
        "file naming the latest checkpoint; save the graph and its variables with the same "
        "tf.compat.v1.train.Saver"
    )


def source_files(path: Path, source_format: str) -> list[Path]:
    """Every file that makes up the source, sorted: what its content hash covers."""
    if source_format == SAVED_MODEL:
        root = source_root(path, source_format)
        return sorted(file for file in root.rglob("*") if file.is_file())
    if source_format == CHECKPOINT:
        prefix = checkpoint_prefix(path)
        variables = prefix.parent.glob(f"{glob_escape(prefix.name)}.*")
        parts = {file for file in variables if file.suffix != ".meta" and file.is_file()}
        return [path, *sorted(parts)]
    return [path]


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters taken literally."""
    return re.sub(r"([\[\]*?])", r"[\1]", name)
