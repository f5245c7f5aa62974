"""Which known mistakes explain why a hand port of a fused TF LSTM disagrees with TF.

The user's port is a ``state_dict`` of one ``nn.LSTM`` layer (``weight_ih_l0 [4H, I]``,
``weight_hh_l0 [4H, H]``, ``bias_ih_l0``, ``bias_hh_l0``) and a call (``batch_first``, the
same input array that TF was fed). Each known mistake has a correction: a function of the
port. The search applies every set of corrections, in one fixed order, to the port, runs
``nn.LSTM`` and scores the set by its max abs error against TF's output. The answer is the
smallest set within the tolerance (the lowest error among sets of that size). A set is
skipped when one of its corrections changes nothing, since a smaller set then does the same.

The corrections, in the order they apply:

==================  =========================================================================
``not_transposed``  each kernel half reshaped to [4H, n] instead of transposed: undo it
``halves_swapped``  [weight_hh | weight_ih] is TF's kernel transposed: split it at I instead
``gate_order``      the blocks are in some other order (TF V1's i, c, f, o, say): reorder
``bias_missing``    bias_ih := TF's bias in torch's gate order, bias_hh := 0
``bias_doubled``    TF's bias put in both halves (nn.LSTM adds them): bias_hh := 0
``forget_bias``     forget_bias added to bias_ih's forget block, [H, 2H)
``time_major``      TF reads the array time-major [T, B, I], a batch_first=True call reads it
                    [B, T, I]: both are made to read it the way with more steps (a one-step
                    run shows neither forget_bias nor the recurrent kernel). Where that is
                    torch's reading, TF is fed ``x.transpose(1, 0, 2)``; else batch_first
                    is turned off
==================  =========================================================================

Torch is imported inside the functions: this runs in the torch worker or the test process.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.recurrent.gates import GATE_ORDERS, reorder_gates

logger = logging.getLogger(__name__)

TOLERANCE = 1e-5
PARAMETERS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
MISTAKES = (
    "not_transposed", "halves_swapped", "gate_order", "bias_missing", "bias_doubled",
    "forget_bias", "time_major",
)  # fmt: skip


@dataclass(frozen=True)
class Port:
    """A port: one ``nn.LSTM`` layer's parameters, how it is called, and how TF is fed.

    ``tf_transposed`` compares against TF fed ``x.transpose(1, 0, 2)`` instead of ``x``.
    """

    state: dict[str, np.ndarray]
    batch_first: bool
    tf_transposed: bool = False


@dataclass(frozen=True)
class References:
    """TF's output for ``x`` as fed (time-major), and for ``x.transpose(1, 0, 2)``, in the
    layout of ``x`` (so ``[B, T, H]`` for a batch-major reading)."""

    as_fed: np.ndarray
    transposed: np.ndarray

    def of(self, port: Port) -> np.ndarray:
        return self.transposed if port.tf_transposed else self.as_fed


@dataclass(frozen=True)
class TfLayer:
    """What TF computes: its fused kernel and bias (in ``gate_order``) and ``forget_bias``."""

    kernel: np.ndarray
    bias: np.ndarray
    gate_order: str
    forget_bias: float


@dataclass(frozen=True)
class Correction:
    mistake: str
    detail: str  # the gate order for gate_order, else ""
    explanation: str


@dataclass(frozen=True)
class Diagnosis:
    corrections: tuple[Correction, ...]
    error_before: float
    error_after: float
    corrected: Port
    within_tolerance: bool
    alternatives: int  # other sets of the same size within the tolerance

    @property
    def mistakes(self) -> tuple[str, ...]:
        return tuple(correction.mistake for correction in self.corrections)


def run_port(port: Port, x: np.ndarray) -> np.ndarray:
    """The output of ``nn.LSTM`` with ``port``'s parameters and call on ``x``."""
    import torch

    hidden_size = port.state["weight_hh_l0"].shape[1]
    input_size = port.state["weight_ih_l0"].shape[1]
    module = torch.nn.LSTM(input_size, hidden_size, batch_first=port.batch_first)
    tensors = {
        name: torch.from_numpy(np.ascontiguousarray(port.state[name])) for name in PARAMETERS
    }
    module.load_state_dict(tensors, strict=True)
    with torch.no_grad():
        output, _ = module(torch.from_numpy(x))
    return output.numpy()


def max_error(candidate: np.ndarray, reference: np.ndarray) -> float:
    if candidate.shape != reference.shape:
        return float("inf")
    return float(np.max(np.abs(candidate.astype(np.float64) - reference)))


