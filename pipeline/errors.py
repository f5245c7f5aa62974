"""The errors the pipeline raises on purpose.

Each one says what was expected, what was found, and what to do, and names the node or file
concerned. They carry only strings so they cross process boundaries intact.
"""

from __future__ import annotations


class ConversionError(Exception):
    """A model cannot be converted as asked; the message says why and what to do."""


class ConfigError(ConversionError):
    """A config file or command line is invalid."""


class SourceError(ConversionError):
    """The source model cannot be read or run by TensorFlow."""


class UnsupportedOpsError(ConversionError):
    """tf2onnx left TensorFlow ops unconverted; the message lists every one of them."""


class NoExactConversionError(ConversionError):
    """A node has no exact form on the target side; converting it would only approximate."""


class WorkerCrashedError(ConversionError):
    """A framework worker process died (a native abort or segfault) while serving a model."""


class StageTimeoutError(ConversionError):
    """A stage ran past its time limit and its worker was stopped."""
