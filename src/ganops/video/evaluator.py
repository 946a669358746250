"""The video judges, trained on real gan_train clips: the clip feature net and the frame classifier.

- clip net (features.ClipFeatureNet): a 3D CNN predicting each clip's digit classes and motion
  directions (or a folder's class labels); its penultimate features are FVD_domain's space.
- frame net: the image evaluator's CNN (ganops.evaluation.evaluator) trained on single frames of the
  clips (digit class; the digit pair with two digits; a folder's classes, or rotations when
  unlabelled): per-frame FID features and the per-frame predictions of temporal consistency. The
  image pipeline's own evaluator is trained on 28x28 images, not on these frames, so it is not reused.

Both are saved as weights-only torch files. Test accuracy of each head is reported like the image
evaluator's: a clip counts as right when its top-D predicted classes are exactly its D true ones.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ganops.core.atomic import save_torch
from ganops.evaluation.evaluator import Evaluator, load_evaluator, save_evaluator, train_evaluator
from ganops.video.features import ClipFeatureNet, train_clip_features
from ganops.video.prepare import ClipSplit, head_targets

CLIP_NET, FRAME_NET = "clip_net.pt", "frame_net.pt"
CLIP_FORMAT = "ganops-video-clip-net"
NUM_DIGIT_CLASSES = 10


def frame_labels(split: ClipSplit) -> np.ndarray:
    """One class per frame of each clip (N,): the digit, the unordered digit pair (lo * 10 + hi), or the
    clip's label (-1 = unknown: the frame net then learns rotations)."""
    digits = split.extra.get("digits")
    if digits is None:
        return split.labels
    if digits.shape[1] == 1:
        return digits[:, 0]
    lo, hi = digits.min(axis=1), digits.max(axis=1)
    return lo * NUM_DIGIT_CLASSES + hi


def sample_frames(split: ClipSplit, per_clip: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`per_clip` random frames of every clip -> frames (N * k, C, H, W), labels (N * k,)."""
    rng = np.random.default_rng([seed, 5])
    n, t = split.clips.shape[:2]
    index = rng.integers(0, t, size=(n, min(per_clip, t)))
    frames = split.clips[np.arange(n)[:, None], index]  # (N, k, C, H, W)
    labels = np.repeat(frame_labels(split), index.shape[1])
    return np.ascontiguousarray(frames.reshape(-1, *frames.shape[2:])), labels


@torch.no_grad()
def head_accuracy(net: ClipFeatureNet, split: ClipSplit, manifest: dict, batch_size: int = 128) -> dict:
    """Share of test clips whose top-D predicted classes equal their D true ones, per head."""
    out = {}
    targets = head_targets(split, manifest)
    logits = {name: [] for name in net.heads}
    for start in range(0, len(split.clips), batch_size):
        _, heads = net(torch.from_numpy(split.clips[start : start + batch_size]))
        for name in logits:
            logits[name].append(heads[name])
    for name, parts in logits.items():
        labels = np.asarray(targets[name][0]).reshape(len(split.clips), -1)  # (N, D)
        known = (labels >= 0).all(axis=1)
        if not known.any():
            continue
        top = torch.cat(parts).topk(labels.shape[1], dim=1).indices.numpy()  # (N, D)
        right = [set(a) == set(b) for a, b in zip(top[known], labels[known], strict=True)]
        out[f"video_evaluator_{name}_test_accuracy"] = float(np.mean(right))
    return out


def train_video_judges(cfg, train: ClipSplit, test: ClipSplit, manifest: dict, seed: int):
    """(clip net, frame net, metrics) from the gan_train clips; `cfg` is the video.evaluator section."""
    started = time.perf_counter()
    targets = head_targets(train, manifest)
    clip_net = train_clip_features(
        train.clips, targets, cfg.steps, cfg.batch_size, cfg.lr, seed, cfg.width, cfg.feature_dim
    )
    clip_seconds = time.perf_counter() - started
    frames, labels = sample_frames(train, cfg.frames_per_clip, seed)
    test_frames, test_labels = sample_frames(test, 1, seed + 1)
    frame_cfg = _FrameConfig(cfg.frame_epochs, 64, 1e-3, 64)
    frame_net, frame_report = train_evaluator(frame_cfg, frames, labels, test_frames, test_labels, seed)
    metrics = {
        **head_accuracy(clip_net, test, manifest),
        "video_evaluator_train_clips": len(train.clips),
        "video_evaluator_clip_seconds": clip_seconds,
        "frame_evaluator_test_accuracy": frame_report["evaluator_test_accuracy"],
        "frame_evaluator_task": frame_report["evaluator_task"],
        "frame_evaluator_seconds": frame_report["evaluator_seconds"],
    }
    return clip_net, frame_net, metrics


class _FrameConfig:
    """The EvaluatorConfig attributes train_evaluator reads, for the frame classifier."""

    def __init__(self, epochs: int, batch_size: int, lr: float, feature_dim: int) -> None:
        self.epochs, self.batch_size, self.lr, self.feature_dim = epochs, batch_size, lr, feature_dim


def save_judges(folder: Path, clip_net: ClipFeatureNet, frame_net: Evaluator) -> None:
    payload = {
        "format": CLIP_FORMAT,
        "config": clip_net.config,
        "state_dict": {k: v.detach().cpu() for k, v in clip_net.state_dict().items()},
    }
    save_torch(Path(folder) / CLIP_NET, payload)
    save_evaluator(frame_net, Path(folder) / FRAME_NET)


def load_judges(folder: Path, device: str = "cpu") -> tuple[ClipFeatureNet, Evaluator]:
    """(clip net, frame net) in eval mode; FileNotFoundError / ValueError naming the file."""
    path = Path(folder) / CLIP_NET
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; run `dvc repro train_video_evaluator` first")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CLIP_FORMAT:
        raise ValueError(f"{path}: not a {CLIP_FORMAT} file; run `dvc repro train_video_evaluator` again")
    clip_net = ClipFeatureNet(**payload["config"])
    clip_net.load_state_dict(payload["state_dict"])
    clip_net = clip_net.to(device).eval().requires_grad_(False)
    return clip_net, load_evaluator(Path(folder) / FRAME_NET, device)


def load_video_judges(folder: Path, evaluate_cfg, device: str = "cpu"):
    """The judges of ganops.video.evaluate with the `video.evaluate` KVD settings."""
    from ganops.video.evaluate import VideoJudges

    clip_net, frame_net = load_judges(folder, device)
    return VideoJudges(clip_net, frame_net, evaluate_cfg.kvd_subsets, evaluate_cfg.kvd_subset_size)
