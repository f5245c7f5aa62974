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


class TorchImportError(ConversionError):
    """onnx2torch could not import the model, or the imported module failed to run or export."""


class StageFailedError(ConversionError):
    """A stage raised an unexpected error in its worker; the worker's traceback comes along."""

    def __init__(self, message: str, remote_traceback: str = "") -> None:
        super().__init__(message, remote_traceback)
        self.message = message
        self.remote_traceback = remote_traceback

    def __str__(self) -> str:
        return self.message
