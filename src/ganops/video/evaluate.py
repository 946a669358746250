"""Judging generated clips: every video metric against real clips, the reference rows, the probe, the table.

`score_clips` is the one place a set of clips is scored (variants and reference rows alike), so a
generator and the references are measured identically:
- fvd_domain / kvd_domain: clip-net features (video.metrics),
- frame_fid_domain: FID of single frames in the frame net's features (frame quality alone),
- temporal_consistency(_centred): the frame net's per-frame classes agree across a clip (on frames
  moved onto their centre of mass: a change of identity, not of position),
- speed_w1_px, freeze_score, mean_speed_px: centre-of-mass motion (video.metrics).
Reference rows (`reference_rows`): a second real set (the floor), static clips (one real frame
repeated), shuffled clips (real frames, wrong order) and noise, all scored against the same real set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ganops.evaluation.metrics import compute_features, fid_from_features, kid_from_features
from ganops.video import metrics as vm
from ganops.video.features import clip_features
from ganops.video.references import noise_clips, shuffled_clips, static_clips

FRAME_FID = "frame_fid_domain"
REAL_FREEZE_SCORE = "real_freeze_score"  # the same freeze score on the real clips, for comparison
FRAMES_SCORED = 2000  # frames per set through the frame net (frame FID, temporal consistency)
REFERENCE_ROWS = ("floor_real", "static", "shuffled", "noise")


@dataclass
class VideoJudges:
    clip_net: torch.nn.Module  # ganops.video.features.ClipFeatureNet
    frame_net: torch.nn.Module  # ganops.evaluation.evaluator.Evaluator on single frames
    kvd_subsets: int = vm.KVD_SUBSETS
    kvd_subset_size: int = vm.KVD_SUBSET_SIZE


def _frames(clips: np.ndarray, limit: int = FRAMES_SCORED) -> tuple[np.ndarray, int]:
    """Every frame of the first clips, up to `limit` frames: ((K * T, C, H, W), K)."""
    k = max(1, min(len(clips), limit // clips.shape[1]))
    return np.ascontiguousarray(clips[:k].reshape(-1, *clips.shape[2:]), dtype=np.float32), k


@dataclass
class RealStats:
    """What every score against one real set reuses: computed once per real set (`real_stats`)."""

    clip_features: np.ndarray  # (N, d) clip-net features
    frame_features: np.ndarray  # (M, d') frame-net features
    clips: np.ndarray  # (N, T, C, H, W): for the motion metrics


def real_stats(judges: VideoJudges, real: np.ndarray) -> RealStats:
    frames, _ = _frames(real)
    features, _ = compute_features(judges.frame_net, frames, name="real frames")
    return RealStats(clip_features(judges.clip_net, real), features, real)


def score_clips(judges: VideoJudges, real: RealStats | np.ndarray, fake: np.ndarray, seed: int) -> dict[str, float]:
    """Every video metric of clips `fake` against the real clips (both (N, T, C, H, W) in [0, 1]).

    Frame FID and temporal consistency share one frame-net pass over every frame of the first clips
    (FRAMES_SCORED frames): the frame net is the most expensive judge on a CPU.
    """
    import warnings

    real = real if isinstance(real, RealStats) else real_stats(judges, real)
    fake_features = clip_features(judges.clip_net, fake)
    kvd, kvd_std = kid_from_features(
        real.clip_features, fake_features, judges.kvd_subsets, judges.kvd_subset_size, seed
    )
    out = {vm.FVD_DOMAIN: vm.fvd_from_features(real.clip_features, fake_features), vm.KVD_DOMAIN: kvd,
           vm.KVD_DOMAIN_STD: kvd_std}  # fmt: skip
    frames, scored = _frames(fake)
    features, logits = compute_features(judges.frame_net, frames, name="generated frames")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small tiny-run sets: rank warning, still comparable
        out[FRAME_FID] = fid_from_features(real.frame_features, features)
    predicted = logits.argmax(axis=1)
    out[vm.TEMPORAL_CONSISTENCY] = vm.temporal_consistency(fake[:scored], lambda _: predicted)
    centred = vm.centre_frames(frames.reshape(scored, *fake.shape[1:]))  # the same float32 frames, centred
    _, centred_logits = compute_features(judges.frame_net, centred.reshape(frames.shape), name="centred frames")
    out[vm.TEMPORAL_CONSISTENCY_CENTRED] = vm.temporal_consistency(centred, lambda _: centred_logits.argmax(axis=1))
    out |= vm.motion_metrics(real.clips, fake)
    out[REAL_FREEZE_SCORE] = float((vm.clip_speeds(real.clips) < vm.FREEZE_SPEED).mean())
    return out


def reference_rows(judges: VideoJudges, real_a: np.ndarray, real_b: np.ndarray, seed: int) -> dict:
    """{row: metrics} for the floor (real_b vs real_a), static, shuffled and noise versions of real_b."""
    sets = {
        "floor_real": real_b,
        "static": static_clips(real_b, seed),
        "shuffled": shuffled_clips(real_b, seed),
        "noise": noise_clips(real_b, seed),
    }
    stats = real_stats(judges, real_a)
    return {row: score_clips(judges, stats, clips, seed) for row, clips in sets.items()}


def probe_key(num_clips: int) -> str:
    """`fvd_200_domain_train`: FVD_domain of `num_clips` generated clips against gan_train clips."""
    return f"fvd_{num_clips}_domain_train"


class VideoProbe:
    """The loop's quality probe: FVD_domain of a fixed-seed sample against fixed gan_train features.

    Leaves the global RNG alone (sample_clips draws z from its own generator; the clip net is in eval mode).
    """

    def __init__(self, clip_net: torch.nn.Module, train_clips: np.ndarray, num_clips: int, seed: int) -> None:
        from ganops.video.export import sample_clips

        self.sample_clips, self.clip_net, self.num_clips, self.seed = sample_clips, clip_net, num_clips, seed
        self.key = probe_key(num_clips)
        pick = np.random.default_rng([seed, 7]).permutation(len(train_clips))[: 2 * num_clips]
        self.real_features = clip_features(clip_net, train_clips[np.sort(pick)])

    def __call__(self, G: torch.nn.Module, meta: dict) -> dict[str, float]:
        sample_meta = {"num_classes": meta["num_classes"], "z_dim": G.z_dim}
        fake = self.sample_clips(G, sample_meta, self.num_clips, seed=self.seed + 3)
        fake_features = clip_features(self.clip_net, fake)
        out = {self.key: vm.fvd_from_features(self.real_features, fake_features)}
        out[f"mean_speed_px_{self.num_clips}_train"] = float(vm.clip_speeds(fake).mean())
        return out


# --- the side-by-side table ---

COLUMNS = (
    (vm.FVD_DOMAIN, "FVD_domain ↓"),
    (vm.KVD_DOMAIN, "KVD ↓"),
    (FRAME_FID, "frame FID ↓"),
    (vm.TEMPORAL_CONSISTENCY_CENTRED, "temporal consistency ↑ (centred frames)"),
    (vm.TEMPORAL_CONSISTENCY, "temporal consistency, raw frames"),
    (vm.SPEED_W1, "speed W1 px ↓"),
    (vm.FREEZE_SCORE, "freeze score"),
    (vm.MEAN_SPEED, "mean speed px/frame"),
)


def report_markdown(variants: dict[str, dict], reference: dict[str, dict], chosen: str | None) -> str:
    """Variants and reference rows side by side (markdown)."""
    lines = ["| clips | " + " | ".join(title for _, title in COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]

    def row(label: str, metrics: dict) -> str:
        cells = [f"{metrics[key]:.4g}" if key in metrics else "–" for key, _ in COLUMNS]
        return f"| {label} | " + " | ".join(cells) + " |"

    for name, metrics in sorted(variants.items()):
        lines.append(row(f"**{name}** (registered)" if name == chosen else name, metrics))
    labels = {"floor_real": "_real vs real (floor)_", "static": "_static (a real frame × T)_",
              "shuffled": "_shuffled real frames_", "noise": "_uniform noise_"}  # fmt: skip
    lines += [row(labels[name], reference[name]) for name in REFERENCE_ROWS if name in reference]
    real_freeze = next(iter(reference.values()), {}).get(REAL_FREEZE_SCORE)
    if real_freeze is not None:
        lines += ["", f"Freeze score of real clips: {real_freeze:.3g} (share slower than {vm.FREEZE_SPEED} px/frame)."]
    return "\n".join(lines) + "\n"
