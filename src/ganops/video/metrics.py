"""Video metrics: FVD_domain and KVD in the domain 3D-CNN's features, temporal consistency, motion.

- FVD_domain: the project's Fréchet distance (`ganops.evaluation.frechet`) between Gaussians fitted
  to ClipFeatureNet features of real and generated clips (Unterthiner et al. 2018's FVD, with a
  domain network in place of I3D). KVD: the same features through the KID estimator (unbiased
  polynomial-kernel MMD² on seeded subsets).
- temporal consistency: the share of frames whose per-frame class prediction equals their clip's
  majority prediction (1 = the digit never changes identity), with any per-frame classifier;
  `temporal_consistency_centred` classifies each frame moved onto its centre of mass
  (`centre_frames`), so a classifier that changes its mind with the object's position alone (the
  frame net on real clips: 0.91 raw) does not read as a change of identity (real clips: 1.0; frames
  drawn from different clips: 0.24 either way).
- motion: each frame's intensity-weighted centre of mass (px); a clip's speed is its mean
  frame-to-frame centre-of-mass displacement (px / frame). `speed_w1` is the 1-D Wasserstein
  distance (scipy) between generated and real speed distributions; `freeze_score` the share of
  clips slower than `freeze_speed`. With two digits the centre of mass is the pair's, so opposite
  motions partly cancel: compare against real clips of the same setting, never in absolute terms.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ganops.evaluation.frechet import frechet_distance, mean_and_covariance
from ganops.evaluation.metrics import kid_from_features
from ganops.evaluation.motion import centre_frames, centre_of_mass, clip_speeds  # noqa: F401 (this module's metric API)

FVD_DOMAIN = "fvd_domain"
KVD_DOMAIN = "kvd_domain"
KVD_DOMAIN_STD = "kvd_domain_std"
TEMPORAL_CONSISTENCY = "temporal_consistency"
TEMPORAL_CONSISTENCY_CENTRED = "temporal_consistency_centred"
SPEED_W1 = "speed_w1_px"
FREEZE_SCORE = "freeze_score"
MEAN_SPEED = "mean_speed_px"

FREEZE_SPEED = 0.5  # px / frame: a clip whose content moves slower than this "barely moves"
KVD_SUBSETS, KVD_SUBSET_SIZE = 50, 100

FrameClassifier = Callable[[np.ndarray], np.ndarray]  # frames (M, C, H, W) in [0, 1] -> class ids (M,)


def fvd_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Squared Fréchet distance between features (N, d) and (M, d)."""
    mu_r, sigma_r = mean_and_covariance(real)
    mu_f, sigma_f = mean_and_covariance(fake)
    return frechet_distance(mu_r, sigma_r, mu_f, sigma_f)


def kvd_from_features(real: np.ndarray, fake: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """(mean, std) of the KID estimator on clip features."""
    return kid_from_features(real, fake, KVD_SUBSETS, KVD_SUBSET_SIZE, seed)


def temporal_consistency(clips: np.ndarray, classify_frames: FrameClassifier) -> float:
    """Share of frames agreeing with their clip's majority class; clips (N, T, C, H, W) in [0, 1]."""
    n, t = clips.shape[:2]
    predictions = np.asarray(classify_frames(clips.reshape(n * t, *clips.shape[2:]))).reshape(n, t)
    assert predictions.min() >= 0, "classify_frames must return class ids >= 0"
    counts = np.apply_along_axis(np.bincount, 1, predictions, minlength=int(predictions.max()) + 1)  # (N, K)
    return float(counts.max(axis=1).sum() / (n * t))


def motion_metrics(real: np.ndarray, fake: np.ndarray, freeze_speed: float = FREEZE_SPEED) -> dict[str, float]:
    """speed_w1 (px / frame) between the clip-speed distributions, fake's freeze score and mean speed."""
    from scipy.stats import wasserstein_distance

    real_speed, fake_speed = clip_speeds(real), clip_speeds(fake)
    return {
        SPEED_W1: float(wasserstein_distance(real_speed, fake_speed)),
        FREEZE_SCORE: float((fake_speed < freeze_speed).mean()),
        MEAN_SPEED: float(fake_speed.mean()),
    }


def video_metrics(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    real: np.ndarray,
    fake: np.ndarray,
    classify_frames: FrameClassifier | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Every video metric of one generated set against the real clips (arrays (N, T, C, H, W) in [0, 1])."""
    kvd, kvd_std = kvd_from_features(real_features, fake_features, seed)
    out = {
        FVD_DOMAIN: fvd_from_features(real_features, fake_features),
        KVD_DOMAIN: kvd,
        KVD_DOMAIN_STD: kvd_std,
    }
    out |= motion_metrics(real, fake)
    if classify_frames is not None:
        out[TEMPORAL_CONSISTENCY] = temporal_consistency(fake, classify_frames)
        out[TEMPORAL_CONSISTENCY_CENTRED] = temporal_consistency(centre_frames(fake), classify_frames)
    return out