def diagnose(
    port: Port,
    x: np.ndarray,
    references: References,
    tf_layer: TfLayer,
    *,
    tolerance: float = TOLERANCE,
) -> Diagnosis:
    """The smallest set of corrections that brings ``port``'s output within ``tolerance``."""
    error_before = max_error(run_port(port, x), references.of(port))
    if error_before <= tolerance:
        return Diagnosis((), error_before, error_before, port, True, 0)
    closest: tuple[float, tuple[Correction, ...], Port] | None = None
    for size in range(1, len(MISTAKES) + 1):
        hits = []
        for corrections in _candidate_sets(size, tf_layer):
            corrected = _apply(port, corrections, tf_layer, x.shape)
            if corrected is None:
                continue
            error = max_error(run_port(corrected, x), references.of(corrected))
            if closest is None or error < closest[0]:
                closest = (error, corrections, corrected)
            if error <= tolerance:
                hits.append((error, corrections, corrected))
        if hits:
            logger.info("diagnosis: %d correction(s) fit, %d set(s)", size, len(hits))
            error, corrections, corrected = min(hits, key=lambda hit: hit[0])
            return Diagnosis(corrections, error_before, error, corrected, True, len(hits) - 1)
    error, corrections, corrected = closest
    return Diagnosis(corrections, error_before, error, corrected, False, 0)


def _candidate_sets(size: int, tf_layer: TfLayer):
    orders = ["".join(order) for order in itertools.permutations(GATE_ORDERS["torch_lstm"])]
    orders = [order for order in orders if order != GATE_ORDERS["torch_lstm"]]
    # The orders people copy first: TF's own.
    known = [GATE_ORDERS["tf_block_lstm"], GATE_ORDERS["onnx_lstm"]]
    orders = [o for o in known if o in orders] + [o for o in orders if o not in known]
    for mistakes in itertools.combinations(MISTAKES, size):
        if "gate_order" not in mistakes:
            yield tuple(_correction(m, "", tf_layer) for m in mistakes)
            continue
        for order in orders:
            yield tuple(_correction(m, order, tf_layer) for m in mistakes)


def _correction(mistake: str, order: str, tf_layer: TfLayer) -> Correction:
    explanations = {
        "not_transposed": "kernel not transposed: each half was reshaped to [4H, n]; "
        "use weight_ih = w[:I].T and weight_hh = w[I:].T",
        "halves_swapped": "input and recurrent halves swapped: rows 0..I-1 of TF's kernel "
        "multiply x (weight_ih), rows I.. multiply h (weight_hh)",
        "gate_order": f"gate blocks permuted: yours are in order {', '.join(order)}; "
        "nn.LSTM wants i, f, g, o (TF V1 is i, c, f, o)",
        "bias_missing": "bias missing: TF's bias goes into bias_ih, in torch's gate order",
        "bias_doubled": "bias counted twice: nn.LSTM adds bias_ih and bias_hh; keep TF's bias "
        "in bias_ih only and zero bias_hh",
        "forget_bias": f"forget_bias {tf_layer.forget_bias:g} not folded in: TF adds it to the "
        "forget gate at run time; add it to bias_ih's forget block [H:2H]",
        "time_major": "time-major input read as batch-major: TF's fused op reads x as "
        "[T, B, I] (steps first), your batch_first=True call as [B, T, I]",
    }
    return Correction(mistake, order, explanations[mistake])


_Step = Callable[[Port, str, TfLayer], Port]


def _apply(
    port: Port, corrections: tuple[Correction, ...], tf_layer: TfLayer, shape: tuple[int, ...]
) -> Port | None:
    """``port`` with ``corrections`` applied in order; None if one of them changes nothing."""
    for correction in corrections:
        if correction.mistake == "time_major":
            corrected = _time_major(port, shape)
        else:
            corrected = _STEPS[correction.mistake](port, correction.detail, tf_layer)
        if _same(corrected, port):
            return None
        port = corrected
    return port


def _same(a: Port, b: Port) -> bool:
    layout = (a.batch_first, a.tf_transposed) == (b.batch_first, b.tf_transposed)
    return layout and all(
        a.state[name].shape == b.state[name].shape and np.array_equal(a.state[name], b.state[name])
        for name in PARAMETERS
    )


def _with(port: Port, **arrays: np.ndarray) -> Port:
    state = dict(port.state)
    state.update({f"{name}_l0": array for name, array in arrays.items()})
    return Port(state, port.batch_first, port.tf_transposed)


