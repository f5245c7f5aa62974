"""Stamp ``model.onnx`` with where it came from and what its validation found.

The verdict is known only after the comparison, so the staged file is rewritten before it
is published. Keys (``metadata_props``, strings; existing keys of ours are replaced)::

    tfrnn.source_sha256   SHA-256 of the source file
    tfrnn.fingerprint     the conversion's content hash (``pipeline.convert.fingerprint``)
    tfrnn.versions        JSON {package: version} of everything that took part
    tfrnn.passed          "true" or "false"
    tfrnn.verdict         the one-line verdict
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import onnx

PREFIX = "tfrnn."


def stamp_metadata(
    path: Path,
    *,
    source_sha256: str,
    fingerprint: str,
    versions: Mapping[str, str],
    passed: bool,
    verdict: str,
) -> None:
    """Rewrite the ONNX file at ``path`` with our ``metadata_props``."""
    model = onnx.load(str(path))
    values = {
        f"{PREFIX}source_sha256": source_sha256,
        f"{PREFIX}fingerprint": fingerprint,
        f"{PREFIX}versions": json.dumps(dict(sorted(versions.items()))),
        f"{PREFIX}passed": "true" if passed else "false",
        f"{PREFIX}verdict": verdict,
    }
    kept = [prop for prop in model.metadata_props if prop.key not in values]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in values.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def read_metadata(path: Path) -> dict[str, str]:
    """Our ``metadata_props`` of the ONNX file at ``path`` (the prefix kept)."""
    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props if p.key.startswith(PREFIX)}
