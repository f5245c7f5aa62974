"""``diagnose``: compute TF's reference for a fused LSTM, then explain a hand port's error.

Stages: read the TF layer (``weights``' readers) -> TF's output for the input, as TF reads
it (TF worker, ``pipeline.port.reference``) -> the user's ``state_dict`` (torch worker) ->
the search for the smallest set of corrections (torch worker, ``pipeline.port.diagnosis``)
-> the corrected ``state_dict``, loaded into its constructor before it is written.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError, SourceError
from pipeline.isolation import Workers
from pipeline.port.diagnosis import TOLERANCE
from pipeline.port.layers import KINDS, SourceLayer
from pipeline.port.modules import refusals
from pipeline.port.weights import PortOptions, read_layers

logger = logging.getLogger(__name__)

_FUSED_KINDS = ("block_lstm", "block_lstm2", "lstm_fused_cell")


@dataclass(frozen=True)
class HandPortOptions:
    batch_first: bool
    port: PortOptions = PortOptions()
    input_name: str | None = None
    tolerance: float = TOLERANCE


@dataclass(frozen=True)
class HandPortDiagnosis:
    source: Path
    layer: str
    input_shape: tuple[int, ...]
    corrections: tuple[dict, ...]  # mistake, detail, explanation
    error_before: float
    error_after: float
    within_tolerance: bool
    alternatives: int
    batch_first: bool
    tf_transposed: bool  # the corrected comparison feeds TF x.transpose(1, 0, 2)
    constructor: str
    corrected_path: Path | None
    unfixable: tuple[str, ...]  # features of the source no nn.LSTM has


def diagnose_port(
    source: Path,
    state_dict_path: Path,
    input_path: Path,
    output_path: Path,
    options: HandPortOptions,
    workers: Workers,
) -> HandPortDiagnosis:
    """Explain why ``state_dict_path`` called as ``options`` disagrees with ``source``."""
    _, layers = read_layers(source, options.port, workers)
    layer = _fused_layer(source, layers)
    x = _read_input(input_path)
    timeout = options.port.timeout
    with tempfile.TemporaryDirectory(prefix="tfrnn-diagnose-") as folder:
        paths = {name: str(Path(folder) / f"{name}.npz") for name in ("tf", "h", "user", "port")}
        np.savez(paths["tf"], x=x, kernel=layer.arrays["kernel"], bias=layer.arrays["bias"])
        workers.run_tf(
            "pipeline.port.reference:kernel_reference", paths["tf"], paths["h"], layer.kind,
            layer.forget_bias, layer.cell_clip,
            timeout=timeout, model=source.name, stage_name="reference",
        )  # fmt: skip
        if source.suffix in (".pb", ".pbtxt"):
            workers.run_tf(
                "pipeline.port.reference:graph_reference", str(source), paths["tf"], paths["h"],
                options.input_name, timeout=timeout, model=source.name, stage_name="reference",
            )  # fmt: skip
        workers.run_torch(
            "pipeline.port.state_dict:load_state_dict", str(state_dict_path), paths["user"],
            timeout=timeout, model=source.name, stage_name="read state_dict",
        )  # fmt: skip
        with np.load(paths["user"]) as arrays:
            np.savez(paths["port"], x=x, **{name: arrays[name] for name in arrays.files})
        search = {
            "batch_first": options.batch_first,
            "gate_order": KINDS[layer.kind][1],
            "forget_bias": layer.forget_bias,
            "tolerance": options.tolerance,
        }
        corrected_npz = str(Path(folder) / "corrected.npz")
        result = workers.run_torch(
            "pipeline.port.diagnosis:diagnose_stage", paths["h"], paths["port"], paths["tf"],
            search, corrected_npz, timeout=timeout, model=source.name, stage_name="diagnose",
        )  # fmt: skip
        weight_hh = np.load(corrected_npz)["weight_hh_l0"]
        constructor = {
            "input_size": int(x.shape[-1]),
            "hidden_size": int(weight_hh.shape[1]),
            "batch_first": bool(result["batch_first"]),
        }
        corrected_path = None
        if result["corrections"]:
            workers.run_torch(
                "pipeline.port.state_dict:save_state_dict", corrected_npz, str(output_path),
                {"module": "LSTM", **constructor},
                timeout=timeout, model=source.name, stage_name="write state_dict",
            )  # fmt: skip
            corrected_path = output_path
    arguments = ", ".join(f"{key}={value}" for key, value in constructor.items())
    return HandPortDiagnosis(
        source=source,
        layer=layer.name,
        input_shape=tuple(x.shape),
        corrections=tuple(result["corrections"]),
        error_before=result["error_before"],
        error_after=result["error_after"],
        within_tolerance=result["within_tolerance"],
        alternatives=result["alternatives"],
        batch_first=result["batch_first"],
        tf_transposed=result["tf_transposed"],
        constructor=f"torch.nn.LSTM({arguments})",
        corrected_path=corrected_path,
        unfixable=tuple(refusals([layer])),
    )


def _fused_layer(source: Path, layers: list[SourceLayer]) -> SourceLayer:
    fused = [layer for layer in layers if layer.kind in _FUSED_KINDS + ("lstm_block_cell",)]
    if len(fused) != 1 or len(layers) != 1:
        found = [f"{layer.name} ({layer.kind})" for layer in layers]
        raise SourceError(
            f"{source}: expected exactly one fused LSTM (BlockLSTM/BlockLSTMV2, or a kernel "
            f"and bias given directly) to diagnose, found {found or 'none'}"
        )
    return fused[0]


def _read_input(path: Path) -> np.ndarray:
    with np.load(path) as arrays:
        names = arrays.files
        if "x" not in names and len(names) != 1:
            raise ConfigError(
                f"--input {path}: expected one array (or one named 'x'), found {names}"
            )
        x = arrays["x" if "x" in names else names[0]]
    if x.ndim != 3:
        raise ConfigError(f"--input {path}: expected a rank-3 array, received shape {x.shape}")
    return x.astype(np.float32)