def _not_transposed(port: Port, order: str, tf_layer: TfLayer) -> Port:
    def undo(weight: np.ndarray) -> np.ndarray:
        rows, columns = weight.shape
        return np.ascontiguousarray(weight.reshape(columns, rows).T)

    return _with(
        port, weight_ih=undo(port.state["weight_ih_l0"]), weight_hh=undo(port.state["weight_hh_l0"])
    )


def _halves_swapped(port: Port, order: str, tf_layer: TfLayer) -> Port:
    input_size = port.state["weight_ih_l0"].shape[1]
    transposed = np.concatenate([port.state["weight_hh_l0"], port.state["weight_ih_l0"]], axis=1)
    return _with(
        port,
        weight_ih=np.ascontiguousarray(transposed[:, :input_size]),
        weight_hh=np.ascontiguousarray(transposed[:, input_size:]),
    )


def _gate_order(port: Port, order: str, tf_layer: TfLayer) -> Port:
    return _with(
        port,
        **{
            name.removesuffix("_l0"): reorder_gates(port.state[name], order, "torch_lstm", axis=0)
            for name in PARAMETERS
        },
    )


def _bias_missing(port: Port, order: str, tf_layer: TfLayer) -> Port:
    bias = reorder_gates(tf_layer.bias, tf_layer.gate_order, "torch_lstm")
    return _with(port, bias_ih=bias.astype(np.float32), bias_hh=np.zeros_like(bias, np.float32))


def _bias_doubled(port: Port, order: str, tf_layer: TfLayer) -> Port:
    return _with(port, bias_hh=np.zeros_like(port.state["bias_hh_l0"]))


def _forget_bias(port: Port, order: str, tf_layer: TfLayer) -> Port:
    bias = port.state["bias_ih_l0"].copy()
    hidden_size = bias.shape[0] // 4
    forget = GATE_ORDERS["torch_lstm"].index("f")
    bias[forget * hidden_size : (forget + 1) * hidden_size] += np.float32(tf_layer.forget_bias)
    return _with(port, bias_ih=bias)


def _time_major(port: Port, shape: tuple[int, ...]) -> Port:
    if not port.batch_first or port.tf_transposed:
        return port  # both read x time-major already
    if shape[1] > shape[0]:  # torch's reading has more steps: feed TF the transpose
        return Port(port.state, port.batch_first, tf_transposed=True)
    return Port(port.state, batch_first=False)


_STEPS: dict[str, _Step] = {
    "not_transposed": _not_transposed,
    "halves_swapped": _halves_swapped,
    "gate_order": _gate_order,
    "bias_missing": _bias_missing,
    "bias_doubled": _bias_doubled,
    "forget_bias": _forget_bias,
}


def diagnose_stage(
    reference_npz: str, port_npz: str, layer_npz: str, options: dict, corrected_npz: str
) -> dict:
    """The torch worker's stage: read the arrays, diagnose, write the corrected parameters.

    ``port_npz`` holds the user's state_dict and ``x``; ``layer_npz`` TF's ``kernel`` and
    ``bias``; ``options`` ``batch_first``, ``gate_order``, ``forget_bias``, ``tolerance``.
    """
    with np.load(reference_npz) as arrays:
        references = References(arrays["h"], arrays["h_transposed"])
    with np.load(port_npz) as arrays:
        state = {name: arrays[name] for name in PARAMETERS if name in arrays.files}
        x = arrays["x"]
    missing = [name for name in PARAMETERS if name not in state]
    if missing:
        raise ValueError(f"the state_dict lacks {missing}; expected one nn.LSTM layer")
    with np.load(layer_npz) as arrays:
        tf_layer = TfLayer(
            arrays["kernel"], arrays["bias"], options["gate_order"], options["forget_bias"]
        )
    port = Port(state, options["batch_first"])
    result = diagnose(port, x, references, tf_layer, tolerance=options["tolerance"])
    np.savez(corrected_npz, **result.corrected.state)
    return {
        "corrections": [
            {"mistake": c.mistake, "detail": c.detail, "explanation": c.explanation}
            for c in result.corrections
        ],
        "error_before": result.error_before,
        "error_after": result.error_after,
        "batch_first": result.corrected.batch_first,
        "tf_transposed": result.corrected.tf_transposed,
        "within_tolerance": result.within_tolerance,
        "alternatives": result.alternatives,
    }
