"""torch-side measurements; run in the torch worker.

The parties, all fed the same ``x`` and timed interleaved under ``torch.inference_mode``:

- ``onnx2torch``: our ``model.onnx`` imported the way the torch stage imports it (shape
  folding, then onnx2torch with our converters): a ``torch.fx.GraphModule``;
- ``model.pt2``: the ``torch.export`` program the conversion published, reloaded;
- ``nn.LSTM``: the limit, one bare ``torch.nn.LSTM(num_layers=L)`` holding the TF weights
  mapped by ``pipeline.recurrent.lstm`` (rnn-semantics §7);
- ``onnx2pytorch``: onnx2pytorch's own import of our ``model.onnx``, when it is installed
  and imports the model (otherwise the reason is reported instead of a time).

Each party's first output is written to ``outputs_npz`` under its name, so the main process
can check it against TensorFlow's.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import onnx
import torch

from pipeline.bench.models import INPUT_NAME, BenchModel, layer_onnx_weights
from pipeline.bench.timing import time_interleaved
from pipeline.onnx_to_torch.folding import fold_for_shapes
from pipeline.onnx_to_torch.importer import import_onnx
from pipeline.recurrent.onnx_to_torch import onnx_to_torch

logger = logging.getLogger(__name__)

ONNX2TORCH = "onnx2torch"
PT2 = "model.pt2"
BARE_LSTM = "nn.LSTM"
ONNX2PYTORCH = "onnx2pytorch"


def time_torch_parties(
    model: dict,
    onnx_path: str,
    pt2_path: str,
    weights_npz: str,
    inputs_npz: str,
    outputs_npz: str,
    threads: int,
) -> dict:
    """Time every party; returns ``{"timings": {party: ...}, "unavailable": {party: why}}``."""
    spec = BenchModel.from_plain(model)
    _set_threads(threads)
    with np.load(inputs_npz) as data:
        x = torch.from_numpy(data[INPUT_NAME])
    modules, unavailable = {}, {}
    modules[ONNX2TORCH] = import_onnx(fold_for_shapes(onnx.load(onnx_path), {INPUT_NAME: x}))
    modules[PT2] = torch.export.load(pt2_path).module()
    modules[BARE_LSTM] = bare_lstm(spec, weights_npz)
    try:
        modules[ONNX2PYTORCH] = _onnx2pytorch_module(onnx_path)
    except Exception as error:  # the reason is the finding; it is reported, not raised
        unavailable[ONNX2PYTORCH] = _reason(error)
        logger.warning("onnx2pytorch: %s", unavailable[ONNX2PYTORCH])

    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # onnx2pytorch warns on every call
        parties = {name: (lambda m=module: m(x)) for name, module in modules.items()}
        timings = time_interleaved(parties, warmup=spec.warmup, repeats=spec.repeats)
        firsts = {name: _first_output(module(x)) for name, module in modules.items()}
    np.savez(outputs_npz, **firsts)
    return {
        "timings": {name: timing.as_plain() for name, timing in timings.items()},
        "unavailable": unavailable,
        "threads": torch.get_num_threads(),
    }


def bare_lstm(model: BenchModel, weights_npz: str) -> torch.nn.LSTM:
    """``nn.LSTM(I, H, num_layers=L)`` with the fused TF weights of ``weights_npz``."""
    lstm = torch.nn.LSTM(model.input_size, model.hidden_size, num_layers=model.layers)
    with np.load(weights_npz) as data, torch.no_grad():
        for layer in range(model.layers):
            onnx_weights = layer_onnx_weights(model, data, layer)
            mapped = onnx_to_torch("LSTM", onnx_weights.W[0], onnx_weights.R[0], onnx_weights.B[0])
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(lstm, f"{kind}_l{layer}").copy_(torch.from_numpy(getattr(mapped, kind)))
    return lstm.eval()


def _onnx2pytorch_module(onnx_path: str) -> torch.nn.Module:
    try:
        from onnx2pytorch import ConvertModel
    except ImportError as error:
        raise RuntimeError(f"not installed ({error})") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ConvertModel(onnx.load(onnx_path)).eval()


def _first_output(outputs: object) -> np.ndarray:
    while isinstance(outputs, list | tuple):
        outputs = outputs[0]
    if not isinstance(outputs, torch.Tensor):
        raise TypeError(f"expected tensors as outputs, received {type(outputs).__name__}")
    return outputs.detach().numpy()


def _set_threads(threads: int) -> None:
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # only settable before the first parallel work of the process
        logger.debug("torch inter-op threads already fixed at %d", torch.get_num_interop_threads())


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
