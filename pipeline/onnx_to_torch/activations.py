"""ONNX RNN activation functions in torch (see ``pipeline.recurrent.onnx_activations``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from pipeline.recurrent.onnx_activations import Activation

_FUNCTIONS: dict[str, Callable[[torch.Tensor, float, float], torch.Tensor]] = {
    "affine": lambda x, alpha, beta: alpha * x + beta,
    "relu": lambda x, alpha, beta: torch.relu(x),
    "leakyrelu": lambda x, alpha, beta: F.leaky_relu(x, alpha),
    "thresholdedrelu": lambda x, alpha, beta: torch.where(x > alpha, x, 0.0),
    "tanh": lambda x, alpha, beta: torch.tanh(x),
    "scaledtanh": lambda x, alpha, beta: alpha * torch.tanh(beta * x),
    "sigmoid": lambda x, alpha, beta: torch.sigmoid(x),
    "hardsigmoid": lambda x, alpha, beta: torch.clamp(alpha * x + beta, 0.0, 1.0),
    "elu": lambda x, alpha, beta: F.elu(x, alpha),
    "softsign": lambda x, alpha, beta: F.softsign(x),
    "softplus": lambda x, alpha, beta: F.softplus(x),
}


def apply_activation(activation: Activation, x: torch.Tensor) -> torch.Tensor:
    """``activation`` (with its alpha and beta) applied to ``x``."""
    return _FUNCTIONS[activation.name](x, activation.alpha, activation.beta)
