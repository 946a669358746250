"""Detecting generated clips with the image detectors (label 1 = fake).

Two ways to give one `p_fake` per clip, both judged with detection.metrics on held-out clips:
- `<detector>` (frame-pooled): an image detector (DETECTORS, trained by detection.training on
  `frames_per_clip` frames of every training clip) scores each frame; a clip's p_fake is the mean of
  its frames' calibrated p_fake.
- `<detector>+temporal` (clip-level): a logistic regression on the clip's frame-score statistics
  (mean, max, std of the raw scores) plus motion statistics the frames alone cannot show (mean and
  std of the frame-to-frame change, centre-of-mass speed), fitted on the training clips; its
  threshold is the training clips' FPR rule of the detector section.
Both clip thresholds follow `detector.threshold_rule` / `target_fpr` on the training clips (the frame
detector has seen their frames, so those thresholds are optimistic; the test rows are held out).
Leave-one-out rows train on every other generator's fakes and test on the held-out one's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganops.detection.calibration import choose_threshold
from ganops.detection.metrics import detection_metrics
from ganops.detection.training import TrainedDetector, train_detector

TEMPORAL = "temporal"


def clip_frames(clips: np.ndarray, per_clip: int) -> np.ndarray:
    """`per_clip` evenly spaced frames of every clip: (N, T, C, H, W) -> (N * k, C, H, W)."""
    positions = np.linspace(0, clips.shape[1] - 1, min(per_clip, clips.shape[1])).round().astype(int)
    return np.ascontiguousarray(clips[:, positions].reshape(-1, *clips.shape[2:]), dtype=np.float32)


def motion_features(clips: np.ndarray) -> np.ndarray:
    """(N, 3): mean and std of the mean absolute frame-to-frame change, and centre-of-mass speed."""
    from ganops.evaluation.motion import clip_speeds

    change = np.abs(np.diff(clips, axis=1)).mean(axis=(2, 3, 4))  # (N, T-1)
    return np.stack([change.mean(axis=1), change.std(axis=1), clip_speeds(clips)], axis=1)


@dataclass
class ClipDetector:
    """A frame detector pooled per clip, optionally with the temporal clip-level model on top."""

    frame: TrainedDetector
    per_clip: int
    pooled_threshold: float = 0.5
    temporal: object | None = None  # sklearn pipeline on clip features
    temporal_threshold: float = 0.5

    def frame_scores(self, clips: np.ndarray) -> np.ndarray:
        """Raw frame scores (N, k)."""
        raw = self.frame.model.raw_score(clip_frames(clips, self.per_clip))
        return raw.reshape(len(clips), -1)

    def pooled(self, clips: np.ndarray) -> np.ndarray:
        """Mean calibrated frame p_fake per clip (N,)."""
        return self.frame.platt(self.frame_scores(clips).ravel()).reshape(len(clips), -1).mean(axis=1)

    def clip_features(self, clips: np.ndarray) -> np.ndarray:
        raw = self.frame_scores(clips)
        return np.concatenate([np.stack([raw.mean(1), raw.max(1), raw.std(1)], axis=1), motion_features(clips)], 1)

    def temporal_p(self, clips: np.ndarray) -> np.ndarray:
        return self.temporal.predict_proba(self.clip_features(clips))[:, 1]


def _labels(num_real: int, num_fake: int) -> np.ndarray:
    return np.concatenate([np.zeros(num_real, np.int64), np.ones(num_fake, np.int64)])


def train_clip_detector(
    name: str, real: np.ndarray, fake: np.ndarray, cfg, per_clip: int, seed: int, temporal: bool, device: str = "cpu"
) -> ClipDetector:
    """Frame detector `name` on frames of real vs fake clips (N, T, C, H, W); `cfg` = the image
    DetectorConfig (validation split, threshold rule, per-detector sections); + the temporal model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = train_detector(name, clip_frames(real, per_clip), clip_frames(fake, per_clip), cfg, seed, device=device)
    detector = ClipDetector(frame, per_clip)
    labels = _labels(len(real), len(fake))
    p_pooled = detector.pooled(np.concatenate([real, fake]))
    detector.pooled_threshold = choose_threshold(labels, p_pooled, cfg.threshold_rule, cfg.target_fpr)
    if temporal:
        features = np.concatenate([detector.clip_features(real), detector.clip_features(fake)])
        model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
        detector.temporal = model.fit(features, labels)
        p_train = model.predict_proba(features)[:, 1]
        detector.temporal_threshold = choose_threshold(labels, p_train, cfg.threshold_rule, cfg.target_fpr)
    return detector


