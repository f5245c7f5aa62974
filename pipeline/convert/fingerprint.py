"""The content hash of one conversion's inputs: source file, config and tool versions.

``fingerprint(config)`` hashes (SHA-256, ``hashlib``):

- the bytes of every file the config reads: ``source``, ``inputs_npz``, ``expected_npz``.
  A source of several files (a SavedModel folder, a checkpoint's ``.meta``, ``.index`` and
  ``.data-*``) hashes the name and the hash of each file that makes it up
  (``pipeline.sources.formats.source_files``);
- the config as validated, paths absolute, without ``output_dir`` (where the artifacts go
  changes nothing in them) and ``timeout`` (a limit, not a setting of the conversion);
- the version of every package that takes part, read from the installed distributions
  (``importlib.metadata``, so neither framework is imported), and a digest of the
  pipeline's own source files, so an edit to the converters counts as a new tool version.

The result is kept in ``report.json`` (``fingerprint``) and in ``model.onnx``'s metadata;
a batch skips a model whose last published report passed with the same ``sha256``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.config import ModelConfig
from pipeline.sources import formats

_CHUNK = 1 << 20
_DISTRIBUTIONS = (
    "tf-rnn-pipeline",
    "numpy",
    ("tensorflow-cpu", "tensorflow"),
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "onnx2torch",
    "onnxsim",
    "torch",
    "protobuf",
)
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_NOT_HASHED = ("bench",)
"""Subpackages of ``pipeline`` that take no part in a conversion."""


def fingerprint(config: ModelConfig) -> dict[str, Any]:
    """``{sha256, source_sha256, files, versions}`` of ``config``'s conversion."""
    files = {
        key: file_sha256(path)
        for key, path in (("inputs_npz", config.inputs_npz), ("expected_npz", config.expected_npz))
        if path is not None
    }
    files["source"] = source_sha256(config)
    settings = config.model_dump(mode="json", exclude={"output_dir", "timeout"})
    versions = tool_versions()
    payload = json.dumps({"files": files, "config": settings, "versions": versions}, sort_keys=True)
    return {
        "sha256": hashlib.sha256(payload.encode("utf-8")).hexdigest(),
        "source_sha256": files["source"],
        "files": files,
        "versions": versions,
    }


def source_sha256(config: ModelConfig) -> str:
    """The hash of the source: its file's bytes, or of every file that makes it up."""
    kind = config.format or formats.FROZEN_GRAPH
    parts = formats.source_files(config.source, kind)
    if parts == [config.source]:
        return file_sha256(config.source)
    root = config.source if config.source.is_dir() else config.source.parent
    digest = hashlib.sha256()
    for path in parts:
        name = path.relative_to(root) if path.is_relative_to(root) else path
        digest.update(f"{name}\0{file_sha256(path)}\0".encode())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def tool_versions() -> dict[str, str]:
    """``{distribution: version}`` of every package that takes part, plus the source digest."""
    versions = {}
    for names in _DISTRIBUTIONS:
        candidates = (names,) if isinstance(names, str) else names
        versions[candidates[0]] = _installed_version(candidates)
    versions["pipeline-source"] = _source_digest()
    return versions


def _installed_version(candidates: tuple[str, ...]) -> str:
    for name in candidates:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE_ROOT.rglob("*.py")):
        relative = path.relative_to(_PACKAGE_ROOT)
        if relative.parts[0] in _NOT_HASHED:
            continue
        digest.update(str(relative).encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
