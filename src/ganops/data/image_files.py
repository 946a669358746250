"""Reading user image files for scanning, exactly as the prepare stage reads folder images.

A detector only means something on images prepared like its training data, so conversion to the
model's colour mode (`ganops.data.dataset.read_image`: alpha over black, 16-bit scaled) and resizing
(skimage `resize`, bilinear with anti-aliasing, on float [0, 1]) are the prepare stage's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ganops.data.dataset import IMAGE_EXTENSIONS
from ganops.data.dataset import read_image as _read_converted


def resize_like_prepare(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float in [0, 1] -> (size[0], size[1], C), as `dataset` resizes folder images."""
    from skimage.transform import resize

    if array.shape[:2] == tuple(size):
        return array
    return np.clip(resize(array, tuple(size), order=1, anti_aliasing=True), 0.0, 1.0)


def read_image(path: str | Path, image_shape: tuple[int, int, int]) -> np.ndarray:
    """One image file as float32 (C, H, W) in [0, 1] for a model expecting `image_shape` (C, H, W).

    Raises ValueError naming the file when it cannot be read as an image.
    """
    channels, height, width = image_shape
    if channels not in (1, 3):
        raise ValueError(f"image_shape {image_shape}: models read 1 (gray) or 3 (rgb) channels")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        array = _read_converted(path, "gray" if channels == 1 else "rgb")  # (h, w, C)
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, ValueError, ...)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise ValueError(f"{path}: not a readable image ({reason})") from None
    array = resize_like_prepare(array, (height, width))
    return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)  # (C, H, W)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus image files (by extension) found recursively in folders, sorted.

    Missing paths are kept, so the caller reports them instead of dropping them silently.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            files.extend(sorted(found))
        else:
            files.append(path)
    return files
