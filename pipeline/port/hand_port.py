"""``diagnose``: compute TF's reference for a source's module, then explain a hand port's error.

Stages: check the input (``pipeline.port.inputs``), read the TF layers (``weights``' readers)
and pick the one module -> TF's input and output of every layer-direction, for the input as TF
reads it and transposed, and the same for the multi-step probe (TF worker,
``pipeline.port.reference``; a frozen graph with one fused node is also run as it is) -> the
user's ``state_dict`` or ``torch.save``'d module (torch worker, ``weights_only``), checked
against the source's kind and sizes (``pipeline.port.user_module``) -> the search
for the smallest set of corrections, per layer-direction (torch worker,
``pipeline.port.diagnosis``) -> the corrected ``state_dict``, loaded into its constructor
before it is written.

A saved module brings its own ``batch_first``, ``num_layers`` and ``bidirectional``; a plain
``state_dict`` takes ``num_layers`` and ``bidirectional`` from its keys and ``batch_first``
from the option.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError, NoExactConversionError, SourceError
from pipeline.isolation import Workers
from pipeline.port.diagnosis import TOLERANCE, plain_units
from pipeline.port.inputs import check_features, probe_input, read_input
from pipeline.port.layers import SourceLayer, layers_to_npz
from pipeline.port.modules import refusals
from pipeline.port.source_units import tf_unit
from pipeline.port.user_module import parameters, user_shape
from pipeline.port.weights import PortOptions, read_layers

logger = logging.getLogger(__name__)

_GRAPH_FUSED_KINDS = ("block_lstm", "block_lstm2")
_FILES = ("x", "layers", "h", "user", "port", "units", "corrected", "probe", "probe_h")


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
    probe_shape: tuple[int, ...] = ()  # TF's own multi-step probe, scored as well
    probe_error_before: float = 0.0
    probe_error_after: float = 0.0
    steps_read: int = 0  # steps of x as the corrected comparison reads it
    source_features: tuple[str, ...] = ()  # what the source computes that nn cannot hold

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
    if not state_dict_path.is_file():
        raise ConfigError(
            f"--state-dict {state_dict_path}: no such file; expected your torch.save'd "
            "state_dict (or nn.LSTM/nn.GRU/nn.RNN)"
        )
    x = read_input(input_path)  # before the source: a wrong --input fails fast
    _, layers = read_layers(source, options.port, workers)
    layers = _one_module(source, layers)
    check_features(x, input_path, _input_size(layers[0]), layers[0].name)
    probe = probe_input(x.shape[-1])
    timeout = options.port.timeout
    run = dict(timeout=timeout, model=source.name)
    with tempfile.TemporaryDirectory(prefix="tfrnn-diagnose-") as folder:
        paths = {name: str(Path(folder) / f"{name}.npz") for name in _FILES}
        np.savez(paths["x"], x=x)
        np.savez(paths["probe"], x=probe)
        plain = layers_to_npz(layers, paths["layers"])
        for inputs, outputs in (("x", "h"), ("probe", "probe_h")):
            workers.run_tf(
                "pipeline.port.reference:stack_reference", plain, paths["layers"],
                paths[inputs], paths[outputs], stage_name="reference", **run,
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
        shape = user_shape(state_dict_path, state, loaded["module"], layers, options.batch_first)
        user = {name: state[name].astype(np.float32) for name in parameters(shape)}
        np.savez(paths["port"], x=x, **user)
        units = {(layer.layer, layer.direction == "backward"): tf_unit(layer) for layer in layers}
        unit_fields, unit_arrays = plain_units(units)
        np.savez(paths["units"], **unit_arrays)
        search = {**shape, "tolerance": options.tolerance}
        result = workers.run_torch(
            "pipeline.port.diagnosis:diagnose_stage", paths["h"], paths["port"], paths["units"],
            unit_fields, search, paths["corrected"], paths["probe"], paths["probe_h"],
            stage_name="diagnose", **run,
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
        probe_shape=tuple(probe.shape),
        probe_error_before=result["probe_error_before"],
        probe_error_after=result["probe_error_after"],
        steps_read=_steps_read(x.shape, result["batch_first"]),
        source_features=tuple(refusals(layers)),
    )


def _steps_read(shape: tuple[int, ...], batch_first: bool) -> int:
    """The steps of ``x`` that the corrected call (and TF, fed to match) reads."""
    return int(shape[1] if batch_first else shape[0])


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
