"""TF1 recurrent cells found by their variable names, in any mapping of names to arrays.

A TF1 checkpoint, an ``.npz`` of named arrays and a frozen graph's constants all name the
weights as TF1 created them. A cell's variables live under its scope::

    <stack>/[fw|bw/][multi_rnn_cell/cell_K/]<cell>/<variable>

    lstm_cell, basic_lstm_cell   kernel [I + R, 4H] (icfo), bias [4H],
                                 projection/kernel [H, P], w_i_diag, w_f_diag, w_o_diag
    lstm_fused_cell              kernel [I + H, 4H] (icfo), bias [4H], peepholes as above
    gru_cell                     gates/kernel, gates/bias, candidate/kernel, candidate/bias
    any scope                    w_ru, w_c, b_ru, b_c (GRUBlockCell)

``cell_K`` gives the layer, ``fw``/``bw`` the direction, and what is left the module.
Neither a checkpoint nor an npz holds ``forget_bias`` or ``cell_clip``: the caller gives
``forget_bias`` (TF1's default is 1.0) and the layers note the assumption that clipping is off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from pipeline.port.layers import SourceLayer

_LSTM_CELLS = ("lstm_cell", "basic_lstm_cell", "lstm_fused_cell")
_PEEPHOLES = ("w_i_diag", "w_f_diag", "w_o_diag")
_GRU_CELL_LEAVES = ("gates/kernel", "candidate/kernel", "gates/bias", "candidate/bias")
_GRU_BLOCK_LEAVES = ("w_ru", "w_c", "b_ru", "b_c")
_LAYER = re.compile(r"cell_(\d+)$")


def place_of(scope: str) -> tuple[str, int, str]:
    """``"rnn/multi_rnn_cell/cell_1/lstm_cell"`` -> ``("rnn", 1, "forward")``.

    ``scope`` is the cell's own scope; the stack is what is left after dropping the cell's
    name, ``multi_rnn_cell``, ``cell_K`` and ``fw``/``bw``.
    """
    parts = scope.split("/")
    cell, parts = parts[-1], parts[:-1]
    layer, direction, stack = 0, "forward", []
    for part in parts:
        match = _LAYER.match(part)
        if match:
            layer = int(match.group(1))
        elif part in ("fw", "bw"):
            direction = "forward" if part == "fw" else "backward"
        elif part != "multi_rnn_cell":
            stack.append(part)
    return "/".join(stack) or cell, layer, direction


def layers_from_variables(
    variables: Mapping[str, np.ndarray], *, forget_bias: float, where: str
) -> list[SourceLayer]:
    """Every TF1 cell whose variables are in ``variables``; ``where`` labels the notes."""
    names = {name.removesuffix(":0"): name for name in variables}
    layers = []
    for name in sorted(names):
        scope, _, leaf = name.rpartition("/")
        cell = scope.rpartition("/")[2]
        if leaf == "kernel" and cell in _LSTM_CELLS:
            layers.append(_lstm(names, variables, scope, forget_bias, where))
        elif leaf == "kernel" and scope.endswith("gru_cell/gates"):
            cell = scope.removesuffix("/gates")
            layers.append(_gru(names, variables, cell, "gru_cell", _GRU_CELL_LEAVES))
        elif leaf == "w_ru":
            layers.append(_gru(names, variables, scope, "gru_block_cell", _GRU_BLOCK_LEAVES))
    return layers


def _lstm(names, variables, scope: str, forget_bias: float, where: str) -> SourceLayer:
    def array(leaf: str) -> np.ndarray | None:
        name = names.get(f"{scope}/{leaf}")
        return None if name is None else np.asarray(variables[name])

    kernel = array("kernel")
    bias = array("bias")
    if bias is None:
        bias = np.zeros(kernel.shape[1], kernel.dtype)
    arrays = {"kernel": kernel, "bias": bias}
    projection = array("projection/kernel")
    if projection is not None:
        arrays["projection"] = projection
    peepholes = [array(leaf) for leaf in _PEEPHOLES]
    if all(peephole is not None for peephole in peepholes):
        arrays.update(zip(("wci", "wcf", "wco"), peepholes, strict=True))
    cell = scope.rpartition("/")[2]
    stack, layer, direction = place_of(scope)
    return SourceLayer(
        name=scope,
        kind="lstm_fused_cell" if cell == "lstm_fused_cell" else "lstm_cell",
        arrays=arrays,
        stack=stack,
        layer=layer,
        direction=direction,
        forget_bias=forget_bias,
        peepholes=any(peephole is not None for peephole in peepholes),
        notes=(
            f"{where} holds no forget_bias: {forget_bias:g} assumed (--forget-bias), and "
            "no cell_clip: clipping assumed off",
        ),
    )


def _gru(names, variables, scope: str, kind: str, leaves: tuple[str, ...]) -> SourceLayer:
    """A TF1 GRU's arrays as GRUBlockCell names them: w_ru, w_c, b_ru, b_c."""
    arrays = {}
    for role, leaf in zip(("w_ru", "w_c", "b_ru", "b_c"), leaves, strict=True):
        name = names.get(f"{scope}/{leaf}")
        if name is not None:
            arrays[role] = np.asarray(variables[name])
    if "b_ru" not in arrays and "w_ru" in arrays:
        arrays["b_ru"] = np.zeros(arrays["w_ru"].shape[1], arrays["w_ru"].dtype)
    if "b_c" not in arrays and "w_c" in arrays:
        arrays["b_c"] = np.zeros(arrays["w_c"].shape[1], arrays["w_c"].dtype)
    stack, layer, direction = place_of(scope)
    return SourceLayer(
        name=scope, kind=kind, arrays=arrays, stack=stack, layer=layer, direction=direction,
        reset_after=False,
    )  # fmt: skip
