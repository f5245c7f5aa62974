"""``weights``: read a source's recurrent layers and write one ``state_dict`` per torch module.

The source kind is decided by the path:

==========================  ===============================================================
path                        read as
==========================  ===============================================================
``.pb``, ``.pbtxt``         a TF1 frozen graph: fused ops and TF1 cell variables
``.keras``, ``.h5``         a Keras file: LSTM, GRU, SimpleRNN, Bidirectional
``.npz`` with ``kernel``    a fused kernel and bias given directly (``layer_kind``,
and ``bias``                ``forget_bias``, ``cell_clip`` say what they are)
other ``.npz``              named arrays, TF1 cells found by their variable names
a checkpoint prefix/folder  a TF1 checkpoint (``prefix.index`` beside it)
==========================  ===============================================================

Readers of TF files run in the TF worker; the ``.pt`` files are written in the torch worker.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError, SourceError
from pipeline.isolation import Workers
from pipeline.port.inputs import read_npz
from pipeline.port.layers import SourceLayer, layers_from_npz
from pipeline.port.modules import PortedModule, build_modules
from pipeline.port.variables import layers_from_variables

logger = logging.getLogger(__name__)

DIRECT_KINDS = ("block_lstm", "block_lstm2", "lstm_block_cell", "lstm_cell")
"""What a kernel given directly may be (``--layer-kind``); all are TF's fused layout."""

DEFAULT_FORGET_BIAS = {"block_lstm2": 0.0}  # every other TF1 LSTM defaults to 1.0
_PEEPHOLE_KEYS = ("w_i_diag", "w_f_diag", "w_o_diag", "wci", "wcf", "wco")
_PEEPHOLE_ROLES = {
    "wci": ("wci", "w_i_diag"),
    "wcf": ("wcf", "w_f_diag"),
    "wco": ("wco", "w_o_diag"),
}


@dataclass(frozen=True)
class PortOptions:
    """``forget_bias=None`` means the layer kind's default (1.0, and 0.0 for V2)."""

    layer_kind: str = "block_lstm"
    forget_bias: float | None = None
    cell_clip: float = -1.0
    timeout: float = 600.0


@dataclass(frozen=True)
class PortedFile:
    module: PortedModule
    path: Path


@dataclass(frozen=True)
class WeightsResult:
    source: Path
    kind: str
    files: tuple[PortedFile, ...]


def source_kind(path: Path) -> str:
    """``frozen_graph``, ``keras``, ``npz`` or ``checkpoint``; raises ``SourceError``."""
    if path.suffix in (".pb", ".pbtxt"):
        return "frozen_graph"
    if path.suffix in (".keras", ".h5"):
        return "keras"
    if path.suffix == ".npz":
        return "npz"
    if path.is_dir() or Path(str(path) + ".index").is_file() or path.suffix == ".index":
        return "checkpoint"
    raise SourceError(
        f"{path}: expected a frozen graph (.pb/.pbtxt), a Keras file (.keras/.h5), an .npz or "
        "a TF1 checkpoint (its prefix, beside prefix.index, or its folder)"
    )


def read_layers(
    path: Path, options: PortOptions, workers: Workers | None
) -> tuple[str, list[SourceLayer]]:
    """The source's kind and its recurrent layers. ``workers`` runs TF readers."""
    kind = source_kind(path)
    if kind != "checkpoint" and not path.is_file():
        raise SourceError(f"source {path} does not exist or is not a file")
    forget_bias = 1.0 if options.forget_bias is None else options.forget_bias
    if kind == "npz":
        named = read_npz(path, "source", SourceError)
        if "kernel" in named or "bias" in named:
            return "fused kernel", [direct_layer(named, options, path)]
        return "named arrays", layers_from_variables(
            named, forget_bias=forget_bias, where=path.name
        )
    if workers is None:
        raise ValueError(f"reading a {kind} needs the TF worker")
    stage = {
        "frozen_graph": ("pipeline.port.frozen_graph:read_frozen_graph", (forget_bias,)),
        "checkpoint": ("pipeline.port.checkpoint:read_checkpoint", (forget_bias,)),
        "keras": ("pipeline.port.keras_file:read_keras_file", ()),
    }[kind]
    prefix = str(path)[: -len(".index")] if path.suffix == ".index" else str(path)
    with tempfile.TemporaryDirectory(prefix="tfrnn-weights-") as folder:
        npz_path = str(Path(folder) / "layers.npz")
        plain = workers.run_tf(
            stage[0], prefix, npz_path, *stage[1],
            timeout=options.timeout, model=path.name, stage_name="read weights",
        )  # fmt: skip
        return kind.replace("_", " "), layers_from_npz(plain, npz_path)


