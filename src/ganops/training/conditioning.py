"""Class-conditional layers shared by the model families' generators (image, video).

`ClassAffine` after a norm layer built without its own affine is conditional batch norm (de Vries et
al. 2017, Miyato & Koyama 2018's generators): the class sets each channel's gain and bias, so a label
reaches every layer of G instead of one input embedding that G may learn to ignore. torch has no such
layer, hence these few lines.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class ClassAffine(nn.Module):
    """Per-class gain and bias on features (B, F, ...): h * (1 + gain[y]) + bias[y], both starting at 0.

    Placed after a norm layer built with affine=False it makes conditional batch norm; after a plain
    layer it is FiLM with a class-indexed table. Sequential cannot pass y: see `run_with_labels`."""

    def __init__(self, num_classes: int, features: int) -> None:
        super().__init__()
        self.gain = nn.Embedding(num_classes, features)
        self.bias = nn.Embedding(num_classes, features)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if y is None:
            raise ValueError("this generator is class-conditional: pass labels y (B,) int64")
        shape = (h.shape[0], h.shape[1]) + (1,) * (h.dim() - 2)
        gain, bias = self.gain(y).view(shape).to(h.dtype), self.bias(y).view(shape).to(h.dtype)
        return h * (1 + gain) + bias


def class_norm(norm: Callable[..., nn.Module], features: int, num_classes: int) -> list[nn.Module]:
    """[norm(features)] unconditionally (same state-dict keys as before), else [norm without its own
    affine, ClassAffine]: conditional batch norm."""
    if not num_classes:
        return [norm(features)]
    return [norm(features, affine=False), ClassAffine(num_classes, features)]


def run_with_labels(layers: nn.Module, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """layers(h), handing y to the ClassAffine layers; `layers` is a Sequential or one layer."""
    for layer in layers if isinstance(layers, nn.Sequential) else [layers]:
        h = layer(h, y) if isinstance(layer, ClassAffine) else layer(h)
    return h
