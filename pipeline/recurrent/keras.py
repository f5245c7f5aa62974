"""Keras recurrent layer weights and activations to ONNX ``LSTM``/``GRU``/``RNN`` (layout 0).

Keras right-multiplies row vectors; ONNX keeps gates as rows and computes ``X @ W^T``.
Per direction (``shared/docs/rnn-semantics.md`` §4, §5, §7)::

    Keras LSTM   kernel [I, 4H] recurrent_kernel [H, 4H] bias [4H]        gates i, f, c, o
    ONNX LSTM    W [4H, I] = reorder(kernel^T)   R [4H, H] = reorder(recurrent_kernel^T)
                 B [8H] = [reorder(bias), 0]                             gates i, o, f, c

    Keras GRU    kernel [I, 3H] recurrent_kernel [H, 3H]                  gates z, r, h
                 reset_after=True:  bias [2, 3H] (input row, recurrent row)
                                    -> B [6H] = [bias[0], bias[1]], linear_before_reset=1
                 reset_after=False: bias [3H] -> B [6H] = [bias, 0], linear_before_reset=0
    ONNX GRU     W [3H, I] = kernel^T   R [3H, H] = recurrent_kernel^T  (same gate order)

    Keras SimpleRNN  kernel [I, H] recurrent_kernel [H, H] bias [H]
    ONNX RNN     W = kernel^T   R = recurrent_kernel^T   B [2H] = [bias, 0]

``use_bias=False`` gives a zero ``B``. A node with ``D`` directions stacks them on axis 0:
``W [D, G*H, I]``, ``R [D, G*H, H]``, ``B [D, 2*G*H]`` (``G`` gates), forward first.

Both GRUs update the state the same way, ``h = z * h_prev + (1 - z) * candidate``, and the
two reset placements are ONNX's two ``linear_before_reset`` values exactly.

Activations map by meaning, with ONNX's ``alpha``/``beta`` (onnxruntime's reading,
``pipeline.recurrent.onnx_activations``)::

    Keras                    ONNX
    tanh, sigmoid, relu,     Tanh, Sigmoid, Relu,
    softsign, softplus       Softsign, Softplus
    linear                   Affine(alpha=1, beta=0)
    elu (alpha 1)            Elu(alpha=1)
    leaky_relu (slope 0.2)   LeakyRelu(alpha=0.2)
    hard_sigmoid (Keras 3)   HardSigmoid(alpha=1/6, beta=0.5)    clip(x/6 + 0.5, 0, 1)
    hard_sigmoid (Keras 2)   HardSigmoid(alpha=0.2, beta=0.5)    clip(0.2x + 0.5, 0, 1)

Any other Keras activation has no ONNX recurrent form: ``KerasMappingError`` names it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.recurrent.gates import reorder_gates

ONNX_OPS = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}

# Keras activation name -> (ONNX function, alpha, beta); alpha/beta None when it takes none.
ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "relu": ("Relu", None, None),
    "softsign": ("Softsign", None, None),
    "softplus": ("Softplus", None, None),
    "linear": ("Affine", 1.0, 0.0),
    "elu": ("Elu", 1.0, None),
    "leaky_relu": ("LeakyRelu", 0.2, None),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),
    "keras2_hard_sigmoid": ("HardSigmoid", 0.2, 0.5),
}
# Refusals list the names users write: ``keras2_hard_sigmoid`` is no Keras name but what
# ``pipeline.sources.keras_model`` sets a Keras 2 file's ``hard_sigmoid`` to on loading.
USER_ACTIVATIONS = sorted(name for name in ACTIVATIONS if name != "keras2_hard_sigmoid")


class KerasMappingError(ValueError):
    """A Keras layer setting that has no exact ONNX form; the message says which."""


@dataclass(frozen=True)
class OnnxRecurrentWeights:
    """The weight inputs of one ONNX recurrent node: ``W``, ``R``, ``B`` with ``D`` on axis 0."""

    W: np.ndarray
    R: np.ndarray
    B: np.ndarray


@dataclass(frozen=True)
class OnnxActivation:
    name: str
    alpha: float | None = None
    beta: float | None = None


def direction_weights(
    kind: str, weights: list[np.ndarray], use_bias: bool, reset_after: bool = True
) -> OnnxRecurrentWeights:
    """One direction's ``W [1, G*H, I]``, ``R [1, G*H, H]``, ``B [1, 2*G*H]``.

    ``kind`` is the Keras class name (``LSTM``, ``GRU``, ``SimpleRNN``) and ``weights`` the
    layer's ``get_weights()``: ``kernel, recurrent_kernel[, bias]``.
    """
    kernel, recurrent_kernel = weights[0], weights[1]
    width = recurrent_kernel.shape[1]
    if use_bias:
        bias = weights[2]
        if kind == "GRU" and reset_after:
            input_bias, recurrent_bias = bias[0], bias[1]
        else:
            input_bias, recurrent_bias = bias, np.zeros_like(bias)
    else:
        input_bias = recurrent_bias = np.zeros([width], dtype=kernel.dtype)
    W, R = kernel.T, recurrent_kernel.T
    if kind == "LSTM":
        W, R = (reorder_gates(a, "keras_lstm", "onnx_lstm", axis=0) for a in (W, R))
        input_bias, recurrent_bias = (
            reorder_gates(b, "keras_lstm", "onnx_lstm") for b in (input_bias, recurrent_bias)
        )
    # Keras GRU gates z, r, h are ONNX GRU's order; SimpleRNN has one block.
    B = np.concatenate([input_bias, recurrent_bias])
    return OnnxRecurrentWeights(W=W[None], R=R[None], B=B[None])


def stack_directions(directions: list[OnnxRecurrentWeights]) -> OnnxRecurrentWeights:
    """One node's weights from its directions' weights, forward first."""
    return OnnxRecurrentWeights(
        W=np.concatenate([d.W for d in directions]),
        R=np.concatenate([d.R for d in directions]),
        B=np.concatenate([d.B for d in directions]),
    )


def onnx_activation(keras_name: str, where: str) -> OnnxActivation:
    """The ONNX function computing Keras activation ``keras_name``; ``where`` names its use."""
    if keras_name not in ACTIVATIONS:
        raise KerasMappingError(
            f"{where}={keras_name!r} has no ONNX recurrent activation; expected one of "
            f"{USER_ACTIVATIONS}. Retrain with one of those, or keep the model in Keras."
        )
    name, alpha, beta = ACTIVATIONS[keras_name]
    return OnnxActivation(name, alpha, beta)


def activation_attributes(functions: list[OnnxActivation]) -> dict[str, list]:
    """``activations``, ``activation_alpha``, ``activation_beta`` for a node's functions.

    ``functions`` lists every direction's functions in ONNX order (forward first). The alpha
    and beta lists hold one value per function that takes them, in order, as onnxruntime
    consumes them; they are left out when no function takes any.
    """
    attributes: dict[str, list] = {"activations": [f.name for f in functions]}
    alphas = [f.alpha for f in functions if f.alpha is not None]
    betas = [f.beta for f in functions if f.beta is not None]
    if alphas:
        attributes["activation_alpha"] = [float(a) for a in alphas]
    if betas:
        attributes["activation_beta"] = [float(b) for b in betas]
    return attributes
