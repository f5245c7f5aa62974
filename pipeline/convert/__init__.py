"""Convert one model: TensorFlow -> ONNX -> PyTorch, and prove all three agree.

The steps for a TensorFlow source, each timed and logged in one INFO line::

    inputs       make or load the input arrays                       (main process)
    tensorflow   reference outputs + model.onnx                      (TensorFlow worker)
    onnx_check   onnx.checker (full) + strict shape inference        (main process)
    onnxruntime  run model.onnx on CPU                               (main process)
    torch        onnx2torch import + torch.export -> model.pt2       (torch worker)
    compare      every output under every pair of frameworks         (main process)
    report       outputs.npz, error plots, model.onnx metadata,      (main process)
                 report.json and report.md (``reports``)

An ONNX source skips TensorFlow; no TensorFlow worker starts (workers start on first use)::

    inputs           input arrays, and the expected outputs if given  (main process)
    source           copy the ONNX file into staging as model.onnx    (main process)
    onnx_check       as above, on the source                          (main process)
    torch_preflight  every node has an onnx2torch converter           (torch worker)
    onnxruntime      as above; a model it refuses is recorded as not run, with the reason
    torch, compare, report  as above; the reference is the expected outputs when given,
                     else onnxruntime (``pipeline.validate.compare``)

``reference.npz`` holds the reference's outputs; an ONNX run without a reference writes none.
``outputs.npz`` holds every other party's outputs. ``report.json`` keeps the content hash of
the conversion's inputs (``fingerprint``), by which a batch skips work already done.

Everything is written into a staging folder and published into ``config.output_dir`` at the
end (``artifacts``), also when the comparison fails: the report says what disagreed. A
``ConversionError`` publishes nothing.
"""

from pipeline.convert.model import convert_model
from pipeline.convert.run import (
    ARTIFACTS,
    INPUTS_NPZ,
    MODEL_ONNX,
    MODEL_PT2,
    OUTPUTS_NPZ,
    REFERENCE_NPZ,
    REPORT_JSON,
    REPORT_MD,
    STATE_DICT,
    ConversionResult,
    RecurrentNode,
    StageRecord,
    StageTargets,
)

__all__ = [
    "ARTIFACTS",
    "INPUTS_NPZ",
    "MODEL_ONNX",
    "MODEL_PT2",
    "OUTPUTS_NPZ",
    "REFERENCE_NPZ",
    "REPORT_JSON",
    "REPORT_MD",
    "STATE_DICT",
    "ConversionResult",
    "RecurrentNode",
    "StageRecord",
    "StageTargets",
    "convert_model",
]
