"""Exponential moving average of G's weights (G_ema), the generator we export and sample from.

decay 0 disables it. Early on the effective decay is min(decay, (1 + step) / (10 + step)) so a short
run is not dominated by the random initial weights. Buffers (batch-norm running statistics) are copied
from G, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(G: nn.Module) -> nn.Module:
    G_ema = copy.deepcopy(G).eval()
    G_ema.requires_grad_(False)
    return G_ema


def ema_decay_at(decay: float, step: int) -> float:
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, decay: float, step: int) -> None:
    """G_ema ← d·G_ema + (1 − d)·G for parameters; buffers copied. `step` = G updates done so far."""
    d = ema_decay_at(decay, step)
    ema_params, params = list(G_ema.parameters()), list(G.parameters())  # no_grad: no detach needed
    assert len(ema_params) == len(params)
    torch._foreach_lerp_(ema_params, params, 1.0 - d)
    # one multi-tensor kernel per list, not one per tensor: on CUDA a small G's step is launch-bound
    ema_buffers, buffers = list(G_ema.buffers()), list(G.buffers())
    assert len(ema_buffers) == len(buffers)
    if buffers:
        torch._foreach_copy_(ema_buffers, buffers)
