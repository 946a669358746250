"""`resnet_sn`: SNGAN-style residual G and D (Miyato et al. 2018) with spectral norm on every D layer.

G: z → linear to (width, s, s) → ResBlockUp × n → BN, ReLU, 3×3 conv → tanh, with s = 4 (32, 64 px)
or 6 (48 px). D: optimized first block → ResBlockDown …, ReLU, global sum pooling, spectral-normed
linear (plus the projection term when conditional). `width` is the channel count of every block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganops.image.architectures import (
    LabelEmbedding,
    ProjectionHead,
    modulated,
    register_arch,
)
from ganops.training.conditioning import class_norm, run_with_labels

if TYPE_CHECKING:
    from ganops.config.params import VariantConfig

SIZES = (32, 48, 64)
_LAYOUT = {32: (4, 3), 48: (6, 3), 64: (4, 4)}  # size → (start side, number of ×2 blocks)


class GBlock(nn.Module):
    """BN-ReLU-up-conv-BN-ReLU-conv, plus an up-sampled 1×1 shortcut; conditional batch norm when
    `modulated` > 0 classes."""

    def __init__(self, in_ch: int, out_ch: int, modulated: int = 0) -> None:
        super().__init__()
        bn1, bn2 = class_norm(nn.BatchNorm2d, in_ch, modulated), class_norm(nn.BatchNorm2d, out_ch, modulated)
        # one module without a label, as before (same state-dict keys); a Sequential of norm + ClassAffine with one
        self.bn1 = bn1[0] if len(bn1) == 1 else nn.Sequential(*bn1)
        self.bn2 = bn2[0] if len(bn2) == 1 else nn.Sequential(*bn2)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        # (B, in, s, s) → (B, out, 2s, 2s)
        h = F.interpolate(F.relu(run_with_labels(self.bn1, x, y)), scale_factor=2)
        h = self.conv2(F.relu(run_with_labels(self.bn2, self.conv1(h), y)))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """(ReLU)-conv-ReLU-conv-avgpool, plus a 1×1 conv + avgpool shortcut; all convs spectral-normed."""

    def __init__(self, in_ch: int, out_ch: int, first: bool) -> None:
        super().__init__()
        self.first = first
        self.conv1 = spectral_norm(nn.Conv2d(in_ch, out_ch, 3, 1, 1))
        self.conv2 = spectral_norm(nn.Conv2d(out_ch, out_ch, 3, 1, 1))
        self.skip = spectral_norm(nn.Conv2d(in_ch, out_ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in, s, s) → (B, out, s/2, s/2)
        h = x if self.first else F.relu(x)
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(h))), 2)
        shortcut = self.skip(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.skip(x), 2)
        return h + shortcut


class ResNetGenerator(nn.Module):
    def __init__(
        self, z_dim: int, width: int, image_shape: tuple[int, int, int], num_classes: int, modulated: int = 0
    ) -> None:
        super().__init__()
        channels, size, _ = image_shape
        self.start, ups = _LAYOUT[size]
        self.width = width
        self.label = LabelEmbedding(0 if modulated else num_classes, z_dim)
        self.project = nn.Linear(z_dim + self.label.dim, width * self.start**2)
        self.blocks = nn.ModuleList([GBlock(width, width, modulated) for _ in range(ups)])
        self.out = nn.Sequential(
            *class_norm(nn.BatchNorm2d, width, modulated), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh()
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.project(self.label(z, y)).view(-1, self.width, self.start, self.start)  # (B, w, s, s)
        for block in self.blocks:
            h = block(h, y)
        return run_with_labels(self.out, h, y)  # (B, C, H, W)


class ResNetDiscriminator(nn.Module):
    def __init__(self, width: int, image_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        channels, size, _ = image_shape
        _, downs = _LAYOUT[size]
        blocks = [DBlock(channels, width, first=True)] + [DBlock(width, width, first=False) for _ in range(downs - 1)]
        self.blocks = nn.Sequential(*blocks)
        self.head = ProjectionHead(width, num_classes, wrap=spectral_norm)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling → (B, width)
        return self.head(h, y)  # (B,)


@register_arch("resnet_sn", image_sizes=SIZES)
def build_resnet_sn(
    cfg: VariantConfig, image_shape: tuple[int, int, int], num_classes: int
) -> tuple[nn.Module, nn.Module]:
    return (
        ResNetGenerator(cfg.z_dim, cfg.width, image_shape, num_classes, modulated(cfg, num_classes)),
        ResNetDiscriminator(cfg.width, image_shape, num_classes),
    )
