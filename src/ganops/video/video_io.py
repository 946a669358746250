"""Video files in and out: a user's GIF/MP4 cut into fixed-length clips, and GIF grids / MP4s written.

Reading uses imageio v3 (Pillow for GIF, PyAV for everything else); the decoders convert each frame
to gray ("L" / "gray") or RGB themselves. Frames are resized with scikit-image (antialiased, like the
image loader) straight to size x size. A video gives floor(num_frames / frames) non-overlapping clips.

Bad files never stop a folder scan by themselves: each is returned in a skip list
`{"path", "reason"}` (unreadable, not a video, too short, mixed frame sizes, symlink), and the caller
decides whether to skip or fail. Symlinks are never followed, so nothing outside the folder is read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ganops.core.atomic import atomic_path

VIDEO_EXTENSIONS = (".gif", ".mp4", ".webm", ".mov", ".avi", ".mkv")
CHANNELS = {"gray": 1, "rgb": 3}


class VideoReadError(ValueError):
    """One video file that cannot give clips; the message is the reason, without the path."""


def _frame_iterator(path: Path, channels: str):
    import imageio.v3 as iio

    if path.suffix.lower() == ".gif":
        return iio.imiter(path, plugin="pillow", mode="L" if channels == "gray" else "RGB")
    return iio.imiter(path, plugin="pyav", format="gray" if channels == "gray" else "rgb24")


def read_video(
    path: str | Path, frames: int, size: int, channels: str = "gray", max_clips: int | None = None
) -> np.ndarray:
    """Clips (K, frames, C, size, size) float32 in [0, 1] from one video; raises VideoReadError."""
    from skimage.transform import resize

    if channels not in CHANNELS:
        raise ValueError(f"channels: must be one of {', '.join(CHANNELS)} (got {channels!r})")
    path = Path(path)
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise VideoReadError(f"not a video file (extension {path.suffix or 'none'}; use {', '.join(VIDEO_EXTENSIONS)})")
    wanted = None if max_clips is None else max_clips * frames
    decoded: list[np.ndarray] = []
    try:
        for frame in _frame_iterator(path, channels):
            frame = np.asarray(frame)
            frame = frame[..., None] if frame.ndim == 2 else frame[..., : CHANNELS[channels]]  # (h, w, C)
            if decoded and frame.shape != decoded[0].shape:
                first, now = decoded[0].shape[:2], frame.shape[:2]
                raise VideoReadError(
                    f"mixed frame sizes (frame 0 is {first[0]}x{first[1]}, frame {len(decoded)} is {now[0]}x{now[1]})"
                )
            decoded.append(frame)
            if wanted is not None and len(decoded) >= wanted:
                break
    except VideoReadError:
        raise
    except Exception as error:  # any decoder failure: truncated, not really a video, unknown codec
        raise VideoReadError(f"unreadable ({type(error).__name__}: {str(error)[:120]})") from None
    if len(decoded) < frames:
        raise VideoReadError(f"too short: {len(decoded)} frames, need at least {frames} (video.frames)")
    num_clips = len(decoded) // frames
    stack = np.stack(decoded[: num_clips * frames])  # (K*T, h, w, C)
    scale = 65535.0 if stack.dtype == np.uint16 else 255.0
    stack = stack.astype(np.float32) / scale
    if stack.shape[1:3] != (size, size):
        # the sample axis keeps scale 1 and the channel axis too, so neither is mixed
        stack = resize(stack, (len(stack), size, size, stack.shape[3]), order=1, anti_aliasing=True, mode="reflect")
        stack = np.clip(stack, 0.0, 1.0).astype(np.float32)
    clips = stack.reshape(num_clips, frames, size, size, -1)  # (K, T, H, W, C)
    return np.ascontiguousarray(clips.transpose(0, 1, 4, 2, 3))  # (K, T, C, H, W)


def scan_video_folder(folder: str | Path) -> tuple[list[tuple[Path, str]], list[dict]]:
    """Video files under `folder` as (path, class name or ""), sorted, plus skipped entries.

    Files directly in `folder` have no class; files in a sub-folder take its name. Symlinks (to files
    or folders) and hidden entries are not followed; non-video files are listed as skipped.
    """
    root = Path(folder)
    found: list[tuple[Path, str]] = []
    skipped: list[dict] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in list(dirnames):
            if (here / name).is_symlink():
                skipped.append({"path": str(here / name), "reason": "symlink (not followed)"})
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and not (here / n).is_symlink())
        depth = len(here.relative_to(root).parts)
        for name in sorted(filenames):
            path = here / name
            if name.startswith("."):
                continue
            if path.is_symlink():
                skipped.append({"path": str(path), "reason": "symlink (not followed)"})
            elif path.suffix.lower() not in VIDEO_EXTENSIONS:
                skipped.append({"path": str(path), "reason": f"not a video file (extension {path.suffix or 'none'})"})
            elif depth > 1:
                skipped.append({"path": str(path), "reason": "nested too deep (use folder/<class>/video)"})
            else:
                found.append((path, here.name if depth == 1 else ""))
    return found, skipped


def read_video_folder(
    folder: str | Path, frames: int, size: int, channels: str = "gray", max_clips_per_video: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, list[dict]]:
    """Every readable video under `folder` as clips.

    Returns clips (N, T, C, H, W) float32 in [0, 1], labels (N,) int64 (-1 without class folders),
    class names, video_index (N,) int64 (which file each clip came from, to split by video, not by
    clip), and the skip list.
    """
    files, skipped = scan_video_folder(folder)
    class_names = sorted({name for _, name in files if name})
    clips, labels, video_index = [], [], []
    for index, (path, class_name) in enumerate(files):
        try:
            got = read_video(path, frames, size, channels, max_clips_per_video)
        except VideoReadError as error:
            skipped.append({"path": str(path), "reason": str(error)})
            continue
        clips.append(got)
        labels.append(np.full(len(got), class_names.index(class_name) if class_name else -1, dtype=np.int64))
        video_index.append(np.full(len(got), index, dtype=np.int64))
    if not clips:
        empty = np.zeros((0, frames, CHANNELS[channels], size, size), np.float32)
        return empty, np.zeros(0, np.int64), class_names, np.zeros(0, np.int64), skipped
    return np.concatenate(clips), np.concatenate(labels), class_names, np.concatenate(video_index), skipped


# --- writers ---


def _write_bytes(path: str | Path, data: bytes) -> None:
    """Encoded in memory first: the encoders pick the container from the name, and a temp name has none."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def clip_grid(clips: np.ndarray, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """Clips (N, T, C, H, W) in [0, 1] -> frames (T, rows*(H+p)+p, nrow*(W+p)+p, C) uint8 tiled.

    Hand-written because torchvision (make_grid) is not a dependency and this is one reshape.
    """
    n, t, c, h, w = clips.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / nrow))
    frames = np.zeros((t, rows * (h + padding) + padding, nrow * (w + padding) + padding, c), dtype=np.uint8)
    pixels = np.rint(np.clip(clips, 0.0, 1.0) * 255).astype(np.uint8).transpose(0, 1, 3, 4, 2)  # (N, T, H, W, C)
    for i in range(n):
        top, left = padding + (i // nrow) * (h + padding), padding + (i % nrow) * (w + padding)
        frames[:, top : top + h, left : left + w] = pixels[i]
    return frames


def save_gif_grid(path: str | Path, clips: np.ndarray, fps: float = 8.0, nrow: int | None = None) -> None:
    """Write clips (N, T, C, H, W) in [0, 1] as one looping GIF of a grid, atomically."""
    import imageio.v3 as iio

    frames = clip_grid(clips, nrow)
    frames = frames[..., 0] if frames.shape[-1] == 1 else frames  # gray GIFs stay exact (mode L)
    _write_bytes(path, iio.imwrite("<bytes>", frames, extension=".gif", plugin="pillow", duration=1000.0 / fps, loop=0))


def save_mp4(path: str | Path, clips: np.ndarray, fps: float = 8.0, nrow: int | None = None) -> None:
    """Write clips (N, T, C, H, W) in [0, 1] as an H.264 MP4 of a grid (yuv420p, even sides), atomically."""
    import imageio.v3 as iio

    frames = clip_grid(clips, nrow)
    frames = np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2  # yuv420p needs even sides
    frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
    _write_bytes(path, iio.imwrite("<bytes>", frames, extension=".mp4", plugin="pyav", codec="libx264", fps=fps))
