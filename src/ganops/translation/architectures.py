"""Translation networks by name: `@register(name)` on a builder (cfg, in_channels, out_channels, image_size).

Generators map (B, in_channels, H, W) in [-1, 1] to (B, out_channels, H, W) in [-1, 1] (tanh);
discriminators map (B, in_channels, H, W) to a logit map (B, 1, h, w), one logit per patch
(`out_channels` is ignored). `cfg` is any object with the attributes a builder reads (documented on
each builder); this module never imports the config package. The networks are written here because
the reference ships them inside its repository, not as a package (and torchvision cannot be installed
beside our torch build).

| name     | role          | file                | reference                                  |
|----------|---------------|---------------------|--------------------------------------------|
| unet     | generator     | unet.py             | pix2pix U-Net (Isola et al. 2017)           |
| resnet   | generator     | resnet_generator.py | CycleGAN ResNet G (Johnson et al. / Zhu)    |
| patchgan | discriminator | patchgan.py         | PatchGAN (70×70 at 256 px; sized per image) |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

Builder = Callable[[Any, int, int, int], nn.Module]
NETWORKS: dict[str, Builder] = {}
INIT_STD = 0.02  # the reference's `init_type=normal, init_gain=0.02`


def register(name: str) -> Callable[[Builder], Builder]:
    def decorate(build: Builder) -> Builder:
        NETWORKS[name] = build
        return build

    return decorate


def _register_builtins() -> None:
    # Importing the modules runs their @register decorators (on first use, not at import time).
    from ganops.translation import patchgan, resnet_generator, unet  # noqa: F401


def init_weights(module: nn.Module, std: float = INIT_STD) -> nn.Module:
    """Reference initialisation: conv weights N(0, std), biases 0, norm scales N(1, std)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def norm_layer(kind: str, channels: int) -> nn.Module:
    """`batch` (pix2pix) or `instance` (CycleGAN: affine-free, no running statistics, as the reference)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    raise ValueError(f"norm: unknown kind {kind!r} (use batch or instance)")


def build_network(name: str, cfg: Any, in_channels: int, out_channels: int, image_size: int) -> nn.Module:
    """Build and initialise network `name`; a one-line error for an unknown name or bad sizes."""
    _register_builtins()
    if name not in NETWORKS:
        raise ValueError(f"unknown translation network {name!r} (known: {', '.join(sorted(NETWORKS))})")
    if in_channels < 1 or out_channels < 1 or image_size < 8:
        raise ValueError(
            f"{name}: need channels >= 1 and image_size >= 8 "
            f"(got {in_channels}->{out_channels} channels, {image_size} px)"
        )
    return init_weights(NETWORKS[name](cfg, in_channels, out_channels, image_size))
