"""Translate image files into PNGs: the library behind `ganops translate` (no MLflow here).

Files are read by ganops.data's image reader (as the prepare stage reads folder images: converted to
the model's colour mode, resized to its size) and written as 8-bit PNGs, one per input, named after
the input (`<stem>.png`, `<stem>-2.png` on a clash). Unreadable files are reported, not fatal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from torch import nn

from ganops.core.atomic import atomic_path
from ganops.data.images import expand_paths, read_for_model
from ganops.translation.translator_io import translate


def _out_names(paths: list[Path], out_dir: Path) -> list[Path]:
    used: set[str] = set()
    names = []
    for path in paths:
        stem, k = path.stem, 1
        while (name := f"{stem}.png" if k == 1 else f"{stem}-{k}.png") in used:
            k += 1
        used.add(name)
        names.append(out_dir / name)
    return names


def _save_png(image: np.ndarray, path: Path) -> None:
    """(C, H, W) float in [0, 1] → 8-bit PNG (gray or RGB), atomically."""
    from PIL import Image

    pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)  # (H, W, C)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(tmp, format="PNG")


def translate_files(
    inputs: list[str | Path], G: nn.Module, source_shape: tuple[int, int, int], out_dir: Path,
    batch_size: int = 64,
) -> Iterator[tuple[Path, Path | None, str | None]]:  # fmt: skip
    """Yield (input, written PNG or None, error or None) per file, in batches of `batch_size`."""
    paths = expand_paths(inputs)
    if not paths:
        raise ValueError("no image files found in the given paths")
    targets = _out_names(paths, Path(out_dir))
    for start in range(0, len(paths), batch_size):
        chunk = list(zip(paths[start : start + batch_size], targets[start : start + batch_size], strict=True))
        images, ok, failed = [], [], []
        for path, target in chunk:
            try:
                images.append(read_for_model(path, source_shape))
                ok.append((path, target))
            except ValueError as exc:
                failed.append((path, str(exc)))
        if images:
            for (path, target), image in zip(ok, translate(G, np.stack(images)), strict=True):
                _save_png(image, target)
                yield path, target, None
        for path, error in failed:
            yield path, None, error
