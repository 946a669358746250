"""The exported generator: one `.pt` file with its weights and everything needed to rebuild it.

Format "ganops-generator/1": {"format", "arch", "variant_config" (dict), "image_shape" [C, H, W],
"num_classes", "class_names", "state_dict"}; plain types only, loaded with weights_only=True.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ganops.config.plain import config_dict
from ganops.core.atomic import atomic_path, save_torch

if TYPE_CHECKING:
    from ganops.config.params import VariantConfig

FORMAT = "ganops-generator/1"


def export_generator(
    path: str | Path,
    G: nn.Module,
    cfg: VariantConfig,
    image_shape: tuple[int, int, int],
    num_classes: int,
    class_names: list[str] | None = None,
) -> None:
    payload = {
        "format": FORMAT,
        "arch": cfg.arch,
        "variant_config": config_dict(cfg),
        "image_shape": [int(s) for s in image_shape],
        "num_classes": int(num_classes),
        "class_names": list(class_names or []),
        "state_dict": {k: v.detach().cpu().clone() for k, v in G.state_dict().items()},
    }
    save_torch(path, payload)


def load_generator(path: str | Path, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild G (eval mode, on `device`) from an exported file; returns (G, meta without weights)."""
    from ganops.image.architectures import build_generator

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: generator file not found; run `dvc repro train_gan` first")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: not a ganops generator file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a ganops generator file (expected format {FORMAT!r})")
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    cfg = SimpleNamespace(**meta["variant_config"])
    G = build_generator(cfg, tuple(meta["image_shape"]), meta["num_classes"])
    G.load_state_dict(payload["state_dict"])
    return G.to(device).eval(), meta


def conditional_classes(meta: dict[str, Any]) -> int:
    """The number of classes a loaded generator takes labels for; 0 when it is unconditional."""
    num_classes = int(meta.get("num_classes", 0))
    return num_classes if meta["variant_config"].get("conditional", False) else 0


@torch.no_grad()
def sample_images(
    G: nn.Module,
    meta: dict[str, Any],
    num_images: int,
    seed: int,
    batch_size: int = 500,
    labels: np.ndarray | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """num_images samples as float32 (N, C, H, W) in [0, 1]; reproducible for a given seed.

    Conditional generators take `labels` (N,) int class ids; without them classes cycle 0, 1, 2, ….
    Noise is drawn on the CPU from a generator seeded with `seed`, so results do not depend on device.
    """
    if num_images < 1:
        raise ValueError(f"num_images must be >= 1 (got {num_images})")
    num_classes = conditional_classes(meta)
    conditional = num_classes > 0
    if labels is not None:
        labels = np.array(labels, dtype=np.int64).reshape(-1)  # a copy: a read-only array (pandas) warns in torch
        if len(labels) != num_images:
            raise ValueError(f"labels: need one per image ({num_images}), got {len(labels)}")
        if conditional and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"labels: class ids must be in 0..{num_classes - 1}")
    elif conditional:
        labels = np.arange(num_images, dtype=np.int64) % num_classes
    z_dim = int(meta["variant_config"]["z_dim"])
    was_training = G.training
    G.eval()
    noise = torch.Generator().manual_seed(int(seed))
    out = []
    for start in range(0, num_images, batch_size):
        count = min(batch_size, num_images - start)
        z = torch.randn(count, z_dim, generator=noise).to(device)  # (B, z_dim)
        y = torch.from_numpy(labels[start : start + count]).to(device) if conditional else None
        x = G(z, y).float()  # (B, C, H, W) in [-1, 1]
        out.append(((x + 1) / 2).clamp(0, 1).cpu().numpy())
    G.train(was_training)
    return np.concatenate(out).astype(np.float32, copy=False)  # (N, C, H, W)


def image_grid(images: np.ndarray, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) in [0, 1] → one uint8 image (rows·(H+pad)+pad, nrow·(W+pad)+pad, C) on black.

    Built here in numpy because torchvision (make_grid / save_image) cannot be installed beside our torch.
    """
    n, c, h, w = images.shape
    rows = -(-n // nrow)
    grid = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), dtype=np.uint8)
    pixels = (np.clip(images, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)  # (N, H, W, C)
    for i in range(n):
        top, left = pad + (i // nrow) * (h + pad), pad + (i % nrow) * (w + pad)
        grid[top : top + h, left : left + w] = pixels[i]
    return grid


def save_image_grid(path: str | Path, images: np.ndarray, nrow: int = 8) -> None:
    """Write a sample grid PNG atomically with Pillow."""
    from PIL import Image

    grid = image_grid(images, nrow)
    image = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between noise batches (B, z_dim): stays on the Gaussian shell, unlike lerp."""
    dot = (z0 / z0.norm(dim=1, keepdim=True) * (z1 / z1.norm(dim=1, keepdim=True))).sum(1, keepdim=True)
    omega = torch.acos(dot.clamp(-1 + 1e-7, 1 - 1e-7))  # (B, 1)
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


@torch.no_grad()
def save_interpolation_gif(
    path: str | Path, G: nn.Module, meta: dict[str, Any], seed: int, num_rows: int = 8, num_frames: int = 24
) -> None:
    """An animated GIF walking `num_rows` samples through latent space (slerp, there and back), atomically.

    Each frame is one row of `num_rows` images; the walk visits 3 noise keyframes per sample. Conditional
    generators keep one class per column.
    """
    from PIL import Image

    z_dim = int(meta["variant_config"]["z_dim"])
    num_classes = conditional_classes(meta)
    y = torch.arange(num_rows) % num_classes if num_classes else None
    keys = torch.randn(3, num_rows, z_dim, generator=torch.Generator().manual_seed(int(seed)))
    keys = torch.cat([keys, keys[:1]])  # (4, B, z_dim): a closed loop
    was_training = G.training
    G.eval()
    frames = []
    for k in range(3):
        for i in range(num_frames // 3):
            z = slerp(keys[k], keys[k + 1], i / (num_frames // 3))
            x = ((G(z, y).float() + 1) / 2).clamp(0, 1).cpu().numpy()  # (B, C, H, W)
            grid = image_grid(x, nrow=num_rows)
            frames.append(Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid))
    G.train(was_training)
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
