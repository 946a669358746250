"""Batched, vectorised image degradations for detector training, in torch: (B, C, H, W) in [0, 1].

The CNN detector learns on degraded copies of *both* classes (Wang et al. 2020), so that a blur, a
resize, sensor noise or a JPEG re-save carries no label and the net has to look past it. Each image
of a batch draws its own degradations (`degrade`), applied in the order an upload meets them:
Gaussian blur -> downscale and upscale back -> additive noise -> JPEG.

Written in torch rather than calling the library per image because the augmentation runs on every
training step: skimage's `gaussian` and Pillow's JPEG cost 0.1-0.6 ms per image on a 2-core CPU
(tens of seconds per training run), and kornia's `jpeg_codec_differentiable` is RGB-only and costs
about 1 ms per image on CPU. Here one grouped convolution blurs a whole batch with per-image sigmas,
and the JPEG is the codec's own arithmetic on 8x8 blocks (IJG quality-scaled tables, orthonormal DCT,
4:2:0 chroma for RGB), within about one grey level of Pillow (tests/model/test_detectors.py). The
robustness *evaluation* keeps the libraries' own operations (perturbations.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# IJG / JPEG Annex K base quantisation tables (luminance, chrominance), scaled by quality below.
_LUMA = [
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
]
_CHROMA = [[17, 18, 24, 47, 99, 99, 99, 99], [18, 21, 26, 66, 99, 99, 99, 99],
           [24, 26, 56, 99, 99, 99, 99, 99], [47, 66, 99, 99, 99, 99, 99, 99]] + [[99] * 8] * 4  # fmt: skip
_TRUNCATE = 4.0  # Gaussian kernel radius in sigmas, as skimage / scipy


@dataclass(frozen=True)
class Degradations:
    """Per image, each degradation is applied with its probability; strengths are drawn uniformly."""

    blur_prob: float = 0.0
    blur_sigma_max: float = 2.0  # sigma ~ U[0, max] pixels
    downscale_prob: float = 0.0
    downscale_min: float = 0.5  # factor ~ U[min, 1]
    noise_prob: float = 0.0
    noise_sigma_max: float = 0.1  # sigma ~ U[0, max], pixel range [0, 1]
    jpeg_prob: float = 0.0
    jpeg_quality_min: int = 30  # quality ~ U{min..100}

    @classmethod
    def from_config(cls, cfg) -> Degradations:
        """The fields of the same names in a detector's config section (e.g. CnnDetectorConfig)."""
        return cls(**{name: getattr(cfg, name) for name in cls.__dataclass_fields__})


def degrade(images: torch.Tensor, recipe: Degradations, generator: torch.Generator) -> torch.Tensor:
    """A degraded copy of (B, C, H, W) images in [0, 1]; every image draws its own degradations.

    The same number of random draws is taken whatever the outcome, so the stream is reproducible."""
    b = len(images)
    draws = torch.rand(8, b, generator=generator)  # (8, B): 4 coins, 4 strengths
    out = images.clone()
    steps = (
        (recipe.blur_prob, lambda x, u: gaussian_blur(x, u * recipe.blur_sigma_max)),
        (recipe.downscale_prob, lambda x, u: downscale(x, recipe.downscale_min + u * (1 - recipe.downscale_min))),
        (recipe.noise_prob, lambda x, u: add_noise(x, u * recipe.noise_sigma_max, generator)),
        (recipe.jpeg_prob, lambda x, u: jpeg(x, recipe.jpeg_quality_min + u * (101 - recipe.jpeg_quality_min))),
    )
    for i, (prob, apply) in enumerate(steps):
        chosen = draws[i] < prob  # (B,)
        if chosen.any():
            out[chosen] = apply(out[chosen], draws[4 + i][chosen])
    return out


# --- the degradations, each on (B, C, H, W) in [0, 1] with one strength per image (B,) ---


def _pad_symmetric(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Half-sample symmetric padding (d c b a | a b c d), scipy's and skimage's `reflect` mode."""
    size = x.shape[dim]
    head, tail = x.narrow(dim, 0, radius).flip(dim), x.narrow(dim, size - radius, radius).flip(dim)
    return torch.cat([head, x, tail], dim)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a sigma (pixels) per image, as skimage's `gaussian(mode="reflect")`."""
    b, c, h, w = images.shape
    sigma = sigma.to(images.dtype).clamp_min(1e-3)  # (B,); 1e-3 is the identity kernel
    radius = min(int(_TRUNCATE * float(sigma.max()) + 0.5), h, w)
    if radius == 0:
        return images.clone()
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype)  # (K,)
    kernel = torch.exp(-0.5 * (offsets[None] / sigma[:, None]) ** 2)  # (B, K)
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B * C, K)
    x = images.reshape(1, b * c, h, w)
    x = F.conv2d(_pad_symmetric(x, radius, 3), kernel[:, None, None, :], groups=b * c)
    x = F.conv2d(_pad_symmetric(x, radius, 2), kernel[:, None, :, None], groups=b * c)
    return x.reshape(b, c, h, w)


