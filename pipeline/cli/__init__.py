"""The command line, and the only module that prints.

``python -m pipeline convert MODEL`` where MODEL is a YAML config (``.yaml``/``.yml``) or a
model path: a TensorFlow frozen graph (``.pb``/``.pbtxt``) or an ONNX model (``.onnx``).
With a frozen graph, tf2onnx's conventions name the inputs and outputs::

    python -m pipeline convert model.pb --inputs x:0[50,1,64] --outputs h:0 --opset 17

An ONNX model's graph names them itself; ``--expected-npz`` adds expected outputs::

    python -m pipeline convert model.onnx --inputs-npz in.npz --expected-npz out.npz

Options also override a config's values. Exit status: 0 when every comparison passes, 1 when
any fails or nothing could serve as the reference, 2 when the model cannot be converted (the
message says why), 130 on interrupt.

``python -m pipeline batch PATH...`` converts every model of the configs given, or found in
the folders given, ``--jobs`` at a time, skipping those already converted (``pipeline.batch``).
It shows a progress display, then a summary table, and writes ``index.md``. Exit status: 0
when every model passed or was up to date, 1 when some mismatched and none failed, 2 when
any failed, 130 on interrupt.
"""

from pipeline.cli.commands import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_MISMATCH,
    EXIT_PASSED,
    main,
)

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_MISMATCH", "EXIT_PASSED", "main"]
