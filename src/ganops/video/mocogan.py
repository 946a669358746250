"""MoCoGAN's generator (Tulyakov et al. 2018): a fixed content code plus per-frame motion codes.

A clip's latent splits into content z_C (fixed over the clip), the GRU's initial state h_0 and one
noise input eps_t per frame; the GRU turns the noise into a motion trajectory z_M(1..T), and one
image generator renders every frame from [z_C, z_M(t) (, label embedding)]. Content and motion are
thus disentangled by construction: the same z_C with another motion noise is the same digit moving
differently.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganops.video.architectures import register
from ganops.video.blocks import EMBED_DIM, FrameGenerator


def motion_codes(gru: nn.GRUCell, h: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """MoCoGAN's motion trajectory: h_0 (B, m), noise eps_1..T (B, T, m) -> GRU states (B, T, m)."""
    codes = []
    for t in range(noise.shape[1]):
        h = gru(noise[:, t], h)
        codes.append(h)
    return torch.stack(codes, dim=1)


@register("mocogan", image_discriminator=True)
class MoCoGANGenerator(nn.Module):
    """z (B, content_dim + motion_dim * (1 + T)) = [z_C | h_0 | eps_1..eps_T] -> (B, T, C, H, W)."""

    def __init__(
        self,
        clip_shape: list[int],
        num_classes: int = 0,
        content_dim: int = 64,
        motion_dim: int = 16,
        width: int = 32,
    ) -> None:
        super().__init__()
        frames, channels, side, _ = clip_shape
        self.config = dict(
            clip_shape=list(clip_shape),
            num_classes=num_classes,
            content_dim=content_dim,
            motion_dim=motion_dim,
            width=width,
        )
        self.clip_shape = tuple(clip_shape)
        self.num_classes, self.content_dim, self.motion_dim = num_classes, content_dim, motion_dim
        self.z_dim = content_dim + motion_dim * (1 + frames)
        self.gru = nn.GRUCell(motion_dim, motion_dim)
        self.embed = nn.Embedding(num_classes, EMBED_DIM) if num_classes else None
        latent = content_dim + motion_dim + (EMBED_DIM if num_classes else 0)
        self.frames = FrameGenerator(latent, channels, side, width)

    @staticmethod
    def config_from(cfg: Any, clip_shape: tuple[int, int, int, int], num_classes: int) -> dict:
        """cfg attributes read: z_dim (content code), motion_dim, width."""
        return dict(
            clip_shape=list(clip_shape),
            num_classes=num_classes,
            content_dim=cfg.z_dim,
            motion_dim=cfg.motion_dim,
            width=cfg.width,
        )

    def motion(self, h: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """h_0 (B, m), noise (B, T, m) -> motion codes (B, T, m)."""
        return motion_codes(self.gru, h, noise)

    def _latents(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """z (B, z_dim) -> each frame's renderer input (B, T, d)."""
        frames = self.clip_shape[0]
        batch = len(z)
        assert z.shape == (batch, self.z_dim), (tuple(z.shape), self.z_dim)
        content, h0, noise = z.split([self.content_dim, self.motion_dim, self.motion_dim * frames], dim=1)
        motion = self.motion(h0, noise.reshape(batch, frames, self.motion_dim))  # (B, T, m)
        parts = [content[:, None].expand(-1, frames, -1), motion]  # (B, T, c), (B, T, m)
        if self.embed is not None:
            if y is None:
                raise ValueError("this video generator is class-conditional: pass labels y (B,) int64")
            parts.append(self.embed(y)[:, None].expand(-1, frames, -1))  # (B, T, e)
        return torch.cat(parts, dim=2)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        frames, channels, side, _ = self.clip_shape
        latent = self._latents(z, y)  # (B, T, d)
        return self.frames(latent.flatten(0, 1)).view(len(z), frames, channels, side, side)

    def frames_at(self, z: torch.Tensor, y: torch.Tensor | None, t: torch.Tensor) -> torch.Tensor:
        """Frame t[i] of clip i alone, (B, C, H, W): one frame rendered per clip, not T."""
        return self.frames(self._latents(z, y)[torch.arange(len(z), device=z.device), t])