def downscale(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Antialiased bilinear resize to `factor` (0, 1] of the side per image, and bilinear back up."""
    _, _, h, w = images.shape
    out = images.clone()
    sizes = torch.stack([(h * factor).round().clamp(1, h), (w * factor).round().clamp(1, w)], 1).long()
    for size in sizes.unique(dim=0):  # one resize call per distinct target size
        same = (sizes == size).all(1)
        small = F.interpolate(images[same], tuple(size.tolist()), mode="bilinear", antialias=True)
        out[same] = F.interpolate(small, (h, w), mode="bilinear", align_corners=False)
    return out.clamp(0.0, 1.0)


def add_noise(images: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Additive Gaussian noise with a standard deviation per image, clipped back to [0, 1]."""
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return (images + sigma.to(images.dtype)[:, None, None, None] * noise).clamp(0.0, 1.0)


def _quant_tables(quality: torch.Tensor, base: list[list[int]]) -> torch.Tensor:
    """IJG quality scaling (jpeg_quality_scaling + baseline clamp): (B,) qualities -> (B, 8, 8)."""
    q = quality.round().clamp(1, 100)
    scale = torch.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q)  # (B,)
    table = torch.floor((torch.tensor(base, dtype=torch.float32)[None] * scale[:, None, None] + 50) / 100)
    return table.clamp(1, 255)


def _dct_basis() -> torch.Tensor:
    """(64, 64) orthonormal 2-D DCT-II on a flattened 8x8 block: JPEG's forward DCT is basis @ block."""
    n = torch.arange(8, dtype=torch.float32)
    d = torch.cos((2 * n[None] + 1) * n[:, None] * math.pi / 16) * math.sqrt(2 / 8)  # (8, 8) 1-D DCT
    d[0] /= math.sqrt(2)
    return torch.kron(d, d)


def _code_plane(plane: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """JPEG-quantise (B, P, H, W) 8-bit planes (H, W multiples of 8) with per-image (B, 8, 8) tables."""
    b, p, h, w = plane.shape
    basis = _dct_basis()
    blocks = (plane - 128.0).reshape(b, p, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(b, -1, 64)  # (B, P * h/8 * w/8, 64)
    t = table.reshape(b, 1, 64)
    coeffs = torch.round(blocks @ basis.T / t) * t
    pixels = (coeffs @ basis).reshape(b, p, h // 8, w // 8, 8, 8).permute(0, 1, 2, 4, 3, 5)
    return (pixels.reshape(b, p, h, w) + 128.0).round().clamp(0.0, 255.0)


def jpeg(images: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """JPEG encode + decode at a quality (1..100) per image; gray (C=1) or RGB (C=3, 4:2:0 chroma)."""
    b, c, h, w = images.shape
    if c not in (1, 3):
        raise ValueError(f"JPEG needs 1 or 3 channels, got images of shape {tuple(images.shape)}")
    block = 8 if c == 1 else 16  # one MCU: edge blocks are padded by repeating the last row/column
    pad = (0, -w % block, 0, -h % block)
    x = F.pad(torch.round(images.float().clamp(0, 1) * 255.0), pad, mode="replicate")  # (B, C, H', W')
    luma_table = _quant_tables(quality.float(), _LUMA)
    if c == 1:
        out = _code_plane(x, luma_table)
    else:
        r, g, bl = x.unbind(1)
        y = 0.299 * r + 0.587 * g + 0.114 * bl
        cb = -0.168736 * r - 0.331264 * g + 0.5 * bl + 128.0
        cr = 0.5 * r - 0.418688 * g - 0.081312 * bl + 128.0
        y = _code_plane(y.round()[:, None], luma_table)[:, 0]
        chroma = F.avg_pool2d(torch.stack([cb, cr], 1), 2).round()  # (B, 2, H'/2, W'/2)
        chroma = _code_plane(chroma, _quant_tables(quality.float(), _CHROMA))
        cb, cr = (F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False) - 128.0).unbind(1)
        out = torch.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], 1)
        out = out.round().clamp(0.0, 255.0)
    return (out[:, :, :h, :w] / 255.0).to(images.dtype)
