"""Full evaluation speed: all generation metrics for one variant, domain features, 10,000 images.

Trains the domain evaluator on 3,000 MNIST digits (default EvaluatorConfig, timed separately), then
times `generation_metrics` on `--num-images` generated images (stand-ins: real digits with noise and
small shifts, so the metrics are non-trivial) against the 1,000-image real test set, and
`reference_metrics` once. Goal: ≤ 30 s for `generation_metrics` at 10,000 images on 2 CPU cores.

    PYTHONPATH=src python benchmarks/eval_speed.py [--num-images 10000] [--evaluator PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ganops.config.params import EvaluateConfig, EvaluatorConfig
from ganops.data.dataset import BUILTIN_SOURCES
from ganops.evaluation.evaluator import load_evaluator, train_evaluator
from ganops.evaluation.metrics import (
    compute_features,
    fid_bootstrap_std,
    fid_from_features,
    generation_metrics,
    inception_score_from_logits,
    kid_from_features,
    precision_recall,
    reference_metrics,
)


def mnist() -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's built-in MNIST loader, shuffled: float32 (N, 1, 28, 28) in [0, 1], int64 labels."""
    X, y, _ = BUILTIN_SOURCES["mnist"]()
    order = np.random.default_rng(0).permutation(len(X))
    return X[order].astype(np.float32)[:, None], y[order]


def stand_in_fakes(real: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    fake = real[rng.integers(0, len(real), count)]
    fake = np.roll(fake, shift=int(rng.integers(-1, 2)), axis=3)
    return np.clip(fake + 0.15 * rng.random(fake.shape, dtype=np.float32), 0.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=10_000)
    parser.add_argument("--evaluator", type=Path, default=None, help="saved evaluator (default: train one)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = mnist()
    train_x, train_y, test_x, test_y = images[:3000], labels[:3000], images[3000:4000], labels[3000:4000]
    if args.evaluator is None:
        start = time.perf_counter()
        net, report = train_evaluator(EvaluatorConfig(), train_x, train_y, test_x, test_y, seed=0)
        print(f"train evaluator: {time.perf_counter() - start:.1f} s, {report}")
    else:
        net = load_evaluator(args.evaluator)
    cfg = EvaluateConfig(num_images=args.num_images)
    fake = stand_in_fakes(train_x, args.num_images, seed=1)

    # the parts, one by one (generation_metrics runs the same calls)
    real_set = compute_features(net, test_x, cfg.batch_size)
    parts = {
        "features": lambda: compute_features(net, fake, cfg.batch_size),
        "fid": lambda: fid_from_features(fake_set[0], real_set[0]),
        "fid_std (bootstrap)": lambda: fid_bootstrap_std(fake_set[0], real_set[0], 0),
        "kid": lambda: kid_from_features(real_set[0], fake_set[0], cfg.kid_subsets, cfg.kid_subset_size, 0),
        "precision/recall": lambda: precision_recall(real_set[0], fake_set[0]),
        "is": lambda: inception_score_from_logits(fake_set[1], cfg.is_splits, 0),
    }
    fake_set = None
    for name, part in parts.items():
        start = time.perf_counter()
        result = part()
        if name == "features":
            fake_set = result
        print(f"  {name}: {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    metrics = generation_metrics(net, fake, test_x, cfg, seed=0)
    seconds = time.perf_counter() - start
    print(f"generation_metrics ({args.num_images} fake vs {len(test_x)} real): {seconds:.1f} s (goal ≤ 30 s)")
    for key, value in metrics.items():
        print(f"  {key}: {value:.4g}")
    start = time.perf_counter()
    reference = reference_metrics(net, images[4000:], test_x, cfg, seed=0)
    print(f"reference_metrics: {time.perf_counter() - start:.1f} s")
    for key, value in reference.items():
        print(f"  {key}: {value:.4g}")


if __name__ == "__main__":
    main()
