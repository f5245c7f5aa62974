"""The known mistakes of a hand port, and the correction of each, for one layer-direction.

A ``Port`` is one unit of the user's module (its parameters without the layer suffix, how it
is called); a ``TfUnit`` is what TF computes for that unit. Each correction is a function of
the two that returns the corrected ``Port``. They apply in the order of ``MISTAKES``:

=====================  ====================================================================
``not_transposed``     a kernel half reshaped to [G*H, n] instead of transposed: undo it.
                       Detail ``""``: both halves, their gates reordered before the reshape
                       (or not at all); ``"weight_ih"``/``"weight_hh"``: that half only; a
                       detail ending ``"reordered after"``: the reshaped rows were then reordered
                       from the source's gate order to torch's, so that is undone first
``halves_swapped``     [weight_hh | weight_ih] is TF's kernel transposed: split it at I
``gate_order``         the gate blocks in another order (TF V1's i, c, f, o; Keras GRU's
                       z, r, h): reorder them to torch's (LSTM i, f, g, o; GRU r, z, n)
``bias_missing``       both biases zero: TF's bias put in, in torch's gate order and split
``bias_split``         GRU: the candidate block split wrongly between bias_ih and bias_hh.
                       nn.GRU multiplies b_hn by r, so Keras' recurrent candidate bias
                       (reset_after=True, row 1) can only go to bias_hh
``bias_doubled``       LSTM: TF's bias in both halves (nn.LSTM adds them): bias_hh := 0
``forget_bias``        LSTM: forget_bias added to bias_ih's forget block [H, 2H)
``time_major``         TF and torch read the array in different layouts ([T, B, I] against
                       [B, T, I]): both are made to read it the way with more steps (a
                       one-step run shows neither forget_bias nor the recurrent kernel), by
                       feeding TF ``x.transpose(1, 0, 2)`` or by flipping batch_first
``peepholes_dropped``  LSTM: the source's peepholes run in the exact loop (nn.LSTM has none)
``cell_clip_dropped``  LSTM: the source's cell_clip runs in the exact loop (nn.LSTM has none)
``reset_after``        GRU: the source resets before the recurrent matmul, nn.GRU after it;
                       the exact reset-before loop runs the same parameters
=====================  ====================================================================

The last three are offered only where the source has the feature; they prove the diagnosis
with ``pipeline.port.exact_units``, since no ``torch.nn`` module can hold them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from pipeline.recurrent.gates import reorder_gates

MISTAKES = (
    "not_transposed", "halves_swapped", "gate_order", "bias_missing", "bias_split",
    "bias_doubled", "forget_bias", "time_major", "peepholes_dropped", "cell_clip_dropped",
    "reset_after",
)  # fmt: skip
EXACT_MISTAKES = ("peepholes_dropped", "cell_clip_dropped", "reset_after")
PARAMETERS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
TORCH_ORDERS = {"LSTM": "ifco", "GRU": "rzh", "RNN": "h"}
_TORCH_NAMES = {"LSTM": "i, f, g, o", "GRU": "r, z, n", "RNN": "h"}


@dataclass(frozen=True)
class ExactFeatures:
    """What only the exact loop computes: peepholes ``[3, H]`` (i, f, o), TF's cell clip
    (``<= 0`` is off), and a GRU reset before the recurrent matmul."""

    peepholes: np.ndarray | None = None
    cell_clip: float = -1.0
    reset_before: bool = False

    @property
    def is_plain(self) -> bool:
        return self.peepholes is None and self.cell_clip <= 0 and not self.reset_before

    def same_as(self, other: ExactFeatures) -> bool:
        return (self.peepholes is other.peepholes) and (self.cell_clip, self.reset_before) == (
            other.cell_clip, other.reset_before
        )  # fmt: skip


@dataclass(frozen=True)
class Port:
    """One unit of a port: its parameters, how it is called and how TF is fed.

    ``tf_transposed`` compares against TF fed ``x.transpose(1, 0, 2)`` instead of ``x``;
    ``features`` are what the exact loop adds (none for the user's own port).
    """

    kind: str
    state: dict[str, np.ndarray]
    batch_first: bool
    reverse: bool = False
    tf_transposed: bool = False
    features: ExactFeatures = ExactFeatures()


@dataclass(frozen=True)
class TfUnit:
    """What TF computes for one unit.

    ``gate_order`` is the source's own order in torch's letters (``icfo`` for TF V1, ``zrh``
    for a Keras GRU); ``bias_ih``/``bias_hh`` TF's bias in torch's order and split, without
    ``forget_bias``; ``time_major`` how TF reads its input; ``peepholes`` ``[3, H]`` (i, f, o).
    """

    kind: str
    gate_order: str
    bias_ih: np.ndarray
    bias_hh: np.ndarray
    forget_bias: float
    time_major: bool
    peepholes: np.ndarray | None = None
    cell_clip: float = -1.0
    reset_before: bool = False


@dataclass(frozen=True)
class Correction:
    mistake: str
    detail: str  # the gate order for gate_order, else ""
    explanation: str


def applicable(tf_unit: TfUnit) -> tuple[str, ...]:
    """The mistakes that can be made in porting ``tf_unit``."""
    kind = tf_unit.kind
    offered = {
        "not_transposed": True,
        "halves_swapped": True,
        "gate_order": kind != "RNN",
        "bias_missing": True,
        "bias_split": kind == "GRU" and bool(np.any(_block(tf_unit.bias_hh, 2, 3))),
        "bias_doubled": kind == "LSTM",
        "forget_bias": kind == "LSTM" and tf_unit.forget_bias != 0,
        "time_major": True,
        "peepholes_dropped": kind == "LSTM" and tf_unit.peepholes is not None,
        "cell_clip_dropped": kind == "LSTM" and tf_unit.cell_clip > 0,
        "reset_after": kind == "GRU" and tf_unit.reset_before,
    }
    return tuple(mistake for mistake in MISTAKES if offered[mistake])


def candidate_sets(size: int, tf_unit: TfUnit) -> Iterator[tuple[Correction, ...]]:
    """Every set of ``size`` corrections, each gate order for ``gate_order``; known orders
    (TF's own, then ONNX's) first."""
    torch_order = TORCH_ORDERS[tf_unit.kind]
    orders = ["".join(order) for order in itertools.permutations(torch_order)]
    known = list(dict.fromkeys([tf_unit.gate_order, "iofc", "zrh"]))  # a GRU's is zrh
    orders = [o for o in known if o in orders and o != torch_order] + [
        o for o in orders if o not in known and o != torch_order
    ]
    afterwards = [""] + (["reordered after"] if tf_unit.gate_order != torch_order else [])
    reshapes = [
        ", ".join(part for part in (half, after) if part)
        for half in ("", "weight_ih", "weight_hh")
        for after in afterwards
    ]
    details = {"gate_order": orders, "not_transposed": reshapes}
    for mistakes in itertools.combinations(applicable(tf_unit), size):
        for chosen in itertools.product(*(details.get(mistake, [""]) for mistake in mistakes)):
            yield tuple(map(_correction, mistakes, chosen, itertools.repeat(tf_unit)))


def apply(
    port: Port, corrections: tuple[Correction, ...], tf_unit: TfUnit, shape: tuple[int, ...]
) -> Port | None:
    """``port`` with ``corrections`` applied in order; None if one of them changes nothing."""
    for correction in corrections:
        if correction.mistake == "time_major":
            corrected = _time_major(port, tf_unit, shape)
        else:
            corrected = _STEPS[correction.mistake](port, correction.detail, tf_unit)
        if _same(corrected, port):
            return None
        port = corrected
    return port


def _correction(mistake: str, detail: str, tf_unit: TfUnit) -> Correction:
    kind = tf_unit.kind
    torch_names = _TORCH_NAMES[kind]
    order = detail
    source_layout = "[T, B, I] (steps first)" if tf_unit.time_major else "[B, T, I]"
    half = {"weight_ih": "the input half (weight_ih)", "weight_hh": "the recurrent half "
            "(weight_hh)"}.get(detail.split(",")[0], "each half")  # fmt: skip
    reordered = " and its row blocks then reordered as if they were gates" * (
        detail.endswith("reordered after")
    )
    explanations = {
        "not_transposed": f"kernel not transposed: {half} was reshaped to [G*H, n]{reordered}; "
        "use weight_ih = w[:I].T and weight_hh = w[I:].T, their gate blocks in torch's order",
        "halves_swapped": "input and recurrent halves swapped: rows 0..I-1 of TF's kernel "
        "multiply x (weight_ih), rows I.. multiply h (weight_hh)",
        "gate_order": f"gate blocks permuted: yours are in order {', '.join(order)}; "
        f"nn.{kind} wants {torch_names} (the source's is {', '.join(tf_unit.gate_order)})",
        "bias_missing": "bias missing: TF's bias goes into bias_ih (and, for a GRU, its "
        "recurrent part into bias_hh), in torch's gate order",
        "bias_split": "bias split wrongly: nn.GRU multiplies bias_hh's candidate block "
        "[2H:3H] by the reset gate, so the source's recurrent candidate bias (Keras bias "
        "row 1) goes there and only there; the input candidate bias (row 0) into bias_ih",
        "bias_doubled": "bias counted twice: nn.LSTM adds bias_ih and bias_hh; keep TF's bias "
        "in bias_ih only and zero bias_hh",
        "forget_bias": f"forget_bias {tf_unit.forget_bias:g} not folded in: TF adds it to the "
        "forget gate at run time; add it to bias_ih's forget block [H:2H]",
        "time_major": f"time-major input confused with batch-major: TF reads x as "
        f"{source_layout}, your call with the other layout",
        "peepholes_dropped": "peepholes dropped: the source's gates read the cell state "
        "(w_i_diag, w_f_diag, w_o_diag); nn.LSTM cannot hold peepholes",
        "cell_clip_dropped": f"cell_clip {tf_unit.cell_clip:g} dropped: TF clips the cell "
        "state carried to the next step; nn.LSTM cannot clip it",
        "reset_after": "reset_after confused: the source applies the reset gate to h BEFORE "
        "the recurrent matmul, nn.GRU applies it after (to W_hn h + b_hn); nn.GRU cannot "
        "hold a reset-before GRU",
    }
    return Correction(mistake, detail, explanations[mistake])


def _same(a: Port, b: Port) -> bool:
    layout = (a.batch_first, a.tf_transposed) == (b.batch_first, b.tf_transposed)
    return (
        layout
        and a.features.same_as(b.features)
        and all(
            a.state[name].shape == b.state[name].shape
            and np.array_equal(a.state[name], b.state[name])
            for name in PARAMETERS
        )
    )


def _with(port: Port, **arrays: np.ndarray) -> Port:
    state = dict(port.state)
    state.update({name: np.ascontiguousarray(array) for name, array in arrays.items()})
    return replace(port, state=state)


def _block(array: np.ndarray, index: int, count: int) -> np.ndarray:
    width = array.shape[0] // count
    return array[index * width : (index + 1) * width]


def _not_transposed(port: Port, detail: str, tf_unit: TfUnit) -> Port:
    source, target = tf_unit.gate_order, TORCH_ORDERS[port.kind]
    reordered_after = detail.endswith("reordered after")
    halves = [detail.split(",")[0]] if detail.startswith("weight_") else ["weight_ih", "weight_hh"]

    def undo(weight: np.ndarray) -> np.ndarray:
        rows, columns = weight.shape
        if not reordered_after:
            return weight.reshape(columns, rows).T
        reshaped = reorder_gates(weight, target, source, 0)  # the rows as reshaped
        return reorder_gates(reshaped.reshape(columns, rows).T, source, target, 0)

    return _with(port, **{name: undo(port.state[name]) for name in halves})


def _halves_swapped(port: Port, order: str, tf_unit: TfUnit) -> Port:
    input_size = port.state["weight_ih"].shape[1]
    transposed = np.concatenate([port.state["weight_hh"], port.state["weight_ih"]], axis=1)
    return _with(port, weight_ih=transposed[:, :input_size], weight_hh=transposed[:, input_size:])


def _gate_order(port: Port, order: str, tf_unit: TfUnit) -> Port:
    target = TORCH_ORDERS[port.kind]
    reordered = {name: reorder_gates(port.state[name], order, target, 0) for name in PARAMETERS}
    return _with(port, **reordered)


def _bias_missing(port: Port, order: str, tf_unit: TfUnit) -> Port:
    if np.any(port.state["bias_ih"]) or np.any(port.state["bias_hh"]):
        return port  # a bias is there: other corrections say what is wrong with it
    return _with(
        port, bias_ih=tf_unit.bias_ih.astype(np.float32), bias_hh=tf_unit.bias_hh.astype(np.float32)
    )


def _bias_split(port: Port, order: str, tf_unit: TfUnit) -> Port:
    bias_ih, bias_hh = port.state["bias_ih"].copy(), port.state["bias_hh"].copy()
    units = bias_ih.shape[0] // 3
    candidate = slice(2 * units, 3 * units)
    total = bias_ih[candidate] + bias_hh[candidate]
    bias_hh[candidate] = _block(tf_unit.bias_hh, 2, 3)
    bias_ih[candidate] = total - bias_hh[candidate]
    return _with(port, bias_ih=bias_ih, bias_hh=bias_hh)


def _bias_doubled(port: Port, order: str, tf_unit: TfUnit) -> Port:
    return _with(port, bias_hh=np.zeros_like(port.state["bias_hh"]))


def _forget_bias(port: Port, order: str, tf_unit: TfUnit) -> Port:
    bias = port.state["bias_ih"].copy()
    units = bias.shape[0] // 4
    forget = TORCH_ORDERS["LSTM"].index("f")
    bias[forget * units : (forget + 1) * units] += np.float32(tf_unit.forget_bias)
    return _with(port, bias_ih=bias)


def _time_major(port: Port, tf_unit: TfUnit, shape: tuple[int, ...]) -> Port:
    if port.tf_transposed or port.batch_first != tf_unit.time_major:
        return port  # both read x the same way already
    # A time-major reading of x has shape[0] steps, a batch-major one shape[1].
    torch_steps = shape[1] if port.batch_first else shape[0]
    tf_steps = shape[0] if tf_unit.time_major else shape[1]
    if torch_steps > tf_steps:  # torch's reading has more steps: feed TF the transpose
        return replace(port, tf_transposed=True)
    return replace(port, batch_first=not port.batch_first)


def _peepholes_dropped(port: Port, order: str, tf_unit: TfUnit) -> Port:
    return replace(port, features=replace(port.features, peepholes=tf_unit.peepholes))


def _cell_clip_dropped(port: Port, order: str, tf_unit: TfUnit) -> Port:
    return replace(port, features=replace(port.features, cell_clip=tf_unit.cell_clip))


def _reset_after(port: Port, order: str, tf_unit: TfUnit) -> Port:
    return replace(port, features=replace(port.features, reset_before=True))


_STEPS: dict[str, Callable[[Port, str, TfUnit], Port]] = {
    "not_transposed": _not_transposed,
    "halves_swapped": _halves_swapped,
    "gate_order": _gate_order,
    "bias_missing": _bias_missing,
    "bias_split": _bias_split,
    "bias_doubled": _bias_doubled,
    "forget_bias": _forget_bias,
    "peepholes_dropped": _peepholes_dropped,
    "cell_clip_dropped": _cell_clip_dropped,
    "reset_after": _reset_after,
}
