"""Local stand-in for the shared loop's contract (`ganops.training.family`), field for field.

Swap the import for the real module once it exists; nothing here has behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

# next_batch("clips") -> {"clip": (B, T, C, H, W) float in [-1, 1], "label": (B,) int64}, on ctx.device
NextBatch = Callable[[str], dict[str, torch.Tensor]]
Parts = Any  # the family's own dataclass with state_dict() -> dict and load_state_dict(state, device)


@dataclass(frozen=True)
class BuildContext:
    cfg: Any  # the variant's config object (attribute access)
    device: str
    shapes: dict[
        str, dict[str, tuple]
    ]  # stream -> key -> per-item shape, e.g. {"clips": {"clip": (T, C, H, W)}}
    num_classes: int
    variant: str
    seed: int


@dataclass(frozen=True)
class Family:
    name: str
    log_keys: tuple[str, ...]  # keys of the dict a step returns (0-dim tensors); all NaN/inf-checked
    build: Callable[[BuildContext], Parts]  # modules, optimisers, EMA copy, on ctx.device
    train_step: Callable[[Parts, NextBatch, int], dict[str, torch.Tensor]]  # int = steps done before
    sampler: Callable[[Parts], nn.Module]  # the module probed for quality and exported
    save_samples: Callable[[Parts, Path, int, int], None]  # (parts, out_dir, step, seed)
    export: Callable[[Parts, nn.Module, Path], None]  # (parts, sampler, path), atomic
