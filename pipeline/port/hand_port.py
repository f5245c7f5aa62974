"""``diagnose``: compute TF's reference for a source's module, then explain a hand port's error.

Stages: read the TF layers (``weights``' readers) and pick the one module -> TF's input and
output of every layer-direction, for the input as TF reads it and transposed (TF worker,
``pipeline.port.reference``; a frozen graph with one fused node is also run as it is) -> the
user's ``state_dict`` or ``torch.save``'d module (torch worker, ``weights_only``) -> the search
for the smallest set of corrections, per layer-direction (torch worker,
``pipeline.port.diagnosis``) -> the corrected ``state_dict``, loaded into its constructor
before it is written.

A saved module brings its own ``batch_first``, ``num_layers`` and ``bidirectional``; a plain
``state_dict`` takes ``num_layers`` and ``bidirectional`` from its keys and ``batch_first``
from the option.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError, NoExactConversionError, SourceError
from pipeline.isolation import Workers
from pipeline.port.diagnosis import TOLERANCE, plain_units
from pipeline.port.layers import SourceLayer, layers_to_npz
from pipeline.port.source_units import tf_unit
from pipeline.port.weights import PortOptions, read_layers

logger = logging.getLogger(__name__)

_GRAPH_FUSED_KINDS = ("block_lstm", "block_lstm2")
_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")


@dataclass(frozen=True)
class HandPortOptions:
    batch_first: bool
    port: PortOptions = PortOptions()
    input_name: str | None = None
    tolerance: float = TOLERANCE


@dataclass(frozen=True)
class HandPortDiagnosis:
    source: Path
    layer: str  # the source module's name
    module: str  # LSTM, GRU or RNN
    input_shape: tuple[int, ...]
    units: tuple[dict, ...]  # layer, reverse, corrections (mistake, detail, explanation), ...
    error_before: float
    error_after: float
    within_tolerance: bool
    batch_first: bool
    tf_transposed: bool  # the corrected comparison feeds TF x.transpose(1, 0, 2)
    constructor: str
    corrected_path: Path | None
    needs_exact_loop: tuple[str, ...]  # mistakes found whose correction no torch.nn holds
    from_module: bool  # the user's file held a whole module, not a state_dict

    @property
    def corrections(self) -> tuple[dict, ...]:
        """Every unit's corrections, in unit order."""
        return tuple(c for unit in self.units for c in unit["corrections"])

    @property
    def alternatives(self) -> int:
        return sum(unit["alternatives"] for unit in self.units)


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
    layers = _one_module(source, layers)
    x = _read_input(input_path)
    timeout = options.port.timeout
    run = dict(timeout=timeout, model=source.name)
    with tempfile.TemporaryDirectory(prefix="tfrnn-diagnose-") as folder:
        paths = {
            name: str(Path(folder) / f"{name}.npz")
            for name in ("x", "layers", "h", "user", "port", "units", "corrected")
        }
        np.savez(paths["x"], x=x)
        plain = layers_to_npz(layers, paths["layers"])
        workers.run_tf(
            "pipeline.port.reference:stack_reference", plain, paths["layers"], paths["x"],
            paths["h"], stage_name="reference", **run,
        )  # fmt: skip
        if source.suffix in (".pb", ".pbtxt") and layers[0].kind in _GRAPH_FUSED_KINDS:
            workers.run_tf(
                "pipeline.port.reference:graph_reference", str(source), paths["x"], paths["h"],
                options.input_name, stage_name="reference", **run,
            )  # fmt: skip
        loaded = workers.run_torch(
            "pipeline.port.state_dict:load_state_dict", str(state_dict_path), paths["user"],
            stage_name="read state_dict", **run,
        )  # fmt: skip
        with np.load(paths["user"]) as arrays:
            state = {name: arrays[name] for name in arrays.files}
        shape = _user_shape(state_dict_path, state, loaded["module"], layers, options)
        np.savez(paths["port"], x=x, **{name: state[name] for name in _parameters(shape)})
        units = {(layer.layer, layer.direction == "backward"): tf_unit(layer) for layer in layers}
        unit_fields, unit_arrays = plain_units(units)
        np.savez(paths["units"], **unit_arrays)
        search = {**shape, "tolerance": options.tolerance}
        result = workers.run_torch(
            "pipeline.port.diagnosis:diagnose_stage", paths["h"], paths["port"], paths["units"],
            unit_fields, search, paths["corrected"], stage_name="diagnose", **run,
        )  # fmt: skip
        constructor = {
            "input_size": int(x.shape[-1]),
            "hidden_size": int(state["weight_hh_l0"].shape[1]),
            "num_layers": shape["num_layers"],
            "batch_first": bool(result["batch_first"]),
            "bidirectional": shape["bidirectional"],
        }
        corrected_path = None
        if any(unit["corrections"] for unit in result["units"]):
            workers.run_torch(
                "pipeline.port.state_dict:save_state_dict", paths["corrected"], str(output_path),
                {"module": shape["kind"], **constructor}, stage_name="write state_dict", **run,
            )  # fmt: skip
            corrected_path = output_path
    arguments = ", ".join(f"{key}={value}" for key, value in constructor.items())
    return HandPortDiagnosis(
        source=source,
        layer=layers[0].stack,
        module=shape["kind"],
        input_shape=tuple(x.shape),
        units=tuple(result["units"]),
        error_before=result["error_before"],
        error_after=result["error_after"],
        within_tolerance=result["within_tolerance"],
        batch_first=result["batch_first"],
        tf_transposed=result["tf_transposed"],
        constructor=f"torch.nn.{shape['kind']}({arguments})",
        corrected_path=corrected_path,
        needs_exact_loop=tuple(result["needs_exact_loop"]),
        from_module=loaded["module"] is not None,
    )


