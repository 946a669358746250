"""`dcgan` (Radford et al. 2016): transposed-conv G with batch norm, strided-conv D with LeakyReLU.

Sizes: 28 px starts from 7×7 (two ×2 up-samplings), 32 and 64 px from 4×4 (three / four). `width` is
the channel count of the largest-resolution feature map; it doubles at each halving of resolution.
D uses batch norm except with `wgan_gp`, whose per-sample gradient penalty is ill-defined under batch
statistics, so the critic then uses layer norm (GroupNorm with one group) instead.
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
from ganops.training.conditioning import class_norm, run_with_labels

if TYPE_CHECKING:
    from ganops.config.params import VariantConfig

SIZES = (28, 32, 64)


def _layout(size: int) -> tuple[int, int]:
    """Side of the smallest feature map and the number of ×2 steps to reach `size`."""
    start = 7 if size == 28 else 4
    return start, {28: 2, 32: 3, 64: 4}[size]


class DCGANGenerator(nn.Module):
    """num_classes > 0: conditional; `modulated` of them go to conditional batch norm on every G norm
    layer, otherwise a label embedding is concatenated to z (architectures, `g_label`)."""

    def __init__(
        self, z_dim: int, width: int, image_shape: tuple[int, int, int], num_classes: int, modulated: int = 0
    ) -> None:
        super().__init__()
        channels, size, _ = image_shape
        self.start, ups = _layout(size)
        self.start_channels = width * 2 ** (ups - 1)
        self.label = LabelEmbedding(0 if modulated else num_classes, z_dim)
        features = self.start_channels * self.start**2
        self.project = nn.Sequential(
            nn.Linear(z_dim + self.label.dim, features, bias=False),
            *class_norm(nn.BatchNorm1d, features, modulated),
            nn.ReLU(),
        )
        layers: list[nn.Module] = []
        ch = self.start_channels
        for _ in range(ups - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                *class_norm(nn.BatchNorm2d, ch // 2, modulated),
                nn.ReLU(),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = run_with_labels(self.project, self.label(z, y), y)  # (B, ch * s * s)
        h = h.view(-1, self.start_channels, self.start, self.start)  # (B, ch, s, s)
        return run_with_labels(self.net, h, y)  # (B, C, H, W)


class DCGANDiscriminator(nn.Module):
    def __init__(self, width: int, image_shape: tuple[int, int, int], num_classes: int, norm: str) -> None:
        super().__init__()
        channels, size, _ = image_shape
        start, downs = _layout(size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(downs - 1):
            norm_layer = nn.BatchNorm2d(ch * 2) if norm == "batch" else nn.GroupNorm(1, ch * 2)
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), norm_layer, nn.LeakyReLU(0.2)]
            ch *= 2
        layers.append(nn.Flatten())
        self.net = nn.Sequential(*layers)
        self.head = ProjectionHead(ch * start * start, num_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.net(x), y)  # (B,)


def _dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's init: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    if isinstance(module, ProjectionHead) and module.embed is not None:
        # the projection term <embed(y), h> starts as small as the linear term ψ(h): with torch's
        # N(0, 1) embedding it dominated D's first logits and the conditional GAN started ~3x slower
        nn.init.normal_(module.embed.weight, 0.0, 0.02)
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d | nn.GroupNorm) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@register_arch("dcgan", image_sizes=SIZES)
def build_dcgan(cfg: VariantConfig, image_shape: tuple[int, int, int], num_classes: int) -> tuple[nn.Module, nn.Module]:
    G = DCGANGenerator(cfg.z_dim, cfg.width, image_shape, num_classes, modulated(cfg, num_classes))
    norm = "layer" if cfg.loss == "wgan_gp" else "batch"
    D = DCGANDiscriminator(cfg.width, image_shape, num_classes, norm)
    G.apply(_dcgan_init)
    D.apply(_dcgan_init)
    return G, D
