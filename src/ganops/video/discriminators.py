"""MoCoGAN's two discriminators: an image D on single frames and a 3D-conv video D on whole clips.

Both take inputs in [-1, 1], return logits (N,), pool features by summing over space (and time), and
use a projection head for labels. The video D is shared by every video generator.
"""

from __future__ import annotations

import torch
from torch import nn

from ganops.video.blocks import ProjectionHead, maybe_sn, num_stages


class ImageDiscriminator(nn.Module):
    """D_I(x, y=None): frames (N, C, H, W) -> logits (N,)."""

    def __init__(self, channels: int, side: int, width: int, num_classes: int = 0, spectral_norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch_in, ch = channels, width
        for _ in range(num_stages(side)):
            layers += [maybe_sn(nn.Conv2d(ch_in, ch, 4, 2, 1), spectral_norm), nn.LeakyReLU(0.2, True)]
            ch_in, ch = ch, ch * 2
        self.body = nn.Sequential(*layers)
        self.head = ProjectionHead(ch_in, num_classes, spectral_norm)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x).sum(dim=(2, 3))  # (N, F)
        return self.head(h, y)


class VideoDiscriminator(nn.Module):
    """D_V(x, y=None): clips (B, T, C, H, W) -> logits (B,), 3D convolutions over (T, H, W).

    Each stage halves H and W (kernel 4) and halves T (kernel 3) while T > 2: 16 frames -> 8, 4, 2.
    """

    def __init__(
        self,
        channels: int,
        frames: int,
        side: int,
        width: int,
        num_classes: int = 0,
        spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch_in, ch, t = channels, width, frames
        for _ in range(num_stages(side)):
            stride_t = 2 if t > 2 else 1
            conv = nn.Conv3d(ch_in, ch, (3, 4, 4), (stride_t, 2, 2), (1, 1, 1))
            layers += [maybe_sn(conv, spectral_norm), nn.LeakyReLU(0.2, True)]
            ch_in, ch, t = ch, ch * 2, (t - 1) // stride_t + 1
        self.body = nn.Sequential(*layers)
        self.head = ProjectionHead(ch_in, num_classes, spectral_norm)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x.transpose(1, 2)).sum(dim=(2, 3, 4))  # (B, C, T, H, W) -> (B, F)
        return self.head(h, y)
