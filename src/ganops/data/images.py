"""Reading one user image file: the only place ganops decodes images (prepare, ingest, scan, serving).

A hostile file must not cost more than a normal one. `Image.open` parses only the header, so the
pixel count is checked against `max_pixels` (`data.max_pixels`) before a single pixel is decoded; a
JPEG above the budget is decoded at 1/2, 1/4 or 1/8 scale (Pillow's `draft`, done inside the
decoder) when that brings it under the budget, anything else above it is refused. A detector only
means something on images prepared like its training data, so everyone gets the same conversion
(alpha over black, 16/32-bit scaled by their range) and the same resize (skimage, bilinear with
anti-aliasing, on float [0, 1]).

With `root`, the file is opened once and the opened file itself must lie inside `root` (symlinks and
`..` resolved by the kernel), so no name can lead a reader out of the folder it was given.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
DEFAULT_MAX_PIXELS = 4_194_304  # 2048 x 2048: far above any training size, far below a decompression bomb
_DRAFT_FORMATS = ("JPEG", "MPO")  # formats whose decoder can scale while decoding


class ImageRefused(ValueError):
    """A file refused before decoding (pixel budget, file name, outside the allowed root)."""


class Decoded(NamedTuple):
    pixels: np.ndarray  # (C, H, W) float32 in [0, 1]
    source_size: tuple[int, int]  # (H, W) of the file as stored, before any resize


def display_name(path: str | Path) -> str:
    """`path` as printable text: bytes that are not UTF-8 appear as \\xNN (never raises)."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def name_problem(path: str | Path) -> str | None:
    """Why `path` cannot be stored or tracked as it is named (None when it can)."""
    try:
        os.fsencode(str(path)).decode("utf-8")
    except UnicodeDecodeError:
        return "the file name is not valid UTF-8 (DVC, JSON and CSV cannot record it); rename it"
    return None


def is_inside(path: str | Path, root: str | Path) -> bool:
    """Whether `path`, with every symlink and `..` resolved, lies inside `root` (also resolved)."""
    try:
        Path(path).resolve(strict=True).relative_to(Path(root).resolve(strict=True))
    except (OSError, ValueError, RuntimeError):  # missing, a symlink loop, or outside
        return False
    return True


def _open_confined(path: Path, root: Path | None, max_bytes: int | None = None) -> IO[bytes]:
    """`path` opened for reading if it is a regular file (never a FIFO or device, which could block or
    never end); with `root`, only if the opened file lies inside it. Outside, missing or unreadable
    under a root: one identical refusal, so the answer says nothing about files outside it."""
    name = display_name(path)
    refusal = ImageRefused(f"{name}: no readable image file there inside the allowed folder")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        if root is not None:
            raise refusal from None
        raise ValueError(
            f"{name}: no such file"
            if isinstance(exc, FileNotFoundError)
            else f"{name}: cannot be opened ({exc.strerror})"
        ) from None
    handle = os.fdopen(fd, "rb")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refusal if root is not None else ValueError(f"{name}: not a regular file")
        if root is not None:
            fd_link = Path(f"/proc/self/fd/{fd}")
            opened = Path(os.readlink(fd_link)) if fd_link.exists() else path.resolve(strict=True)
            if not opened.is_relative_to(Path(root).resolve(strict=True)):
                raise refusal
        if max_bytes is not None and (size := os.fstat(fd).st_size) > max_bytes:
            raise ImageRefused(f"{name}: {size:,} bytes exceeds the limit of {max_bytes:,} bytes per file")
    except OSError:
        handle.close()
        raise refusal from None
    except ValueError:
        handle.close()
        raise
    return handle


def _convert(img, channels: str) -> np.ndarray:
    """A decoded Pillow image -> float64 (H, W, C) in [0, 1], C = 1 (gray) or 3 (rgb)."""
    from PIL import Image

    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        array = np.asarray(img, dtype=np.float64)
        if img.mode.startswith("I;16") or array.max() > 255:
            top = 65535.0
        else:
            top = 1.0 if img.mode == "F" and array.max() <= 1 else 255.0
        gray = np.clip(array / top, 0.0, 1.0)[..., None]  # (H, W, 1)
        return gray if channels == "gray" else np.repeat(gray, 3, axis=-1)
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    array = np.asarray(img.convert("L" if channels == "gray" else "RGB"), dtype=np.float64) / 255.0
    return array[..., None] if array.ndim == 2 else array  # (H, W, C)


