"""Metric key names: one place, so DVC metrics, MLflow and registry tags use identical strings.

A key says what was measured, on how many generated images, with which feature network:
`fid_5k_domain` is FID over 5,000 generated images in the domain CNN's feature space. Counts of 1,000
or more are written in thousands (floored: 2,500 -> `2k`), smaller counts as the plain number (`500`).
Reference values (real-vs-real floor, noise) name their set instead of a count.
"""

from __future__ import annotations

DOMAIN = "domain"  # features of the domain CNN trained on the prepared images (ganops.evaluation.evaluator)
INCEPTION = "inception"  # the standard FID Inception-v3 pool3 features (ganops.evaluation.inception)

# Generation metrics: f"{name}_{count}_{network}" via `metric_key`.
FID = "fid"
FID_STD = "fid_std"  # bootstrap standard deviation of FID
KID = "kid"
KID_STD = "kid_std"
IS = "is"
IS_STD = "is_std"
PRECISION = "precision"
RECALL = "recall"
CLASSES_COVERED = "classes_covered"
CLASS_KL = "class_kl"

# Reference metrics (real data floor / ceiling and a trivially bad generator): f"{name}_{network}".
FID_FLOOR_REAL = "fid_floor_real"
KID_FLOOR_REAL = "kid_floor_real"
IS_CEILING_REAL = "is_ceiling_real"
FID_NOISE = "fid_noise"
KID_NOISE = "kid_noise"
IS_NOISE = "is_noise"
FID_FLOOR_REAL_DOMAIN = "fid_floor_real_domain"
KID_FLOOR_REAL_DOMAIN = "kid_floor_real_domain"
IS_CEILING_REAL_DOMAIN = "is_ceiling_real_domain"
FID_NOISE_DOMAIN = "fid_noise_domain"
KID_NOISE_DOMAIN = "kid_noise_domain"
IS_NOISE_DOMAIN = "is_noise_domain"

# Evaluator training report.
EVALUATOR_TEST_ACCURACY = "evaluator_test_accuracy"
EVALUATOR_TASK = "evaluator_task"

# Video metrics (ganops.video.metrics): FVD / KVD in the domain 3D-CNN's features.
FVD = "fvd"
KVD = "kvd"

LOWER_IS_BETTER = {FID, FID_STD, KID, KID_STD, CLASS_KL, FVD, KVD}


def count_tag(num_images: int) -> str:
    """`5000 -> '5k'`, `2500 -> '2k'`, `500 -> '500'`."""
    if num_images < 1:
        raise ValueError(f"image count must be positive, got {num_images}")
    return f"{num_images // 1000}k" if num_images >= 1000 else str(num_images)


def metric_key(name: str, num_images: int, network: str = DOMAIN) -> str:
    """`metric_key(FID, 5000) -> 'fid_5k_domain'`."""
    return f"{name}_{count_tag(num_images)}_{network}"


def reference_key(name: str, network: str = DOMAIN) -> str:
    """`reference_key(FID_FLOOR_REAL) -> 'fid_floor_real_domain'`."""
    return f"{name}_{network}"


def fid_key(num_images: int, network: str = DOMAIN) -> str:
    """The primary generator metric (lower is better): `fid_5k_domain` for 5,000 images."""
    return metric_key(FID, num_images, network)


def lower_is_better(key: str) -> bool:
    """Whether a smaller value of metric `key` (e.g. `fid_1k_domain_train`, `is_1k_domain`) is better."""
    return any(key == name or key.startswith(f"{name}_") for name in LOWER_IS_BETTER)