def direct_layer(
    arrays: dict[str, np.ndarray], options: PortOptions, path: Path | None = None
) -> SourceLayer:
    """The layer of a fused ``kernel [I + H, 4H]`` and ``bias [4H]`` given directly."""
    _check_fused(arrays, path or Path("the .npz"))
    if options.layer_kind not in DIRECT_KINDS:
        raise ConfigError(
            f"--layer-kind: expected one of {list(DIRECT_KINDS)}, received {options.layer_kind!r}"
        )
    forget_bias = options.forget_bias
    if forget_bias is None:
        forget_bias = DEFAULT_FORGET_BIAS.get(options.layer_kind, 1.0)
    if options.layer_kind == "block_lstm2" and forget_bias:
        raise ConfigError(
            f"--forget-bias {forget_bias:g}: BlockLSTMV2 has no forget_bias (it adds 0); "
            "use --layer-kind block_lstm for a V1 kernel"
        )
    layer_arrays = {"kernel": arrays["kernel"], "bias": arrays["bias"]}
    if "projection" in arrays:
        layer_arrays["projection"] = arrays["projection"]
    peepholes = any(key in arrays and np.any(arrays[key]) for key in _PEEPHOLE_KEYS)
    if peepholes:
        for role, names in _PEEPHOLE_ROLES.items():
            found = [arrays[name] for name in names if name in arrays]
            layer_arrays[role] = found[0] if found else np.zeros(arrays["bias"].shape[0] // 4)
    return SourceLayer(
        name="kernel",
        kind=options.layer_kind,
        arrays=layer_arrays,
        stack="lstm",
        forget_bias=float(forget_bias),
        cell_clip=float(options.cell_clip),
        peepholes=peepholes,
    )


def _check_fused(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Refuse a fused kernel and bias that are not ``[I + H, 4H]`` and ``[4H]``."""
    missing = [name for name in ("kernel", "bias") if name not in arrays]
    if missing:
        raise SourceError(
            f"{path}: a fused LSTM needs both 'kernel' [I + H, 4H] and 'bias' [4H]; "
            f"'{missing[0]}' is missing (found {sorted(arrays)}); save the bias too "
            "(zeros if the layer has none)"
        )
    kernel, bias = arrays["kernel"], arrays["bias"]
    expected = "expected kernel [I + H, 4H] and bias [4H] with I, H > 0"
    if kernel.ndim != 2 or kernel.shape[1] % 4 or kernel.shape[0] <= kernel.shape[1] // 4:
        raise SourceError(
            f"{path}: {expected}, received kernel {list(kernel.shape)}; give TF's fused "
            "kernel as it is (input rows first, then the recurrent rows; 4 gate blocks)"
        )
    projection = arrays.get("projection")
    units = kernel.shape[1] // 4
    recurrent = units if projection is None else projection.shape[-1]
    if bias.shape != (4 * units,) or kernel.shape[0] <= recurrent:
        raise SourceError(
            f"{path}: {expected}, received kernel {list(kernel.shape)} (H = {units}) and "
            f"bias {list(bias.shape)}; the bias must be [{4 * units}]"
        )


def port_weights(
    path: Path, output_dir: Path, options: PortOptions, workers: Workers
) -> WeightsResult:
    """Write one ``state_dict`` per torch module of the source into ``output_dir``."""
    kind, layers = read_layers(path, options, workers)
    modules = build_modules(layers)
    files = []
    with tempfile.TemporaryDirectory(prefix="tfrnn-state-") as folder:
        for module in modules:
            npz_path = str(Path(folder) / "state.npz")
            np.savez(npz_path, **module.state_dict)
            target = output_dir / f"{_file_stem(module.name)}.pt"
            constructor = {"module": module.module, **module.constructor_kwargs()}
            workers.run_torch(
                "pipeline.port.state_dict:save_state_dict", npz_path, str(target), constructor,
                timeout=options.timeout, model=path.name, stage_name="write state_dict",
            )  # fmt: skip
            logger.info("%s: wrote %s", module.name, target)
            files.append(PortedFile(module, target))
    return WeightsResult(path, kind, tuple(files))


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "module"