def judge(detector: ClipDetector, real: np.ndarray, fake: np.ndarray, resamples: int, seed: int) -> dict:
    """{"pooled": metrics, "temporal": metrics (when trained)} on held-out clips."""
    labels = _labels(len(real), len(fake))
    both = np.concatenate([real, fake])
    out = {"pooled": detection_metrics(labels, detector.pooled(both), detector.pooled_threshold, resamples, seed)}
    if detector.temporal is not None:
        out[TEMPORAL] = detection_metrics(
            labels, detector.temporal_p(both), detector.temporal_threshold, resamples, seed
        )
    return out


def video_detection(
    name: str,
    real_train: np.ndarray,
    real_test: np.ndarray,
    fakes_train: dict[str, np.ndarray],
    fakes_test: dict[str, np.ndarray],
    cfg,
    per_clip: int,
    temporal: bool,
    leave_one_out: bool,
    seed: int,
) -> dict:
    """Test metrics on every generator's held-out fakes, and leave-one-out rows (>= 2 generators)."""
    fake = np.concatenate([fakes_train[g] for g in sorted(fakes_train)])
    detector = train_clip_detector(name, real_train, fake, cfg, per_clip, seed, temporal)
    all_test = np.concatenate([fakes_test[g] for g in sorted(fakes_test)])
    out = {"test": judge(detector, real_test, all_test, cfg.bootstrap_resamples, seed), "leave_one_out": {}}
    if leave_one_out and len(fakes_train) >= 2:
        for held in sorted(fakes_train):
            seen = np.concatenate([fakes_train[g] for g in sorted(fakes_train) if g != held])
            held_out = train_clip_detector(name, real_train, seen, cfg, per_clip, seed, temporal)
            out["leave_one_out"][held] = judge(held_out, real_test, fakes_test[held], 0, seed)
    return out


def report_markdown(results: dict) -> str:
    """One row per detector and pooling: AUC, TPR@1%FPR, FPR at threshold; then leave-one-out rows."""
    lines = ["# Video fake detection (label 1 = fake)", "",
             "| detector | clip score | AUC | TPR @ 1% FPR | FPR on reals at threshold | TPR at threshold |",
             "|---|---|---|---|---|---|"]  # fmt: skip

    def cells(m: dict) -> str:
        keys = ("auc", "tpr_at_fpr_1pct", "fpr_real_at_threshold", "tpr_fake_at_threshold")
        return " | ".join(f"{m[key]:.4f}" if key == "auc" else f"{m[key]:.3f}" for key in keys)

    for name, result in sorted(results.items()):
        for pooling, metrics in result["test"].items():
            lines.append(f"| {name} | {pooling} | {cells(metrics)} |")
    loo = [(n, g, p, m) for n, r in sorted(results.items()) for g, rows in r["leave_one_out"].items()
           for p, m in rows.items()]  # fmt: skip
    if loo:
        lines += ["", "Left-out generator (trained on the other generators' fakes only):", "",
                  "| detector | held-out generator | clip score | AUC | TPR @ 1% FPR | FPR at threshold "
                  "| TPR at threshold |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {n} | {g} | {p} | {cells(m)} |" for n, g, p, m in loo]
    return "\n".join(lines) + "\n"
