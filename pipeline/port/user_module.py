"""The user's module as ``diagnose`` reads it, checked against the source before any search.

A ``state_dict`` of another kind or size cannot be diagnosed: its kind shows in
``weight_hh_l0 [G*H, H]`` (``G`` = 4 for an LSTM, 3 for a GRU, 1 for an RNN) and in
``weight_hr_l0`` (an LSTM with ``proj_size``), its sizes in ``weight_ih_l0 [G*H, I]``. Each
parameter is compared with the shape of the source's own torch parameters
(``pipeline.port.source_units.unit_state``), and the first difference is named.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from pipeline.errors import SourceError
from pipeline.port.layers import SourceLayer
from pipeline.port.source_units import unit_state

logger = logging.getLogger(__name__)

_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def user_shape(
    path: Path,
    state: dict[str, np.ndarray],
    module: dict | None,
    layers: list[SourceLayer],
    batch_first: bool,
) -> dict:
    """The user's module kind, layers, directions and call layout, checked against TF's."""
    kind = layers[0].module
    places = {(int(m.group(2)), bool(m.group(3))) for m in map(_KEY.match, state) if m}
    num_layers = max((layer for layer, _ in places), default=-1) + 1
    bidirectional = any(reverse for _, reverse in places)
    if module is not None:
        if module["kind"] != kind or module["proj_size"]:
            raise SourceError(
                f"{path}: expected a torch.nn.{kind} (the source's layers are {kind}s) without "
                f"proj_size, received nn.{module['kind']} with proj_size {module['proj_size']}"
            )
        if module["batch_first"] != batch_first:
            logger.warning(
                "%s: the saved module has batch_first=%s; that is how it reads x (the "
                "--batch-first option is ignored for a module)",
                path,
                module["batch_first"],
            )
        batch_first = module["batch_first"]
        num_layers, bidirectional = module["num_layers"], module["bidirectional"]
    _check_kind(path, state, layers)
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
    missing = [name for name in parameters(shape) if name not in state]
    if missing:
        raise SourceError(
            f"{path}: the state_dict lacks {missing}; expected every parameter of an "
            f"nn.{kind} with bias=True ({sorted(parameters(shape))})"
        )
    _check_sizes(path, state, layers)
    not_finite = [name for name in parameters(shape) if not np.all(np.isfinite(state[name]))]
    if not_finite:
        raise SourceError(
            f"{path}: {not_finite} hold NaN or inf; expected finite weights (a port of TF's "
            "own, which are finite): check how they were filled"
        )
    extra = sorted(set(state) - set(parameters(shape)))
    if extra:
        logger.warning(
            "%s: ignoring %d key(s) that no nn.%s of the source's shape has: %s",
            path, len(extra), kind, extra,
        )  # fmt: skip
    return shape


def parameters(shape: dict) -> list[str]:
    """The ``state_dict`` keys of an ``nn.<kind>`` of ``shape``'s layers and directions."""
    directions = ("", "_reverse") if shape["bidirectional"] else ("",)
    return [
        f"{name}_l{layer}{direction}"
        for layer in range(shape["num_layers"])
        for direction in directions
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]


def _constructor(layer: SourceLayer) -> str:
    state = unit_state(layer)
    return (
        f"torch.nn.{layer.module}(input_size={state['weight_ih'].shape[1]}, "
        f"hidden_size={state['weight_hh'].shape[1]})"
    )


def _check_kind(path: Path, state: dict[str, np.ndarray], layers: list[SourceLayer]) -> None:
    """Refuse an ``nn.LSTM`` with ``proj_size``, or a module of another kind than TF's."""
    first = layers[0]
    expected = unit_state(first)["weight_hh"].shape
    hint = f"port it into {_constructor(first)}"
    if "weight_hr_l0" in state:
        projection = tuple(np.shape(state["weight_hr_l0"]))
        raise SourceError(
            f"{path}: your state_dict is an nn.LSTM with proj_size={projection[0]} "
            f"(weight_hr_l0 {list(projection)}); the source's {first.name} has no projection "
            f"(no diagnosis for num_proj yet): {hint}"
        )
    weight = state.get("weight_hh_l0")
    if weight is None or np.ndim(weight) != 2:
        return  # named as missing or of the wrong shape by the later checks
    rows, columns = weight.shape
    gates = rows // columns if columns and rows % columns == 0 else None
    names = {count: kind for kind, count in _GATES.items()}
    if gates != _GATES[first.module]:
        yours = f"an nn.{names[gates]}" if gates in names else "no nn.LSTM/nn.GRU/nn.RNN"
        raise SourceError(
            f"{path}: your state_dict is {yours} (weight_hh_l0 {[rows, columns]}, "
            f"[{gates or '?'}H, H]); the source's {first.name} ({first.kind}) is an {first.module} "
            f"(weight_hh_l0 {list(expected)}, [{_GATES[first.module]}H, H]): {hint}"
        )


def _check_sizes(path: Path, state: dict[str, np.ndarray], layers: list[SourceLayer]) -> None:
    """Name the first parameter whose shape differs from the source's, sizes first."""
    for layer in layers:
        end = f"_l{layer.layer}" + ("_reverse" if layer.direction == "backward" else "")
        expected = {name + end: array.shape for name, array in unit_state(layer).items()}
        hint = f"build it as {_constructor(layers[0])}"
        weight_ih, weight_hh = (
            np.shape(state["weight_ih" + end]),
            np.shape(state["weight_hh" + end]),
        )
        if len(weight_hh) == 2 and weight_hh[1] != expected["weight_hh" + end][1]:
            raise SourceError(
                f"{path}: hidden size {weight_hh[1]} in yours (weight_hh{end} "
                f"{list(weight_hh)}), {expected['weight_hh' + end][1]} in the source's "
                f"{layer.name}: {hint}"
            )
        if len(weight_ih) == 2 and weight_ih[1] != expected["weight_ih" + end][1]:
            raise SourceError(
                f"{path}: input size {weight_ih[1]} in yours (weight_ih{end} "
                f"{list(weight_ih)}), {expected['weight_ih' + end][1]} in the source's "
                f"{layer.name}: {hint}"
            )
        for name, shape in expected.items():
            if tuple(np.shape(state[name])) != tuple(shape):
                raise SourceError(
                    f"{path}: {name}: expected shape {list(shape)} like the source "
                    f"{layer.name}, received {list(np.shape(state[name]))}: {hint}"
                )
