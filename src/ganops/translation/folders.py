"""A user's two image folders as a translation source: `folder:<A>,folder:<B>`.

Each folder is read by the image prepare's own loader (`ganops.data.dataset.load_source`: the same
layouts — flat, or one sub-folder per class —, validation, bad-file handling and resize), so a folder
that `prepare` accepts is accepted here and a bad file is named the same way. The two domains are
**paired** when both folders hold the same file names (matched by relative path without the
extension, so `A/0001.jpg` pairs with `B/0001.png`), **unpaired** when they share no name; a partial
match is an error naming the unmatched files, since it is almost always a mistake.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganops.config.params import DataConfig, TranslationConfig
from ganops.data.dataset import IMAGE_EXTENSIONS, LoadedImages, load_source
from ganops.translation.pairs import DomainPair

MAX_LISTED = 3  # unmatched names quoted in an error


def folder_paths(source: str, root: Path) -> tuple[Path, Path]:
    """`folder:<A>,folder:<B>` → the two folders, relative paths taken from `root`."""
    parts = [Path(part.removeprefix("folder:")).expanduser() for part in source.split(",")]
    assert len(parts) == 2, source  # the config validator checked the form
    return tuple(p if p.is_absolute() else Path(root).absolute() / p for p in parts)


def _listed_files(folder: Path) -> list[Path]:
    """The image files `load_source` tries to read in `folder`, in its order (flat, or class folders).

    Mirrors ganops.data.dataset's folder scan (sorted entries, hidden names left out, one level of
    class folders); `_names_in_load_order` checks the count against what was loaded.
    """
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    class_dirs = [p for p in entries if p.is_dir()]
    groups = [sorted(d.iterdir()) for d in class_dirs] if class_dirs else [entries]
    return [
        p for group in groups for p in group
        if not p.name.startswith(".") and p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    ]  # fmt: skip


def _names_in_load_order(folder: Path, loaded: LoadedImages) -> list[str]:
    """Relative names without extension (`cat/0001`) of the loaded images, one per image."""
    skipped = {item["path"] for item in loaded.skipped}
    kept = [p for p in _listed_files(folder) if str(p) not in skipped]
    if len(kept) != len(loaded.images):  # the loader's scan changed: refuse rather than mis-pair
        raise RuntimeError(
            f"{folder}: {len(kept)} image files listed but {len(loaded.images)} loaded; "
            "ganops.translation.folders no longer mirrors the prepare stage's folder scan"
        )
    return [p.relative_to(folder).with_suffix("").as_posix() for p in kept]


def _load_domain(cfg: TranslationConfig, folder: Path, channels: str, root: Path, seed: int) -> LoadedImages:
    data_cfg = DataConfig(source=f"folder:{folder}", image_size=cfg.image_size, channels=channels,
                          on_bad_image=cfg.on_bad_image)  # fmt: skip
    return load_source(data_cfg, root, seed)


def _source_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:  # header only
        return img.size


def _pair_up(
    names_a: list[str], names_b: list[str], listed: dict[str, tuple[Path, Path]]
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Indices (ia, ib) of the images present in both folders, and the partners of skipped files."""
    where_b = {name: i for i, name in enumerate(names_b)}
    where_a = {name: i for i, name in enumerate(names_a)}
    ia, ib, dropped = [], [], []
    for name in sorted(listed):
        if name in where_a and name in where_b:
            path_a, path_b = listed[name]
            size_a, size_b = _source_size(path_a), _source_size(path_b)
            if size_a != size_b:
                raise ValueError(
                    f"{path_a} is {size_a[0]}x{size_a[1]} but its partner {path_b} is {size_b[0]}x{size_b[1]}: "
                    "paired images must have one size"
                )
            ia.append(where_a[name])
            ib.append(where_b[name])
        else:
            kept = listed[name][0] if name in where_a else listed[name][1]
            if name in where_a or name in where_b:
                dropped.append({"path": str(kept), "reason": "its partner in the other folder was skipped"})
    return np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64), dropped


def load_folder_pair(cfg: TranslationConfig, root: Path, seed: int) -> tuple[DomainPair, dict]:
    """(DomainPair, {"skipped_a", "skipped_b"}) for a `folder:<A>,folder:<B>` source."""
    folder_a, folder_b = folder_paths(cfg.source, root)
    for side, folder in (("A", folder_a), ("B", folder_b)):
        if not folder.is_dir() or not any(not p.name.startswith(".") for p in folder.iterdir()):
            state = "does not exist" if not folder.is_dir() else "is empty"
            raise ValueError(f"translation.source: domain {side} folder {folder} {state}; put its images in it")
    loaded_a = _load_domain(cfg, folder_a, cfg.channels_a, root, seed)
    loaded_b = _load_domain(cfg, folder_b, cfg.channels_b, root, seed)
    names_a, names_b = _names_in_load_order(folder_a, loaded_a), _names_in_load_order(folder_b, loaded_b)
    files_a = {p.relative_to(folder_a).with_suffix("").as_posix(): p for p in _listed_files(folder_a)}
    files_b = {p.relative_to(folder_b).with_suffix("").as_posix(): p for p in _listed_files(folder_b)}
    common = set(files_a) & set(files_b)
    skipped = {"skipped_a": loaded_a.skipped, "skipped_b": loaded_b.skipped}
    if not common:  # unpaired: two independent domains
        pair = _unpaired(loaded_a, loaded_b)
        return pair, skipped
    unmatched = sorted(set(files_a) ^ set(files_b))
    if unmatched:
        listed = ", ".join(str(files_a.get(n) or files_b.get(n)) for n in unmatched[:MAX_LISTED])
        raise ValueError(
            f"translation.source: {len(common)} file names appear in both folders but {len(unmatched)} do not "
            f"({listed}{', ...' if len(unmatched) > MAX_LISTED else ''}); name every pair alike for paired "
            "training, or use folders with no common names for unpaired training"
        )
    listed = {name: (files_a[name], files_b[name]) for name in common}
    ia, ib, dropped = _pair_up(names_a, names_b, listed)
    if len(ia) == 0:
        raise ValueError(f"translation.source: no pair of {folder_a} and {folder_b} was readable on both sides")
    if loaded_a.class_names != loaded_b.class_names:
        raise ValueError(
            f"translation.source: class folders differ ({loaded_a.class_names} in A, {loaded_b.class_names} in B); "
            "a paired source needs the same class folders on both sides"
        )
    skipped["skipped_pairs"] = dropped
    pair = DomainPair(loaded_a.images[ia], loaded_b.images[ib], loaded_a.labels[ia], loaded_b.labels[ib],
                      paired=True, class_names=list(loaded_a.class_names))  # fmt: skip
    return pair, skipped


def _unpaired(loaded_a: LoadedImages, loaded_b: LoadedImages) -> DomainPair:
    """Two independent domains; labels are kept only when both sides have the same class folders."""
    labels_a, labels_b, names = loaded_a.labels, loaded_b.labels, list(loaded_a.class_names)
    if loaded_a.class_names != loaded_b.class_names:
        labels_a, labels_b, names = np.full_like(labels_a, -1), np.full_like(labels_b, -1), []
    return DomainPair(loaded_a.images, loaded_b.images, labels_a, labels_b, paired=False, class_names=names)
