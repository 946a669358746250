"""Sample grids for translators: one row per preview example, e.g. input | output | target.

Preview examples are the first `num_samples` items of the first training batch, kept in the family's
parts (and checkpoint) so every grid of a run shows the same inputs. Layout by skimage.util.montage;
written with Pillow, atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganops.core.atomic import atomic_path

PAD = 2  # pixels between tiles


def to_unit(x: torch.Tensor) -> np.ndarray:
    """(K, C, H, W) in [-1, 1] → float32 numpy in [0, 1]."""
    return ((x.detach().float().cpu() + 1) / 2).clamp(0, 1).numpy()


def grid_image(columns: list[np.ndarray]) -> np.ndarray:
    """Columns of (K, C, H, W) in [0, 1] (C may be 1 or 3) → one (rows, cols[, 3]) uint8 image, K rows."""
    from skimage.util import montage

    channels = max(col.shape[1] for col in columns)
    cols = [np.repeat(c, channels, axis=1) if c.shape[1] == 1 else c for c in columns]  # gray → RGB
    tiles = np.stack(cols, axis=1).reshape(-1, *cols[0].shape[1:])  # (K·n, C, H, W), row-major
    grid = montage(
        tiles.transpose(0, 2, 3, 1),
        grid_shape=(len(cols[0]), len(cols)),
        padding_width=PAD,
        fill=(0.0,) * channels,
        channel_axis=-1,
    )
    pixels = (np.clip(grid, 0, 1) * 255 + 0.5).astype(np.uint8)
    return pixels[:, :, 0] if channels == 1 else pixels


def write_samples(out_dir: Path, step: int, columns: list[np.ndarray]) -> None:
    """out_dir/samples.png and out_dir/samples/step_XXXXXX.png, both the same grid."""
    from PIL import Image

    image = Image.fromarray(grid_image(columns))
    for path in (Path(out_dir) / "samples" / f"step_{step:06d}.png", Path(out_dir) / "samples.png"):
        with atomic_path(path) as tmp:
            image.save(tmp, format="PNG")


def keep_preview(batch: dict[str, torch.Tensor], keys: tuple[str, ...], count: int) -> dict[str, torch.Tensor]:
    """The first `count` items of each key, detached copies: (K, ...) each."""
    return {key: batch[key][:count].detach().clone() for key in keys}
