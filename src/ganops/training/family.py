"""The contract between the shared training loop (training.loop) and a model family.

A family is one `Family` entry in `FAMILIES`: plain functions over the family's own "parts" (a
dataclass holding its modules, optimisers and any other training state), no base class. The loop owns
everything that is not model maths: seeding, data order, resume, atomic checkpoints, the non-finite
guard, quality probes, best-checkpoint export, CSV/metric logging and DDP barriers.

Parts must provide `state_dict() -> dict` and `load_state_dict(state: dict, device: str)` covering all
state a resume needs beyond what the loop keeps itself (data order, global RNGs, history, best).
Their keys are stored at the top level of the checkpoint, beside the loop's own keys (LOOP_KEYS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

# next_batch(stream) -> {"image": (B, C, H, W) in [-1, 1], "label": (B,) int64, ...} on the device
NextBatch = Callable[[str], dict[str, torch.Tensor]]
Parts = Any  # a family's own dataclass with state_dict() / load_state_dict(state, device)


@dataclass(frozen=True)
class BuildContext:
    """What a family's `build` may use: its variant config, the data layout and the run's options."""

    cfg: Any  # the variant's config object (attribute access)
    device: str
    shapes: dict[str, dict[str, tuple]]  # stream -> key -> per-item shape, e.g. {"real": {"image": (1, 28, 28)}}
    num_classes: int  # 0 = unconditional
    variant: str
    seed: int
    gan: Any = None  # run-wide training options (GanConfig-like: bf16, channels_last, compile, ...)
    distributed: bool = False  # wrap trained modules in DDP (a process group is running)
    class_names: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Family:
    name: str
    log_keys: tuple[str, ...]  # keys of the dict a step returns (0-dim tensors); all NaN/inf-checked
    build: Callable[[BuildContext], Parts]
    train_step: Callable[[Parts, NextBatch, int], dict[str, torch.Tensor]]  # int = steps done before
    sampler: Callable[[Parts], nn.Module]  # probed for quality and exported
    save_samples: Callable[[Parts, Path, int, int], None]  # (parts, out_dir, step, seed)
    export: Callable[[Parts, nn.Module, Path], None]  # atomic, weights_only-loadable


FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    if family.name in FAMILIES:
        raise ValueError(f"family {family.name!r} registered twice")
    FAMILIES[family.name] = family
    return family
