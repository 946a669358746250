"""CycleGAN ResNet generator (Johnson et al. 2016, as in Zhu et al. 2017), instance norm.

7×7 convolution → two 3×3 stride-2 downsamplings → `n_blocks` residual blocks → two 3×3 stride-2
transposed convolutions → 7×7 convolution → tanh. Any side divisible by 4 works (28 → 7×7 at the
bottleneck, 32 → 8×8, 64 → 16×16). The reference uses 9 blocks at 256 px and 6 at 128 px; 6 is our
default. `padding`: `reflect` as the reference, or `zeros`, whose backward is deterministic on CUDA
(reflection padding's CUDA backward is not, so torch.use_deterministic_algorithms refuses it).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganops.translation.architectures import norm_layer, register

PADDINGS = ("reflect", "zeros")


def _conv(in_ch: int, out_ch: int, kernel: int, padding: str) -> list[nn.Module]:
    """A same-size convolution with the chosen padding mode."""
    if padding == "reflect":
        return [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(in_ch, out_ch, kernel)]
    return [nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2)]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str, padding: str, dropout: float) -> None:
        super().__init__()
        layers = [*_conv(channels, channels, 3, padding), norm_layer(norm, channels), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [*_conv(channels, channels, 3, padding), norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, h, w)
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int, image_size: int, ngf: int = 64, n_blocks: int = 6,
        norm: str = "instance", padding: str = "reflect", dropout: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__()
        if image_size % 4:
            raise ValueError(f"resnet generator: image side must be divisible by 4 (got {image_size})")
        if padding not in PADDINGS:
            raise ValueError(f"padding: unknown mode {padding!r} (use {' or '.join(PADDINGS)})")
        layers = [*_conv(in_channels, ngf, 7, padding), norm_layer(norm, ngf), nn.ReLU()]
        width = ngf
        for _ in range(2):
            layers += [nn.Conv2d(width, 2 * width, 3, 2, 1), norm_layer(norm, 2 * width), nn.ReLU()]
            width *= 2
        layers += [ResidualBlock(width, norm, padding, dropout) for _ in range(n_blocks)]
        for _ in range(2):
            up = nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1)
            layers += [up, norm_layer(norm, width // 2), nn.ReLU()]
            width //= 2
        layers += [*_conv(width, out_channels, 7, padding), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, H, W) → (B, Cout, H, W)
        return self.net(x)


@register("resnet")
def build_resnet(cfg: Any, in_channels: int, out_channels: int, image_size: int) -> nn.Module:
    """Reads cfg.ngf, cfg.resnet_blocks, cfg.norm, cfg.padding, cfg.dropout."""
    return ResnetGenerator(
        in_channels, out_channels, image_size, cfg.ngf, cfg.resnet_blocks, cfg.norm, cfg.padding, cfg.dropout
    )
