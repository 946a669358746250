"""Stand-in for `ganops.training.family`: the contract between the shared training loop and a family.

Private on purpose: the lead's real module replaces it; fields and types are the agreed ones, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

# next_batch(stream) -> {"image": (B, C, H, W) in [-1, 1], "label": (B,) int64, ...} on ctx.device
NextBatch = Callable[[str], dict[str, torch.Tensor]]
Parts = Any  # each family's own dataclass with state_dict() -> dict and load_state_dict(state, device)


@dataclass(frozen=True)
class BuildContext:
    cfg: Any  # the variant's config object (attribute access)
    device: str
    shapes: dict[str, dict[str, tuple]]  # stream -> key -> per-item shape, e.g. {"a": {"image": (1, 28, 28)}}
    num_classes: int
    variant: str
    seed: int


@dataclass(frozen=True)
class Family:
    name: str
    log_keys: tuple[str, ...]  # keys of the dict a step returns (0-dim tensors); all NaN/inf-checked
    build: Callable[[BuildContext], Parts]
    train_step: Callable[[Parts, NextBatch, int], dict[str, torch.Tensor]]  # int = steps done before
    sampler: Callable[[Parts], nn.Module]  # probed for quality and exported
    save_samples: Callable[[Parts, Path, int, int], None]  # (parts, out_dir, step, seed)
    export: Callable[[Parts, nn.Module, Path], None]  # atomic, weights_only-loadable
