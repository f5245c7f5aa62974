"""The ``activations``, ``activation_alpha`` and ``activation_beta`` attributes of ONNX RNNs.

ONNX ``LSTM`` applies three functions per direction (``f`` to the gates i, o, f; ``g`` to the
cell candidate; ``h`` to the cell state on output), ``GRU`` two (``f`` to z and r, ``g`` to
the candidate) and ``RNN`` one. A bidirectional node lists the forward functions first.

Each function takes ``alpha`` and ``beta`` only if its definition has them, and they are
consumed from the two lists in the order the functions are listed; a list that runs out
leaves the defaults. This is onnxruntime's reading (``rnn_helpers.cc``), which is the one
the pipeline validates against::

    function          alpha  beta   defaults (alpha, beta)
    Affine            yes    yes    0, 0        alpha * x + beta
    LeakyRelu         yes    -      0.01        x if x >= 0 else alpha * x
    ThresholdedRelu   yes    -      0           x if x > alpha else 0
    ScaledTanh        yes    yes    0, 0        alpha * tanh(beta * x)
    HardSigmoid       yes    yes    0.2, 0.5    clip(alpha * x + beta, 0, 1)
    Elu               yes    -      1.0         x if x >= 0 else alpha * (exp(x) - 1)
    Relu, Tanh, Sigmoid, Softsign, Softplus take neither.
"""

from __future__ import annotations

from dataclasses import dataclass

# name (lower case) -> (takes alpha, takes beta, default alpha, default beta)
_ARGUMENTS: dict[str, tuple[bool, bool, float, float]] = {
    "affine": (True, True, 0.0, 0.0),
    "relu": (False, False, 0.0, 0.0),
    "leakyrelu": (True, False, 0.01, 0.0),
    "thresholdedrelu": (True, False, 0.0, 0.0),
    "tanh": (False, False, 0.0, 0.0),
    "scaledtanh": (True, True, 0.0, 0.0),
    "sigmoid": (False, False, 0.0, 0.0),
    "hardsigmoid": (True, True, 0.2, 0.5),
    "elu": (True, False, 1.0, 0.0),
    "softsign": (False, False, 0.0, 0.0),
    "softplus": (False, False, 0.0, 0.0),
}
KNOWN_ACTIVATIONS = tuple(sorted(_ARGUMENTS))

DEFAULT_ACTIVATIONS: dict[str, tuple[str, ...]] = {
    "LSTM": ("sigmoid", "tanh", "tanh"),
    "GRU": ("sigmoid", "tanh"),
    "RNN": ("tanh",),
}


@dataclass(frozen=True)
class Activation:
    """One activation function with its arguments; ``name`` is lower case."""

    name: str
    alpha: float = 0.0
    beta: float = 0.0


def read_activations(
    op_type: str,
    num_directions: int,
    activations: list[str] | None,
    alphas: list[float] | None = None,
    betas: list[float] | None = None,
) -> tuple[tuple[Activation, ...], ...]:
    """The functions of each direction of an ``op_type`` node, with their alpha and beta.

    Raises ``ValueError`` naming the attribute for an unknown function or a wrong count.
    """
    per_direction = len(DEFAULT_ACTIVATIONS[op_type])
    names = [name.lower() for name in activations] if activations else []
    if not names:
        names = list(DEFAULT_ACTIVATIONS[op_type]) * num_directions
    if len(names) != per_direction * num_directions:
        raise ValueError(
            f"activations={list(activations or [])}: {op_type} with {num_directions} "
            f"direction(s) takes {per_direction * num_directions} functions"
        )
    unknown = [name for name in names if name not in _ARGUMENTS]
    if unknown:
        raise ValueError(
            f"activations {unknown} are not ONNX activation functions; expected one of "
            f"{list(KNOWN_ACTIVATIONS)}"
        )
    remaining_alphas, remaining_betas = list(alphas or []), list(betas or [])
    parsed = []
    for name in names:
        takes_alpha, takes_beta, alpha, beta = _ARGUMENTS[name]
        if takes_alpha and remaining_alphas:
            alpha = remaining_alphas.pop(0)
        if takes_beta and remaining_betas:
            beta = remaining_betas.pop(0)
        parsed.append(Activation(name, float(alpha), float(beta)))
    return tuple(
        tuple(parsed[d * per_direction : (d + 1) * per_direction]) for d in range(num_directions)
    )


def is_default(op_type: str, functions: tuple[Activation, ...]) -> bool:
    """True when one direction's functions are the op's defaults."""
    return tuple(function.name for function in functions) == DEFAULT_ACTIVATIONS[op_type]
