"""Find config files: each path given is a config, or a folder searched for them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pipeline.config import is_config_path
from pipeline.errors import ConfigError

logger = logging.getLogger(__name__)


def find_config_files(paths: Sequence[Path]) -> list[Path]:
    """Every config file named by ``paths``, in order, each once.

    A folder contributes its ``.yaml``/``.yml`` files, its subfolders' included, sorted by
    path; hidden files and folders (a name starting with ``.``) are left out. A path that
    does not exist, or a file that is no config, is an error.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            files = sorted(
                candidate
                for candidate in path.rglob("*")
                if candidate.is_file()
                and is_config_path(candidate)
                and not _is_hidden(candidate.relative_to(path))
            )
            if not files:
                logger.warning("no .yaml/.yml config found under %s", path)
            found += files
        elif path.is_file() and is_config_path(path):
            found.append(path)
        elif path.exists():
            raise ConfigError(f"{path} is not a config: expected a .yaml/.yml file or a folder")
        else:
            raise ConfigError(f"{path} does not exist: expected a config file or a folder")
    unique = list(dict.fromkeys(path.resolve() for path in found))
    logger.debug("configs found: %s", [str(path) for path in unique])
    return unique


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
