"""The two moves every adversarial step makes: one optimiser update on a loss, and a network frozen
while the other one learns through it. Shared by the image, translation and video families.

A plain function and a context manager rather than a trainer class: each family's step stays a
readable sequence of its own losses (STYLE.md: one shared loop, families as plain functions).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


def update(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """Gradients of `loss` replace any earlier ones (zero_grad with set_to_none), then one step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@contextlib.contextmanager
def frozen(*modules: nn.Module | None) -> Iterator[None]:
    """Within the block, `modules` (None skipped) compute no weight gradients: G's loss still flows
    through a frozen D to G's weights, and D keeps no gradients it would never use."""
    live = [module for module in modules if module is not None]
    for module in live:
        module.requires_grad_(False)
    try:
        yield
    finally:
        for module in live:
            module.requires_grad_(True)
