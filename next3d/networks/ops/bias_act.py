"""Bias, activation, gain and clamp in one call, with StyleGAN2's default gains."""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Activation:
    """An activation function with its default slope (`alpha`) and its variance-preserving gain."""

    func: Callable[[torch.Tensor, float], torch.Tensor]
    default_alpha: float
    default_gain: float


ACTIVATIONS: MappingProxyType[str, Activation] = MappingProxyType(
    {
        "linear": Activation(lambda x, a: x, 0.0, 1.0),
        "relu": Activation(lambda x, a: F.relu(x), 0.0, math.sqrt(2.0)),
        "lrelu": Activation(lambda x, a: F.leaky_relu(x, a), 0.2, math.sqrt(2.0)),
        "tanh": Activation(lambda x, a: torch.tanh(x), 0.0, 1.0),
        "sigmoid": Activation(lambda x, a: torch.sigmoid(x), 0.0, 1.0),
        "softplus": Activation(lambda x, a: F.softplus(x), 0.0, 1.0),
        "swish": Activation(lambda x, a: torch.sigmoid(x) * x, 0.0, math.sqrt(2.0)),
    }
)


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Return clamp(act(x + b) * gain): `b` runs along `dim`; gain and alpha default to the activation's."""
    spec = ACTIVATIONS[act]
    alpha = spec.default_alpha if alpha is None else float(alpha)
    gain = spec.default_gain if gain is None else float(gain)
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.to(x.dtype).reshape(shape)
    x = spec.func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x
