"""Architecture registry: each arch registers a builder `(cfg, image_shape, num_classes) -> (G, D)`.

Contract shared by every architecture:
- `G(z, y=None)`: z (B, z_dim), y (B,) int64 class ids when conditional → images (B, C, H, W) in [-1, 1].
- `D(x, y=None)`: images (B, C, H, W) in [-1, 1] → logits (B,).
Conditional models use a projection discriminator (Miyato & Koyama 2018) in D:
logit = ψ(h) + <embed(y), h>. G takes the label one of two ways (`g_label`):
- `modulation` (default): z alone enters G; every hidden feature map gets a per-class gain and bias
  (`ClassAffine`; after batch norm without its own affine this is conditional batch norm, de Vries et
  al. 2017 / Miyato & Koyama 2018). With the label concatenated to z instead, G learnt to ignore z and
  drew one prototype per class (recall 0.00 in every trial, README "Results of the default run").
- `input`: a label embedding concatenated to z (the first form; generators exported before `g_label`
  existed carry no such key and load as `input`).

`cfg` is any object with the `VariantConfig` attributes (the pydantic model, or a plain namespace in
tools that must not import pydantic); this module never imports ganops.config.params at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from ganops.config.params import VariantConfig

Builder = Callable[["VariantConfig", tuple[int, int, int], int], tuple[nn.Module, nn.Module]]


@dataclass(frozen=True)
class ArchSpec:
    name: str
    build: Builder
    image_sizes: tuple[int, ...] | None  # square sides the arch can produce; None = any


ARCHITECTURES: dict[str, ArchSpec] = {}


def register_arch(name: str, image_sizes: tuple[int, ...] | None = None) -> Callable[[Builder], Builder]:
    def decorate(build: Builder) -> Builder:
        ARCHITECTURES[name] = ArchSpec(name, build, image_sizes)
        return build

    return decorate


def is_conditional(cfg: VariantConfig, num_classes: int) -> bool:
    """`conditional: true`, or `auto` on data with two or more classes (unlabelled data: unconditional)."""
    return num_classes >= 2 if cfg.conditional == "auto" else bool(cfg.conditional)


def validate_arch(cfg: VariantConfig, image_shape: tuple[int, int, int], num_classes: int, variant: str = "") -> None:
    """Raise a one-line ValueError when this variant cannot be built for this data."""
    where = f"gan.variants.{variant}" if variant else "variant"
    if cfg.arch not in ARCHITECTURES:
        raise ValueError(f"{where}.arch: unknown architecture {cfg.arch!r} (known: {', '.join(sorted(ARCHITECTURES))})")
    spec = ARCHITECTURES[cfg.arch]
    channels, height, width = image_shape
    if height != width:
        raise ValueError(f"{where}: images must be square (got {height}x{width})")
    if spec.image_sizes is not None and height not in spec.image_sizes:
        sizes = ", ".join(str(s) for s in spec.image_sizes)
        raise ValueError(
            f"{where}.arch: {cfg.arch} produces {sizes} px images, the data is {height} px "
            f"(set data.image_size to one of them or pick another arch)"
        )
    if cfg.conditional is True and num_classes < 2:
        raise ValueError(f"variant {variant or '?'} is conditional but the data has no labels (set conditional: false)")


def build_models(
    cfg: VariantConfig,
    image_shape: tuple[int, int, int],
    num_classes: int,
    variant: str = "",
    validate: bool = True,
) -> tuple[nn.Module, nn.Module]:
    """Validate (unless the caller already did), then build (G, D) for `cfg.arch`; num_classes is used
    only when the variant is conditional (`is_conditional`)."""
    if validate:
        validate_arch(cfg, image_shape, num_classes, variant)
    conditional = is_conditional(cfg, num_classes)
    G, D = ARCHITECTURES[cfg.arch].build(cfg, tuple(image_shape), num_classes if conditional else 0)
    return G, D


def build_generator(cfg: VariantConfig, image_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    return build_models(cfg, image_shape, num_classes)[0]


# --- pieces shared by the conditional architectures ---


class LabelEmbedding(nn.Module):
    """Class id → dense vector concatenated to z (G side). Identity (no-op) when num_classes == 0."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, dim) if num_classes else None
        self.dim = dim if num_classes else 0

    def forward(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:  # (B, z_dim [+ dim])
        if self.embed is None:
            return z
        if y is None:
            raise ValueError("this generator is class-conditional: pass labels y (B,) int64")
        return torch.cat([z, self.embed(y).to(z.dtype)], dim=1)


def modulated(cfg: VariantConfig, num_classes: int) -> int:
    """Classes of G's per-layer modulation (0 = none); the input embedding gets the rest."""
    return num_classes if getattr(cfg, "g_label", "input") == "modulation" else 0


class ProjectionHead(nn.Module):
    """D's output: ψ(h) + <embed(y), h> for conditional D (projection discriminator), else ψ(h)."""

    def __init__(self, features: int, num_classes: int, wrap: Callable[[nn.Module], nn.Module] = lambda m: m):
        super().__init__()
        self.linear = wrap(nn.Linear(features, 1))
        self.embed = wrap(nn.Embedding(num_classes, features)) if num_classes else None

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:  # h (B, F) → (B,)
        out = self.linear(h).squeeze(1)
        if self.embed is not None:
            if y is None:
                raise ValueError("this discriminator is class-conditional: pass labels y (B,) int64")
            out = out + (self.embed(y) * h).sum(dim=1)
        return out


def _register_builtins() -> None:
    # Importing the modules runs their @register_arch decorators.
    from ganops.image import dcgan, mlp, resnet_sn  # noqa: F401 (each registers its architectures)


_register_builtins()
