"""Whether a model's last conversion still stands, so a rerun can skip it.

A model is up to date when its ``output_dir`` holds a ``report.json`` (published, so the
conversion completed, whether its comparison passed or not) that

- holds the same content hash (``fingerprint.sha256``) as the conversion would have now:
  same source bytes, same config, same tool versions (``pipeline.convert.fingerprint``);
- lists artifacts that are all still there.

``report.json`` is published last (``pipeline.artifacts``), so a conversion interrupted
while publishing leaves the old report or none, never a new report over old files. An
interrupted batch therefore resumes where it stopped: the models it finished are up to date.

NOTE: a conversion whose comparison failed is skipped too, and stays a mismatch: its inputs
are seeded, so redoing it with the same source, config and tools gives the same numbers.
Changing any of them (a looser tolerance, a fix to the converters: the pipeline's source is
part of the hash) converts it again, and so does ``--force``. A conversion that failed
published nothing, so it is always tried again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.config import ModelConfig
from pipeline.convert import REPORT_JSON

logger = logging.getLogger(__name__)


def previous_report(output_dir: Path) -> dict[str, Any] | None:
    """The ``report.json`` published in ``output_dir``, or ``None`` if none is readable."""
    path = Path(output_dir) / REPORT_JSON
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def up_to_date_report(config: ModelConfig, fingerprint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The last report of ``config``'s model if it still stands (see above), else ``None``."""
    report = previous_report(config.output_dir)
    if report is None:
        return None
    why = _why_stale(report, fingerprint, config.output_dir)
    if why:
        logger.debug("%s: converting again: %s", config.name, why)
        return None
    return report


def _why_stale(report: Mapping[str, Any], fingerprint: Mapping[str, Any], folder: Path) -> str:
    previous = report.get("fingerprint") or {}
    if previous.get("sha256") != fingerprint["sha256"]:
        return _what_changed(previous, fingerprint)
    missing = [name for name in report.get("artifacts", []) if not (folder / name).is_file()]
    if missing:
        return f"artifacts are missing: {missing}"
    return ""


def _what_changed(previous: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    if not previous:
        return "the last report holds no content hash"
    changes = []
    if previous.get("files") != current["files"]:
        changes.append("a file it reads")
    if previous.get("versions") != current["versions"]:
        changes.append("tool versions")
    return "changed: " + (", ".join(changes) or "the config")
