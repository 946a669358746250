"""Quality probe speed: one `make_quality_probe` call per checkpoint, 1,000 images, domain features.

Trains the domain evaluator on 3,000 MNIST digits (default EvaluatorConfig; or loads `--evaluator`),
builds the probe against 3,000 other digits (standing in for the gan_train split), then times calls on
the params.yaml variants' generators (untrained weights: the cost does not depend on them), split into
sampling G and the rest (evaluator features, FID, IS). Goal: ≤ 1 s per call on 2 CPU cores.

    PYTHONPATH=src python benchmarks/quality_probe_speed.py [--num-images 1000] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from ganops.config.params import EvaluatorConfig, VariantConfig
from ganops.config.plain import config_dict
from ganops.data.dataset import BUILTIN_SOURCES
from ganops.evaluation.evaluator import load_evaluator, save_evaluator, train_evaluator
from ganops.evaluation.quality import SAMPLE_BATCH_SIZE, make_quality_probe
from ganops.image.architectures import build_generator
from ganops.image.export import sample_images

VARIANTS = {  # the params.yaml defaults
    "seed_mlp": VariantConfig(arch="mlp", loss="minimax", z_dim=100, width=128),
    "dcgan": VariantConfig(arch="dcgan", z_dim=64, width=16),
}


def mnist() -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's built-in MNIST loader, shuffled: float32 (N, 1, 28, 28) in [0, 1], int64 labels."""
    X, y, _ = BUILTIN_SOURCES["mnist"]()
    order = np.random.default_rng(0).permutation(len(X))
    return X[order].astype(np.float32)[:, None], y[order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=1000)
    parser.add_argument("--evaluator", type=Path, default=None, help="saved evaluator (default: train one)")
    parser.add_argument("--save-evaluator", type=Path, default=None, help="keep the trained evaluator here")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = mnist()
    if args.evaluator is None:
        start = time.perf_counter()
        net, _ = train_evaluator(EvaluatorConfig(), images[:3000], labels[:3000], images[3000:4000],
                                 labels[3000:4000], seed=0)  # fmt: skip
        print(f"train evaluator: {time.perf_counter() - start:.1f} s")
        if args.save_evaluator:
            save_evaluator(net, args.save_evaluator)
    else:
        net = load_evaluator(args.evaluator)
    real = images[2000:]  # stands in for gan_train (3,000 digits)
    start = time.perf_counter()
    probe = make_quality_probe(net, real, args.num_images, seed=0, sample=sample_images)
    seconds = time.perf_counter() - start
    print(f"build probe ({probe.real_count} real images through the evaluator): {seconds:.2f} s")
    for name, cfg in VARIANTS.items():
        torch.manual_seed(0)
        G = build_generator(cfg, (1, 28, 28), 0).eval()
        meta = {"variant_config": config_dict(cfg), "num_classes": 0}
        probe(G, meta)  # warm-up
        probe.seconds.clear()
        sampling = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            sample_images(G, meta, args.num_images, seed=0, batch_size=SAMPLE_BATCH_SIZE)
            sampling.append(time.perf_counter() - start)
            scores = probe(G, meta)
        total = statistics.median(probe.seconds)
        print(
            f"{name}: probe call median {total:.3f} s (min {min(probe.seconds):.3f}, max "
            f"{max(probe.seconds):.3f}; sampling G {statistics.median(sampling):.3f} s) over {args.repeats} "
            f"calls, {args.num_images} images, {args.threads} threads (goal ≤ 1 s): "
            + ", ".join(f"{k}={v:.4g}" for k, v in scores.items())
        )


if __name__ == "__main__":
    main()