def _one_module(source: Path, layers: list[SourceLayer]) -> list[SourceLayer]:
    """The layers of the source's one module, checked to be diagnosable."""
    stacks = sorted({layer.stack for layer in layers})
    if len(stacks) != 1:
        found = [f"{layer.name} ({layer.kind})" for layer in layers]
        raise SourceError(
            f"{source}: expected the recurrent layers of exactly one module to diagnose, "
            f"found {len(stacks)} modules: {found or 'none'}; give a source with one"
        )
    refused = []
    for layer in layers:
        if "projection" in layer.arrays:
            refused.append(f"{layer.name}: a num_proj projection (no diagnosis for it yet)")
        refused += [f"{layer.name}: {feature}" for feature in layer.unsupported]
    directions = {layer.direction for layer in layers}
    units = [layer for layer in layers if layer.layer > 0]
    for layer in units:
        expected = len(directions) * _hidden_size(layer)
        if _input_size(layer) != expected and len(directions) == 2:
            refused.append(
                f"{layer.name}: each direction stacks on its own (a bidirectional_dynamic_rnn "
                "of MultiRNNCells), while nn.LSTM feeds both directions to the next layer"
            )
        elif _input_size(layer) != expected:
            refused.append(f"{layer.name}: reads {_input_size(layer)} inputs, not {expected}")
    if refused:
        raise NoExactConversionError(
            "cannot diagnose a port of:\n  - " + "\n  - ".join(refused) + "\n"
            "`python -m pipeline convert` converts such a model exactly"
        )
    return sorted(layers, key=lambda layer: (layer.layer, layer.direction == "backward"))


def _hidden_size(layer: SourceLayer) -> int:
    arrays = layer.arrays
    if "w_c" in arrays:
        return arrays["w_c"].shape[1]
    if "recurrent_kernel" in arrays:
        return arrays["recurrent_kernel"].shape[0]
    return arrays["kernel"].shape[1] // 4


def _input_size(layer: SourceLayer) -> int:
    arrays = layer.arrays
    if "w_c" in arrays:
        return arrays["w_c"].shape[0] - arrays["w_c"].shape[1]
    if "recurrent_kernel" in arrays:
        return arrays["kernel"].shape[0]
    return arrays["kernel"].shape[0] - arrays["kernel"].shape[1] // 4


def _user_shape(
    path: Path,
    state: dict[str, np.ndarray],
    module: dict | None,
    layers: list[SourceLayer],
    options: HandPortOptions,
) -> dict:
    """The user's module kind, layers, directions and call layout, checked against TF's."""
    kind = layers[0].module
    places = {(int(m.group(2)), bool(m.group(3))) for m in map(_KEY.match, state) if m}
    num_layers = max((layer for layer, _ in places), default=-1) + 1
    bidirectional = any(reverse for _, reverse in places)
    batch_first = options.batch_first
    if module is not None:
        if module["kind"] != kind or module["proj_size"]:
            raise SourceError(
                f"{path}: expected a torch.nn.{kind} (the source's layers are {kind}s) without "
                f"proj_size, received nn.{module['kind']} with proj_size {module['proj_size']}"
            )
        if module["batch_first"] != options.batch_first:
            logger.warning(
                "%s: the saved module has batch_first=%s; that is how it reads x (the "
                "--batch-first option is ignored for a module)",
                path,
                module["batch_first"],
            )
        batch_first = module["batch_first"]
        num_layers, bidirectional = module["num_layers"], module["bidirectional"]
    source_layers = max(layer.layer for layer in layers) + 1
    source_bidirectional = len({layer.direction for layer in layers}) == 2
    if (num_layers, bidirectional) != (source_layers, source_bidirectional):
        raise SourceError(
            f"{path}: expected the state_dict of a {source_layers}-layer "
            f"{'bidirectional ' * source_bidirectional}nn.{kind} like the source "
            f"{layers[0].stack}, received {num_layers} layer(s), bidirectional={bidirectional}"
        )
    shape = dict(
        kind=kind, batch_first=batch_first, num_layers=num_layers, bidirectional=bidirectional
    )
    missing = [name for name in _parameters(shape) if name not in state]
    if missing:
        raise SourceError(
            f"{path}: the state_dict lacks {missing}; expected every parameter of an "
            f"nn.{kind} with bias=True ({sorted(_parameters(shape))})"
        )
    return shape


def _parameters(shape: dict) -> list[str]:
    directions = ("", "_reverse") if shape["bidirectional"] else ("",)
    return [
        f"{name}_l{layer}{direction}"
        for layer in range(shape["num_layers"])
        for direction in directions
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]


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
