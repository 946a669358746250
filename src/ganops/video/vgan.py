"""The 3D-conv baseline generator, VGAN-style (Vondrick et al. 2016): two streams and a mask.

A 3D transposed-conv stream renders a moving foreground f and a mask m in [0, 1] over (T, H, W); a
2D stream renders one static background b; the clip is m * f + (1 - m) * b. Time is upsampled with
space (kernel 4, stride 2 on every axis) from ceil(T / 2^stages) frames and cropped to T.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ganops.video.architectures import register
from ganops.video.blocks import EMBED_DIM, FrameGenerator, num_stages


@register("vgan", image_discriminator=False)
class VGANGenerator(nn.Module):
    """z (B, z_dim) -> (B, T, C, H, W) in [-1, 1]."""

    def __init__(self, clip_shape: list[int], num_classes: int = 0, z_dim: int = 64, width: int = 32) -> None:
        super().__init__()
        frames, channels, side, _ = clip_shape
        self.config = dict(clip_shape=list(clip_shape), num_classes=num_classes, z_dim=z_dim, width=width)
        self.clip_shape = tuple(clip_shape)
        self.num_classes, self.z_dim = num_classes, z_dim
        stages = num_stages(side)
        self.start_frames = math.ceil(frames / 2**stages)
        self.top = width * 2 ** (stages - 1)
        self.embed = nn.Embedding(num_classes, EMBED_DIM) if num_classes else None
        latent = z_dim + (EMBED_DIM if num_classes else 0)
        self.project = nn.Sequential(
            nn.Linear(latent, self.top * self.start_frames * 16),
            nn.BatchNorm1d(self.top * self.start_frames * 16),
            nn.ReLU(True),
        )
        layers: list[nn.Module] = []
        ch = self.top
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose3d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm3d(ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers.append(nn.ConvTranspose3d(ch, channels + 1, 4, 2, 1))  # foreground channels + 1 mask
        self.foreground = nn.Sequential(*layers)
        self.background = FrameGenerator(latent, channels, side, width)

    @staticmethod
    def config_from(cfg: Any, clip_shape: tuple[int, int, int, int], num_classes: int) -> dict:
        """cfg attributes read: z_dim, width."""
        return dict(clip_shape=list(clip_shape), num_classes=num_classes, z_dim=cfg.z_dim, width=cfg.width)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        frames, channels, _, _ = self.clip_shape
        assert z.shape == (len(z), self.z_dim), (tuple(z.shape), self.z_dim)
        if self.embed is not None:
            if y is None:
                raise ValueError("this video generator is class-conditional: pass labels y (B,) int64")
            z = torch.cat([z, self.embed(y)], dim=1)
        h = self.project(z).view(len(z), self.top, self.start_frames, 4, 4)  # (B, top, T0, 4, 4)
        out = self.foreground(h)[:, :, :frames]  # (B, C + 1, T, H, W)
        fg, mask = torch.tanh(out[:, :channels]), torch.sigmoid(out[:, channels:])
        bg = self.background(z)[:, :, None]  # (B, C, 1, H, W)
        clip = mask * fg + (1 - mask) * bg  # (B, C, T, H, W), in [-1, 1]: a convex mix of two tanh outputs
        return clip.transpose(1, 2)  # (B, T, C, H, W)
