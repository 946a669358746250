"""Optimiser, schedule and shape helpers shared by the pix2pix and CycleGAN families."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ganops.training.updates import adam
from ganops.translation.schedule import linear_decay


def adam_with_schedule(
    params: Iterable[nn.Parameter], cfg: Any
) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LambdaLR]:
    """Adam(cfg.lr, (cfg.beta1, cfg.beta2)) and its constant-then-linear schedule, stepped once per step."""
    optimizer = adam(params, cfg.lr, (cfg.beta1, cfg.beta2))
    return optimizer, linear_decay(optimizer, cfg.lr_constant_steps, cfg.lr_decay_steps)


def image_shape(shapes: dict[str, dict[str, tuple]], stream: str, key: str) -> tuple[int, int, int]:
    """The per-item (C, H, W) of `stream`/`key`, square; a one-line error naming them otherwise."""
    try:
        shape = tuple(int(s) for s in shapes[stream][key])
    except KeyError:
        raise ValueError(f"data stream {stream!r} has no {key!r} images (streams: {sorted(shapes)})") from None
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"data stream {stream!r} key {key!r}: need square (C, H, W) images, got {shape}")
    return shape  # (C, H, W)


def same_size(shape_a: tuple[int, int, int], shape_b: tuple[int, int, int]) -> None:
    if shape_a[1:] != shape_b[1:]:
        raise ValueError(f"domain A images are {shape_a[1:]} and B images {shape_b[1:]}: use one image size")


def check_weights(cfg: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(cfg, name) < 0:
            raise ValueError(f"{name} must be >= 0 (got {getattr(cfg, name)})")
