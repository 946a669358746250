"""DiffAugment (Zhao et al. 2020): differentiable colour / translation / cutout on both real and fake
images before D, so D cannot memorise a small training set while G still gets gradients through it.

Follows the authors' reference code (policy "color,translation,cutout"); written here because no
installed package provides it. Randomness comes from the global torch RNG (checkpointed by training).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def _rand(x: torch.Tensor) -> torch.Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)  # (B, 1, 1, 1)


def rand_brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (_rand(x) - 0.5)


def rand_saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)  # (B, 1, H, W); a no-op on one-channel images
    return (x - mean) * (_rand(x) * 2) + mean


def rand_contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x) + 0.5) + mean


def _grid(batch: int, h: int, w: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    return torch.meshgrid(
        torch.arange(batch, device=device),
        torch.arange(h, device=device),
        torch.arange(w, device=device),
        indexing="ij",
    )


def rand_translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio·size pixels, filling with zeros (B, C, H, W)."""
    B, _, H, W = x.shape
    shift_h, shift_w = int(H * ratio + 0.5), int(W * ratio + 0.5)
    dy = torch.randint(-shift_h, shift_h + 1, size=(B, 1, 1), device=x.device)
    dx = torch.randint(-shift_w, shift_w + 1, size=(B, 1, 1), device=x.device)
    gb, gy, gx = _grid(B, H, W, x.device)
    gy = torch.clamp(gy + dy + 1, 0, H + 1)
    gx = torch.clamp(gx + dx + 1, 0, W + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # (B, C, H+2, W+2), zero border
    return padded.permute(0, 2, 3, 1)[gb, gy, gx].permute(0, 3, 1, 2)  # (B, C, H, W)


def rand_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of side ratio·size per image."""
    B, _, H, W = x.shape
    size_h, size_w = int(H * ratio + 0.5), int(W * ratio + 0.5)
    oy = torch.randint(0, H + (1 - size_h % 2), size=(B, 1, 1), device=x.device)
    ox = torch.randint(0, W + (1 - size_w % 2), size=(B, 1, 1), device=x.device)
    gb, gy, gx = _grid(B, size_h, size_w, x.device)
    gy = torch.clamp(gy + oy - size_h // 2, 0, H - 1)
    gx = torch.clamp(gx + ox - size_w // 2, 0, W - 1)
    mask = torch.ones(B, H, W, dtype=x.dtype, device=x.device)
    mask[gb, gy, gx] = 0
    return x * mask.unsqueeze(1)


AUGMENTS: dict[str, list[Callable[[torch.Tensor], torch.Tensor]]] = {
    "color": [rand_brightness, rand_saturation, rand_contrast],
    "translation": [rand_translation],
    "cutout": [rand_cutout],
}
DEFAULT_POLICY = "color,translation,cutout"


def diff_augment(x: torch.Tensor, policy: str = DEFAULT_POLICY) -> torch.Tensor:
    """Apply each augmentation group of `policy` in order; x (B, C, H, W) in [-1, 1]."""
    for group in filter(None, policy.split(",")):
        for fn in AUGMENTS[group]:
            x = fn(x)
    return x.contiguous()
