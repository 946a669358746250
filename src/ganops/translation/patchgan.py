"""PatchGAN discriminator (Isola et al. 2017): a fully convolutional net giving one logit per image patch.

Layers: `n_layers` 4×4 stride-2 convolutions (LeakyReLU 0.2, norm except the first), one 4×4 stride-1
convolution with norm, and a 4×4 stride-1 convolution to one channel. The reference's n_layers = 3
sees 70×70 patches, more than a whole 28 px image, so by default n_layers is the largest (at most 3)
whose receptive field fits inside the image:

| image side | n_layers | receptive field | logit map |
|------------|----------|-----------------|-----------|
| 28         | 1        | 16 px           | 12×12     |
| 32         | 1        | 16 px           | 14×14     |
| 64         | 2        | 34 px           | 14×14     |
| 128, 256   | 3        | 70 px           | 14×14, 30×30 (256 = the reference) |
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganops.translation.architectures import norm_layer, register

KERNEL = 4
MAX_LAYERS = 3  # the reference's 70×70 PatchGAN


def _layer_geometry(n_layers: int) -> list[tuple[int, int]]:
    """(kernel, stride) of each convolution, input to output."""
    return [(KERNEL, 2)] * n_layers + [(KERNEL, 1), (KERNEL, 1)]


def receptive_field(n_layers: int) -> int:
    """Side of the input square one output logit sees: r ← s·r + (k − s), from the output back."""
    field = 1
    for kernel, stride in reversed(_layer_geometry(n_layers)):
        field = stride * field + (kernel - stride)
    return field


def output_size(n_layers: int, image_size: int) -> int:
    """Side of the logit map: each convolution (padding 1) maps h to (h + 2 − k) // s + 1."""
    side = image_size
    for kernel, stride in _layer_geometry(n_layers):
        side = (side + 2 - kernel) // stride + 1
    return side


def patchgan_layers(image_size: int) -> int:
    """The largest n_layers ≤ MAX_LAYERS whose receptive field fits the image (at least 1)."""
    fitting = [n for n in range(1, MAX_LAYERS + 1) if receptive_field(n) <= image_size]
    return max(fitting, default=1)


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int, image_size: int, ndf: int = 64, n_layers: int = 0, norm: str = "batch"):
        super().__init__()
        self.n_layers = n_layers or patchgan_layers(image_size)
        if output_size(self.n_layers, image_size) < 1:
            raise ValueError(f"patchgan_layers: {self.n_layers} layers leave no output at {image_size} px (use fewer)")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, KERNEL, 2, 1), nn.LeakyReLU(0.2)]
        width = ndf
        for n in range(1, self.n_layers + 1):  # n_layers - 1 strided blocks, then the stride-1 block
            stride = 2 if n < self.n_layers else 1
            new_width = ndf * min(2**n, 8)
            layers += [
                nn.Conv2d(width, new_width, KERNEL, stride, 1),
                norm_layer(norm, new_width),
                nn.LeakyReLU(0.2),
            ]
            width = new_width
        layers.append(nn.Conv2d(width, 1, KERNEL, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) → logits (B, 1, h, w)
        return self.net(x)


@register("patchgan")
def build_patchgan(cfg: Any, in_channels: int, out_channels: int, image_size: int) -> nn.Module:
    """Reads cfg.ndf, cfg.patchgan_layers (0 = by image size, table above), cfg.norm."""
    return PatchDiscriminator(in_channels, image_size, cfg.ndf, cfg.patchgan_layers, cfg.norm)
