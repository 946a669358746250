"""`mlp`: the founding design's original GAN (Goodfellow et al. 2014 style, fully connected).

G: z → dense(width) → dense(width) → C·H·W, LeakyReLU(0.2) between. The original G ends in a sigmoid
(pixels in [0, 1]); to keep one data range for every arch we map it to [-1, 1] as 2·sigmoid − 1, which
is exactly tanh(x / 2), so the model family is unchanged.
D: flatten → dense(width) → dense(width) → 1 logit, LeakyReLU(0.2) between. Works for any image size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ganops.image.architectures import (
    LabelEmbedding,
    ProjectionHead,
    modulated,
    register_arch,
)
from ganops.training.conditioning import ClassAffine, run_with_labels

if TYPE_CHECKING:
    from ganops.config.params import VariantConfig


class MLPGenerator(nn.Module):
    """Conditional with `modulated` classes: a per-class gain and bias (FiLM) on both hidden layers."""

    def __init__(
        self, z_dim: int, width: int, image_shape: tuple[int, int, int], num_classes: int, modulated: int = 0
    ) -> None:
        super().__init__()
        self.image_shape = image_shape
        self.label = LabelEmbedding(0 if modulated else num_classes, z_dim)
        channels, height, width_px = image_shape
        self.net = nn.Sequential(
            nn.Linear(z_dim + self.label.dim, width),
            *([ClassAffine(modulated, width)] if modulated else []),
            nn.LeakyReLU(0.2),
            nn.Linear(width, width),
            *([ClassAffine(modulated, width)] if modulated else []),
            nn.LeakyReLU(0.2),
            nn.Linear(width, channels * height * width_px),
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = run_with_labels(self.net, self.label(z, y), y)  # (B, C*H*W)
        x = 2 * torch.sigmoid(x) - 1  # the original sigmoid output, mapped to [-1, 1]
        return x.view(-1, *self.image_shape)  # (B, C, H, W)


class MLPDiscriminator(nn.Module):
    def __init__(self, width: int, image_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        channels, height, width_px = image_shape
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * height * width_px, width),
            nn.LeakyReLU(0.2),
            nn.Linear(width, width),
            nn.LeakyReLU(0.2),
        )
        self.head = ProjectionHead(width, num_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.net(x), y)  # (B,)


@register_arch("mlp")
def build_mlp(cfg: VariantConfig, image_shape: tuple[int, int, int], num_classes: int) -> tuple[nn.Module, nn.Module]:
    G = MLPGenerator(cfg.z_dim, cfg.width, image_shape, num_classes, modulated(cfg, num_classes))
    D = MLPDiscriminator(cfg.width, image_shape, num_classes)
    return G, D
