"""pix2pix U-Net generator (Isola et al. 2017), sized for small images.

Encoder: `depth` 4×4 stride-2 convolutions (LeakyReLU 0.2, norm except the first and the innermost);
decoder: mirrored 4×4 stride-2 transposed convolutions (ReLU, norm) fed the matching encoder output
by a skip connection; tanh output. Widths ngf·min(2^i, 8) at level i, as the reference. The input is
padded (constant 0) to the next power of two and the output cropped back, so every size reaches a
1×1 bottleneck; constant padding, unlike reflection, has a deterministic CUDA backward.

| image side | padded to | depth | bottleneck | dropout blocks (reference rule: depth - 5) |
|------------|-----------|-------|------------|--------------------------------------------|
| 28         | 32        | 5     | 1×1        | 0                                          |
| 32         | 32        | 5     | 1×1        | 0                                          |
| 64         | 64        | 6     | 1×1        | 1                                          |
| 128        | 128       | 7     | 1×1        | 2                                          |
| 256        | 256       | 8     | 1×1        | 3 (= the reference `unet_256`)             |
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganops.translation.architectures import norm_layer, register

MAX_DEPTH = 8  # unet_256


def unet_depth(image_size: int) -> tuple[int, int]:
    """(padded side, depth) for a square image: the next power of two and its log2, capped at MAX_DEPTH."""
    padded = 1 << (int(image_size) - 1).bit_length()
    depth = min(padded.bit_length() - 1, MAX_DEPTH)
    return padded, depth


class UNetGenerator(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int, image_size: int, ngf: int = 64, norm: str = "batch",
        dropout: float = 0.5,
    ) -> None:  # fmt: skip
        super().__init__()
        self.image_size = image_size
        self.padded, self.depth = unet_depth(image_size)
        widths = [ngf * min(2**i, 8) for i in range(self.depth)]  # level i's channels
        self.downs = nn.ModuleList([nn.Conv2d(in_channels, widths[0], 4, 2, 1)])
        for i in range(1, self.depth):
            innermost = i == self.depth - 1
            layers = [nn.LeakyReLU(0.2), nn.Conv2d(widths[i - 1], widths[i], 4, 2, 1)]
            self.downs.append(nn.Sequential(*layers, *([] if innermost else [norm_layer(norm, widths[i])])))
        self.ups = nn.ModuleList()
        for i in range(self.depth):  # ups[i] maps level i back to level i - 1 (the image for i = 0)
            inner = widths[i] if i == self.depth - 1 else 2 * widths[i]  # innermost has no skip input
            if i == 0:
                self.ups.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(inner, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [
                nn.ReLU(),
                nn.ConvTranspose2d(inner, widths[i - 1], 4, 2, 1),
                norm_layer(norm, widths[i - 1]),
            ]
            if 4 <= i <= self.depth - 2 and dropout > 0:  # the reference's ngf*8 middle blocks
                layers.append(nn.Dropout(dropout))
            self.ups.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, H, W) → (B, Cout, H, W)
        size = x.shape[-1]
        assert x.shape[-2:] == (self.image_size, self.image_size), x.shape
        extra = self.padded - size
        h = F.pad(x, (extra // 2, extra - extra // 2, extra // 2, extra - extra // 2)) if extra else x
        skips = []
        for down in self.downs:
            h = down(h)
            skips.append(h)  # level i: (B, widths[i], P / 2^(i+1), P / 2^(i+1))
        h = self.ups[-1](skips[-1])
        for i in range(self.depth - 2, -1, -1):
            h = self.ups[i](torch.cat([skips[i], h], dim=1))
        if extra:
            h = h[..., extra // 2 : extra // 2 + size, extra // 2 : extra // 2 + size]
        return h


@register("unet")
def build_unet(cfg: Any, in_channels: int, out_channels: int, image_size: int) -> nn.Module:
    """Reads cfg.ngf, cfg.norm, cfg.dropout."""
    return UNetGenerator(in_channels, out_channels, image_size, cfg.ngf, cfg.norm, cfg.dropout)
