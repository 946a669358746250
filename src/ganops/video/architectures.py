"""Video generators by name: `@register(name, image_discriminator=...)` on a generator class.

Contract shared by every video generator:
- `G(z, y=None)`: z (B, G.z_dim) ~ N(0, I), y (B,) int64 when conditional -> clips (B, T, C, H, W)
  in [-1, 1] (tanh). All randomness is in z, so a seeded z gives the same clip.
- `G.config`: the JSON-able keyword arguments that rebuild it (`generator_class(**config)`), stored in
  the exported file beside the state_dict.
- The classes read `cfg` attributes only through their `config_from(cfg, clip_shape, num_classes)`.
Discriminators are shared: the video D for every generator, plus MoCoGAN's image D on single frames
when the entry asks for it.

| name       | file          | reference                                                              |
|------------|---------------|------------------------------------------------------------------------|
| mocogan    | mocogan.py    | MoCoGAN (Tulyakov et al. 2018): content code + GRU motion codes         |
| mocogan_st | mocogan_st.py | MoCoGAN's split; the motion codes shift one canvas (spatial transformer) |
| vgan       | vgan.py       | VGAN (Vondrick et al. 2016): 3D-conv foreground + mask + 2D background  |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from ganops.video.discriminators import ImageDiscriminator, VideoDiscriminator

INIT_STD = 0.02  # DCGAN initialisation, for the generators


@dataclass(frozen=True)
class VideoArch:
    name: str
    generator: type[nn.Module]  # generator(**config) -> G
    config_from: Callable[[Any, tuple[int, int, int, int], int], dict]  # (cfg, (T, C, H, W), num_classes)
    image_discriminator: bool  # MoCoGAN's D_I on sampled frames besides the video D


VIDEO_ARCHITECTURES: dict[str, VideoArch] = {}


def register(name: str, image_discriminator: bool) -> Callable[[type[nn.Module]], type[nn.Module]]:
    def decorate(cls: type[nn.Module]) -> type[nn.Module]:
        VIDEO_ARCHITECTURES[name] = VideoArch(name, cls, cls.config_from, image_discriminator)
        return cls

    return decorate


def get_arch(name: str, where: str = "arch") -> VideoArch:
    from ganops.video import mocogan, mocogan_st, vgan  # noqa: F401 (importing runs their @register, on first use)

    if name not in VIDEO_ARCHITECTURES:
        raise ValueError(
            f"{where}: unknown video architecture {name!r} (known: {', '.join(sorted(VIDEO_ARCHITECTURES))})"
        )
    return VIDEO_ARCHITECTURES[name]


def init_generator(module: nn.Module, std: float = INIT_STD) -> nn.Module:
    """DCGAN initialisation: conv weights N(0, std), biases 0, batch-norm scales N(1, std)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Conv3d | nn.ConvTranspose3d):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d) and m.affine:  # cBN: ClassAffine's
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def build_generator(arch: str, config: dict) -> nn.Module:
    """Rebuild a generator from its exported `config` (no weights)."""
    return get_arch(arch).generator(**config)


def build_video_models(
    cfg: Any, clip_shape: tuple[int, int, int, int], num_classes: int
) -> tuple[nn.Module, nn.Module, nn.Module | None]:
    """(G, D_video, D_image or None) for `cfg.arch`; num_classes = 0 for unconditional models.

    cfg attributes read: arch, width, spectral_norm, and the generator's own (see its config_from).
    """
    spec = get_arch(cfg.arch, "video variant arch")
    frames, channels, side, _ = clip_shape
    G = init_generator(spec.generator(**spec.config_from(cfg, clip_shape, num_classes)))
    D_video = VideoDiscriminator(channels, frames, side, cfg.width, num_classes, cfg.spectral_norm)
    D_image = (
        ImageDiscriminator(channels, side, cfg.width, num_classes, cfg.spectral_norm)
        if spec.image_discriminator
        else None
    )
    return G, D_video, D_image