def _fit_budget(img, name: str, max_pixels: int) -> None:
    """Refuse (from the header alone) an image above `max_pixels`, unless its decoder can scale it down."""
    width, height = img.size
    if width * height <= max_pixels:
        return
    if img.format in _DRAFT_FORMATS:
        for factor in (2, 4, 8):
            if (width // factor) * (height // factor) <= max_pixels:
                img.draft(None, (-(-width // factor), -(-height // factor)))
                if img.size[0] * img.size[1] <= max_pixels:
                    return
                break
    raise ImageRefused(
        f"{name}: {width}x{height} = {width * height / 1e6:.1f} megapixels exceeds the pixel budget of "
        f"{max_pixels / 1e6:.1f} megapixels (data.max_pixels); shrink the image or raise the budget"
    )


def resize_like_prepare(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float in [0, 1] -> (size[0], size[1], C), as prepare resizes folder images."""
    from skimage.transform import resize

    if array.shape[:2] == tuple(size):
        return array
    return np.clip(resize(array, tuple(size), order=1, anti_aliasing=True), 0.0, 1.0)


def read_image(
    path: str | Path,
    channels: str = "rgb",
    size: tuple[int, int] | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    root: str | Path | None = None,
    max_bytes: int | None = None,
) -> Decoded:
    """One image file as float32 (C, H, W) in [0, 1], converted to `channels` (gray | rgb) and, with
    `size` (H, W), resized like prepare. Raises ValueError (ImageRefused, or Pillow's own errors
    re-raised as ValueError with the file name) for anything that is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    assert channels in ("gray", "rgb"), channels
    path = Path(path)
    name = display_name(path)
    with _open_confined(path, Path(root) if root is not None else None, max_bytes) as handle:
        try:
            with warnings.catch_warnings():  # Pillow's bomb warning: the budget below is stricter
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img = Image.open(handle)
            with img:
                _fit_budget(img, name, max_pixels)  # before verify: verify reads the whole file
                img.verify()  # structure and checksums; the object is unusable afterwards
            handle.seek(0)
            with Image.open(handle) as img:
                source_size = (img.size[1], img.size[0])
                _fit_budget(img, name, max_pixels)
                img.load()  # decodes every byte: truncated files fail here
                array = _convert(img, channels)  # (H, W, C) float64
        except ImageRefused:
            raise
        except UnidentifiedImageError:
            raise ValueError(f"{name}: not an image (Pillow cannot identify its format)") from None
        except Image.DecompressionBombError as exc:
            raise ImageRefused(f"{name}: refused as a decompression bomb ({exc})".splitlines()[0]) from None
        except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, ValueError, ...)
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise ValueError(f"{name}: corrupt or truncated image: {reason}") from None
    if size is not None:
        array = resize_like_prepare(array, size)
    pixels = np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)  # (C, H, W)
    return Decoded(pixels, source_size)


def read_for_model(
    path: str | Path,
    image_shape: tuple[int, int, int],
    max_pixels: int = DEFAULT_MAX_PIXELS,
    root: str | Path | None = None,
    max_bytes: int | None = None,
) -> np.ndarray:
    """float32 (C, H, W) for a model expecting `image_shape` (C, H, W): scan and the served detector."""
    channels, height, width = image_shape
    if channels not in (1, 3):
        raise ValueError(f"image_shape {image_shape}: models read 1 (gray) or 3 (rgb) channels")
    if (problem := name_problem(path)) is not None:
        raise ImageRefused(f"{display_name(path)}: {problem}")
    mode = "gray" if channels == 1 else "rgb"
    decoded = read_image(path, mode, (height, width), max_pixels=max_pixels, root=root, max_bytes=max_bytes)
    return decoded.pixels


def expand_paths(paths: Iterator[str | Path] | list) -> list[Path]:
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
