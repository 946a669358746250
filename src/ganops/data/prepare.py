"""The prepare stage's library: load a source, split it three ways, write `data/prepared/` atomically.

Splits are disjoint, cover every image, are stratified by class (±1 image per class) and depend only
on the seed. The output folder is built beside the old one and swapped in whole, so a failed
prepare leaves the previous data untouched. `manifest.json` says how the arrays were made and holds
their sha256, which `ganops.data.dataset.load_split` checks on every read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganops.config.params import DataConfig, SplitConfig
from ganops.core.atomic import atomic_dir, write_json
from ganops.data.dataset import MANIFEST, SPLITS, file_sha256, load_source, stratified_order

LAYOUT = "NCHW float32 in [0, 1]"


def split_indices(labels: np.ndarray, fractions: SplitConfig, seed: int) -> dict[str, np.ndarray]:
    """Sorted, disjoint index sets `gan_train`, `detector_train`, `test` covering `labels` (N,).

    Raises ValueError if a set would be empty (too few images for the fractions).
    """
    order = stratified_order(np.asarray(labels), np.random.default_rng([seed, 1]))  # (N,)
    total = len(order)
    shares = [fractions.gan_train, fractions.detector_train, fractions.test]
    ends = [round(total * sum(shares[: i + 1])) for i in range(len(SPLITS) - 1)] + [total]
    starts = [0] + ends[:-1]
    splits = {name: np.sort(order[a:b]) for name, a, b in zip(SPLITS, starts, ends, strict=True)}
    for name, indices in splits.items():
        if len(indices) == 0:
            raise ValueError(
                f"data.split.{name}: {getattr(fractions, name):g} of {total} images leaves no image in "
                f"'{name}'; raise data.split.{name}, data.max_images, or add images"
            )
    return splits


def _histogram(labels: np.ndarray, class_names: list[str]) -> dict[str, int]:
    values, counts = np.unique(labels, return_counts=True)
    names = {i: name for i, name in enumerate(class_names)}
    return {
        names.get(int(v), "unknown" if v == -1 else str(int(v))): int(c) for v, c in zip(values, counts, strict=True)
    }


def prepare_dataset(cfg: DataConfig, seed: int, out_dir: Path, root: Path) -> dict:
    """Load `cfg.source`, split it, write `{split}_images.npy`, `{split}_labels.npy` and the manifest.

    Returns the manifest. Nothing in `out_dir` changes unless every file was written.
    """
    loaded = load_source(cfg, Path(root), seed)
    splits = split_indices(loaded.labels, cfg.split, seed)
    manifest: dict = {
        "source": cfg.source,
        "image_size": cfg.image_size,
        "channels": cfg.channels,
        "num_channels": cfg.num_channels,
        "layout": LAYOUT,
        "seed": seed,
        "max_images": cfg.max_images,
        "split_fractions": cfg.split.model_dump(),
        "total": int(len(loaded.labels)),
        "counts": {name: int(len(idx)) for name, idx in splits.items()},
        "class_names": loaded.class_names,
        "class_histogram": {name: _histogram(loaded.labels[idx], loaded.class_names) for name, idx in splits.items()},
        "skipped": loaded.skipped,
        "skipped_count": len(loaded.skipped),
        "resized_count": loaded.resized_count,
        "sha256": {},
    }
    with atomic_dir(out_dir) as tmp:
        for name, idx in splits.items():
            arrays = {"images": loaded.images[idx], "labels": loaded.labels[idx]}  # (n, C, H, W), (n,)
            for kind, array in arrays.items():
                path = tmp / f"{name}_{kind}.npy"
                np.save(path, np.ascontiguousarray(array), allow_pickle=False)
                manifest["sha256"][path.name] = file_sha256(path)
        write_json(tmp / MANIFEST, manifest)
    return manifest
