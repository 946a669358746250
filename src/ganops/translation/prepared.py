"""The prepare_translation stage's library: domain A and B images in three disjoint splits, on disk.

`data/translation/` holds, per split (`gan_train` trains the translators, `detector_train` feeds the
quality probe and the fake detectors, `test` is judged), `{split}_{a,b}.npy` (float32 (N, C, H, W)
in [0, 1]) and `{split}_{a,b}_labels.npy` (int64, -1 = unknown). A paired source keeps its pairs
aligned (index i of A and B is one example) and is split once, stratified by class; an unpaired one
splits each domain on its own. `gan_train_unpaired_*` is CycleGAN's training view: for a paired
source the gan_train pairs dealt into disjoint A and B halves (`pairs.unpaired_split`), so it never
sees both sides of an example; for an unpaired source the gan_train split itself. The manifest says
how the arrays were made and holds the sha256 of each, checked on every read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganops.config.params import TranslationConfig
from ganops.core.atomic import atomic_dir, write_json
from ganops.data.dataset import MANIFEST, SPLITS, file_sha256, load_manifest
from ganops.data.prepare import split_indices
from ganops.translation.pairs import DomainPair, load_pair, unpaired_split

UNPAIRED_TRAIN = "gan_train_unpaired"  # CycleGAN's view of gan_train
VIEWS = (*SPLITS, UNPAIRED_TRAIN)
LAYOUT = "NCHW float32 in [0, 1]"
_FIX = "run `dvc repro prepare_translation` (or `ganops prepare-translation`) first"


def load_domain_pair(cfg: TranslationConfig, root: Path, seed: int) -> tuple[DomainPair, dict]:
    """The configured source as one DomainPair (all images) and what was skipped on the way."""
    if cfg.source.startswith("folder:"):
        from ganops.translation.folders import load_folder_pair

        pair, skipped = load_folder_pair(cfg, root, seed)
        if cfg.max_images is not None:
            pair = _cap(pair, cfg.max_images, seed)
        return pair, skipped
    return load_pair(cfg.source, seed, cfg.image_size, cfg.max_images), {}


def _cap(pair: DomainPair, count: int, seed: int) -> DomainPair:
    from ganops.data.dataset import cap_indices

    ia = cap_indices(pair.labels_a, min(count, len(pair.a)), seed)
    ib = ia if pair.paired else cap_indices(pair.labels_b, min(count, len(pair.b)), seed + 1)
    return _take(pair, ia, ib)


def _take(pair: DomainPair, ia: np.ndarray, ib: np.ndarray) -> DomainPair:
    return DomainPair(
        pair.a[ia], pair.b[ib], pair.labels_a[ia], pair.labels_b[ib], pair.paired, list(pair.class_names),
        pair.source_index_a[ia], pair.source_index_b[ib],
    )  # fmt: skip


def split_pair(pair: DomainPair, cfg: TranslationConfig, seed: int) -> dict[str, DomainPair]:
    """Three disjoint splits (one split of the examples when paired, one per domain otherwise) + CycleGAN's view."""
    where = "translation.split"
    try:
        idx_a = split_indices(pair.labels_a, cfg.split, seed)
        idx_b = idx_a if pair.paired else split_indices(pair.labels_b, cfg.split, seed + 1)
    except ValueError as exc:  # split_indices names data.split; these fractions live elsewhere
        raise ValueError(
            str(exc).replace("data.split", where).replace("data.max_images", "translation.max_images")
        ) from None
    splits = {name: _take(pair, idx_a[name], idx_b[name]) for name in SPLITS}
    train = splits["gan_train"]
    splits[UNPAIRED_TRAIN] = unpaired_split(train, seed) if train.paired else train
    return splits


def _histogram(labels: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(labels, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


def prepare_translation(cfg: TranslationConfig, seed: int, out_dir: Path, root: Path) -> dict:
    """Load the source, split it, write the arrays and the manifest atomically; returns the manifest."""
    pair, skipped = load_domain_pair(cfg, Path(root), seed)
    splits = split_pair(pair, cfg, seed)
    manifest: dict = {
        "source": cfg.source,
        "paired": bool(pair.paired),
        "image_size": int(pair.a.shape[2]),
        "shape_a": [int(s) for s in pair.a.shape[1:]],
        "shape_b": [int(s) for s in pair.b.shape[1:]],
        "layout": LAYOUT,
        "seed": seed,
        "max_images": cfg.max_images,
        "split_fractions": cfg.split.model_dump(),
        "class_names": list(pair.class_names),
        "counts": {name: {"a": len(p.a), "b": len(p.b)} for name, p in splits.items()},
        "class_histogram": {
            name: {"a": _histogram(p.labels_a), "b": _histogram(p.labels_b)} for name, p in splits.items()
        },
        **skipped,
        "skipped_count": sum(len(v) for v in skipped.values()),
        "sha256": {},
    }
    with atomic_dir(out_dir) as tmp:
        for name, part in splits.items():
            arrays = {"a": part.a, "a_labels": part.labels_a, "b": part.b, "b_labels": part.labels_b}
            for kind, array in arrays.items():
                path = tmp / f"{name}_{kind}.npy"
                np.save(path, np.ascontiguousarray(array), allow_pickle=False)
                manifest["sha256"][path.name] = file_sha256(path)
        write_json(tmp / MANIFEST, manifest)
    return manifest


def load_translation_split(data_dir: Path, view: str) -> DomainPair:
    """One prepared view (a split or `gan_train_unpaired`) as a DomainPair, every array hash-checked."""
    if view not in VIEWS:
        raise ValueError(f"unknown translation split {view!r}; one of {', '.join(VIEWS)}")
    data_dir = Path(data_dir)
    manifest = load_manifest(data_dir)
    if "shape_a" not in manifest:
        raise ValueError(f"{data_dir}: not a prepared translation folder (no shape_a in its manifest); {_FIX}")
    arrays = {}
    for kind in ("a", "a_labels", "b", "b_labels"):
        path = data_dir / f"{view}_{kind}.npy"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found; {_FIX}")
        if manifest["sha256"].get(path.name) != file_sha256(path):
            raise ValueError(f"{path}: sha256 does not match {data_dir / MANIFEST}; {_FIX} again")
        arrays[kind] = np.load(path, allow_pickle=False)
    paired = bool(manifest["paired"]) and view != UNPAIRED_TRAIN
    return DomainPair(arrays["a"], arrays["b"], arrays["a_labels"].astype(np.int64),
                      arrays["b_labels"].astype(np.int64), paired, list(manifest["class_names"]))  # fmt: skip


def dataset_hash(manifest: dict) -> str:
    """One sha256 over the prepared arrays' hashes (the data tag of MLflow runs)."""
    from ganops.data.dataset import dataset_hash as image_dataset_hash

    return image_dataset_hash(manifest)
