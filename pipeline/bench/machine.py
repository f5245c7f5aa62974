"""The machine a run happened on: CPU model, cores, memory and library versions.

Read from ``/proc`` and from package metadata, so no framework is imported.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

from pipeline.bench.figures import MachineInfo

PACKAGES = (
    "tensorflow-cpu",
    "keras",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "torch",
    "onnx2torch",
    "onnx2pytorch",
    "numpy",
)


def describe_machine() -> MachineInfo:
    return MachineInfo(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        usable_cores=len(os.sched_getaffinity(0)),
        memory_bytes=_memory_total(),
        load_average=os.getloadavg(),
        versions={"python": platform.python_version(), **package_versions()},
    )


def package_versions() -> dict[str, str]:
    """``{package: version}``; a package that is not installed says so."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.processor() or "unknown"


def _memory_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0
