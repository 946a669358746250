"""Prepared clips: the `video` source rendered or read, split three ways, written with a manifest.

Layout of the prepared folder (data/video/): for each split in SPLITS, `{split}_clips.npy` float32
(N, T, C, H, W) in [0, 1] and `{split}_labels.npy` int64 (N,) (the clip's class, -1 when unknown);
moving digits add `{split}_digits.npy` and `{split}_directions.npy` int64 (N, num_digits) (class and
compass bin of each digit). `manifest.json` holds the source, clip shape, counts, class names, the
label heads the feature network learns, skipped files and the sha256 of every array.

The splits are disjoint: moving digits draw each split from its own share of the MNIST digit images
(stratified by class, so every split holds every digit), a folder assigns whole videos to splits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganops.config.video import VideoConfig
from ganops.core.atomic import atomic_dir
from ganops.data.dataset import file_sha256, stratified_order
from ganops.video.moving_digits import NUM_DIRECTIONS, MovingDigitsSpec, mnist_digit_pool, render_moving_digits
from ganops.video.video_io import read_video_folder

SPLITS = ("gan_train", "detector_train", "test")
MANIFEST = "manifest.json"
NUM_DIGIT_CLASSES = 10
_FIX = "run `dvc repro prepare_video` (or `ganops prepare-video`) first"


class BadVideoError(ValueError):
    """Unreadable videos while `video.on_bad_video` is `fail`; the message lists every file."""


@dataclass
class ClipSplit:
    clips: np.ndarray  # (N, T, C, H, W) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64, -1 = unknown
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # "digits", "directions": (N, D) int64


def spec_from(cfg: VideoConfig) -> MovingDigitsSpec:
    md = cfg.moving_digits
    return MovingDigitsSpec(md.num_digits, cfg.size, cfg.frames, md.digit_size, md.speed_min, md.speed_max)


def split_counts(total: int, cfg: VideoConfig) -> dict[str, int]:
    """Clips per split from the fractions; the test split takes the rounding remainder."""
    counts = {name: int(round(total * getattr(cfg.split, name))) for name in SPLITS[:-1]}
    counts[SPLITS[-1]] = total - sum(counts.values())
    return counts


def _moving_digits(cfg: VideoConfig, seed: int) -> tuple[dict[str, ClipSplit], dict]:
    images, labels = mnist_digit_pool()
    order = stratified_order(labels, np.random.default_rng([seed, 0]))  # the pool is sorted by class
    images, labels = images[order], labels[order]
    spec = spec_from(cfg)
    spec.validate("video.moving_digits")
    pool_sizes = split_counts(len(images), cfg)
    clip_counts = split_counts(cfg.num_clips, cfg)
    splits, start = {}, 0
    for k, name in enumerate(SPLITS):
        stop = start + pool_sizes[name]
        md = render_moving_digits(images[start:stop], labels[start:stop], clip_counts[name], spec, seed * 10 + k)
        clip_labels = md.digits[:, 0] if spec.num_digits == 1 else np.full(len(md.digits), -1, np.int64)
        splits[name] = ClipSplit(md.clips, clip_labels, {"digits": md.digits, "directions": md.directions})
        start = stop
    info = {
        "class_names": [str(d) for d in range(NUM_DIGIT_CLASSES)] if spec.num_digits == 1 else [],
        "heads": {"digits": NUM_DIGIT_CLASSES, "directions": NUM_DIRECTIONS},
        "moving_digits": cfg.moving_digits.model_dump(),
        "skipped": [],
    }
    return splits, info


def _resolve(source: str, root: Path) -> Path:
    folder = Path(source.removeprefix("folder:")).expanduser()
    folder = folder if folder.is_absolute() else Path(root) / folder
    if not folder.is_dir():
        raise ValueError(f"video.source {source!r}: folder {folder} does not exist (put GIF/MP4 files in it)")
    return folder


def assign_videos(video_index: np.ndarray, cfg: VideoConfig, seed: int) -> dict[str, np.ndarray]:
    """Clip indices per split, whole videos at a time: in a seeded order, each video goes to the split
    furthest below its share of the clips (the first three seed one split each)."""
    videos = np.unique(video_index)
    if len(videos) < len(SPLITS):
        raise ValueError(
            f"video.source: {len(videos)} readable video(s); need at least {len(SPLITS)} "
            "(one per split, so no video is in two splits)"
        )
    shares = np.array([getattr(cfg.split, name) for name in SPLITS])
    filled = np.zeros(len(SPLITS))
    members: list[list[int]] = [[] for _ in SPLITS]
    for rank, video in enumerate(np.random.default_rng([seed, 0]).permutation(videos)):
        k = rank if rank < len(SPLITS) else int(np.argmax(shares * (filled.sum() + 1) - filled))
        members[k].append(int(video))
        filled[k] += (video_index == video).sum()
    return {name: np.flatnonzero(np.isin(video_index, members[k])) for k, name in enumerate(SPLITS)}


def _folder(cfg: VideoConfig, seed: int, root: Path) -> tuple[dict[str, ClipSplit], dict]:
    folder = _resolve(cfg.source, root)
    clips, labels, class_names, video_index, skipped = read_video_folder(
        folder, cfg.frames, cfg.size, cfg.channels, cfg.max_clips_per_video
    )
    unreadable = [s for s in skipped if not s["reason"].startswith(("not a video file", "symlink"))]
    if unreadable and cfg.on_bad_video == "fail":
        listing = "; ".join(f"{s['path']}: {s['reason']}" for s in unreadable)
        raise BadVideoError(
            f"{len(unreadable)} bad video file(s) in {folder} (set video.on_bad_video: skip to skip them): {listing}"
        )
    if len(clips) == 0:
        first = f"; first: {skipped[0]['path']}: {skipped[0]['reason']}" if skipped else ""
        raise ValueError(f"video.source {cfg.source!r}: no readable video in {folder}{first}")
    parts = assign_videos(video_index, cfg, seed)
    splits = {name: ClipSplit(clips[idx], labels[idx]) for name, idx in parts.items()}
    heads = {"labels": len(class_names)} if len(class_names) >= 2 else {}
    return splits, {"class_names": class_names, "heads": heads, "skipped": skipped}


def prepare_clips(cfg: VideoConfig, seed: int, out: Path, root: Path) -> dict:
    """Write the prepared folder `out` atomically; returns its manifest."""
    if cfg.source == "moving_digits":
        splits, info = _moving_digits(cfg, seed)
    else:
        splits, info = _folder(cfg, seed, root)
    manifest = {
        "source": cfg.source,
        "clip_shape": [int(s) for s in splits["gan_train"].clips.shape[1:]],
        "counts": {name: int(len(s.labels)) for name, s in splits.items()},
        "num_classes": len(info["class_names"]),
        **info,
        "skipped_count": len(info["skipped"]),
        "sha256": {},
    }
    with atomic_dir(out) as tmp:
        for name, split in splits.items():
            arrays = {"clips": split.clips.astype(np.float32), "labels": split.labels.astype(np.int64)}
            for kind, array in {**arrays, **split.extra}.items():
                path = tmp / f"{name}_{kind}.npy"
                np.save(path, np.ascontiguousarray(array), allow_pickle=False)
                manifest["sha256"][path.name] = file_sha256(path)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def load_video_manifest(prepared: Path) -> dict:
    path = Path(prepared) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; {_FIX}")
    return json.loads(path.read_text())


def load_clips(prepared: Path, split: str, max_clips: int | None = None) -> ClipSplit:
    """One prepared split, every array checked against the manifest's sha256."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    prepared = Path(prepared)
    manifest = load_video_manifest(prepared)
    arrays = {}
    for name, digest in manifest["sha256"].items():
        if not name.startswith(f"{split}_"):
            continue
        path = prepared / name
        if not path.is_file() or file_sha256(path) != digest:
            raise ValueError(f"{path}: missing or changed since prepare_video (sha256 mismatch); {_FIX} again")
        arrays[name.removeprefix(f"{split}_").removesuffix(".npy")] = np.load(path, allow_pickle=False)
    clips, labels = arrays.pop("clips"), arrays.pop("labels")
    if clips.ndim != 5 or clips.dtype != np.float32 or labels.shape != (len(clips),):
        raise ValueError(f"{prepared}/{split}_clips.npy: expected float32 (N, T, C, H, W); {_FIX} again")
    keep = slice(None) if max_clips is None else slice(0, max_clips)
    return ClipSplit(clips[keep], labels[keep], {k: v[keep] for k, v in arrays.items()})


def head_targets(split: ClipSplit, manifest: dict) -> dict[str, tuple[np.ndarray, int]]:
    """The feature network's targets: {head: (labels (N,) or (N, D), classes)} from the manifest heads."""
    arrays = {"labels": split.labels, **split.extra}
    return {head: (arrays[head], int(classes)) for head, classes in manifest["heads"].items() if head in arrays}
