"""Building blocks shared by the video generators and discriminators (no model knowledge).

Sizes: every spatial side is a power of two >= 8; a stack halves or doubles it log2(side / 4) times,
so 32 px uses 3 stages and 64 px uses 4.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganops.training.conditioning import class_norm, run_with_labels

EMBED_DIM = 16  # label embedding concatenated to G's latent when conditional


def num_stages(side: int) -> int:
    """Up/down-sampling stages between 4 px and `side` px (a power of two >= 8)."""
    stages = int(math.log2(side)) - 2
    if side < 8 or 2 ** (stages + 2) != side:
        raise ValueError(f"video clips: frame side must be a power of two >= 8 (got {side}); set video.size")
    return stages


def maybe_sn(module: nn.Module, spectral_norm: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(module) if spectral_norm else module


class FrameGenerator(nn.Module):
    """DCGAN-style image generator: latent (N, d) [, labels (N,)] -> frames (N, C, H, H) in [-1, 1].

    out_offset is added before the tanh: 0 starts G at mid-grey, -2 at near-black (tanh(-2) = -0.96).
    num_classes > 0: conditional batch norm (every norm layer's gain and bias set by the label,
    ganops.training.conditioning); 0 keeps the plain layers and their state-dict keys.
    """

    def __init__(
        self, latent_dim: int, channels: int, side: int, width: int, out_offset: float = 0.0, num_classes: int = 0
    ) -> None:
        super().__init__()
        self.out_offset = out_offset
        stages = num_stages(side)
        top = width * 2 ** (stages - 1)
        self.top = top
        self.project = nn.Sequential(
            nn.Linear(latent_dim, top * 16), *class_norm(nn.BatchNorm1d, top * 16, num_classes), nn.ReLU(True)
        )
        layers: list[nn.Module] = []
        ch = top
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                *class_norm(nn.BatchNorm2d, ch // 2, num_classes),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = run_with_labels(self.project, latent, y).view(len(latent), self.top, 4, 4)  # (N, top, 4, 4)
        return torch.tanh(run_with_labels(self.body, h, y) + self.out_offset)  # (N, C, H, W)


class ProjectionHead(nn.Module):
    """logit = psi(h) + <embed(y), h> (Miyato & Koyama 2018); plain psi(h) when unconditional."""

    def __init__(self, features: int, num_classes: int, spectral_norm: bool) -> None:
        super().__init__()
        self.linear = maybe_sn(nn.Linear(features, 1), spectral_norm)
        self.embed = maybe_sn(nn.Embedding(num_classes, features), spectral_norm) if num_classes else None

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        logit = self.linear(h).squeeze(1)  # (N,)
        if self.embed is not None:
            assert y is not None, "conditional discriminator needs labels"
            logit = logit + (self.embed(y) * h).sum(dim=1)
        return logit
