"""Stand-in stages whose behaviour the source file's bytes choose, for mixed batches.

The fake TensorFlow stage reads its source: ``b"abort"`` aborts the worker, ``b"hang"``
sleeps past any timeout, ``b"off"`` marks the model so that the fake torch stage adds
1e-3 to its outputs; anything else converts ``y = tanh(x)`` as ``worker_stand_ins`` does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import onnx

from tests import worker_stand_ins as stand_ins

ABORT = b"abort"
HANG = b"hang"
OFF = b"off"
GOOD = b"good"


def tf_stage(source: str, *args: object) -> dict:
    behaviour = Path(source).read_bytes()
    if behaviour == ABORT:
        os.abort()
    if behaviour == HANG:
        time.sleep(600)
    result = stand_ins.fake_tf_stage(source, *args)  # type: ignore[arg-type]
    onnx_path = str(args[5])
    model = onnx.load(onnx_path)
    model.doc_string = behaviour.decode()
    onnx.save(model, onnx_path)
    return result


def torch_stage(onnx_path: str, *args: str) -> dict:
    offset = 1e-3 if onnx.load(onnx_path).doc_string == OFF.decode() else 0.0
    return stand_ins.fake_torch_stage(onnx_path, *args, offset=offset)  # type: ignore[misc]
