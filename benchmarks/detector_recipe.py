"""Detector recipe trials on a validation split (never the test split the README reports).

From a workspace after `make run` (its data/prepared and data/fakes): 25 % of the `detector_train`
reals and of each generator's stored train fakes are held out as the validation set; the detector is
trained exactly as `train_detector@NAME` trains it (`detection.training.train_detector`: its own
calibration split, threshold rule and degraded-reals threshold) on the rest plus the other
`detector.real_splits` reals. Printed: validation AUC and TPR@1%FPR, then AUC and the share of
validation reals flagged at the detector's threshold after each of issue 13's four perturbations,
and the training seconds.

    PYTHONPATH=src python benchmarks/detector_recipe.py --workspace . [--set epochs=16 --set width=24]

`--set KEY=VALUE` overrides `detector.cnn` (or `detector.spectrum` with `--detector spectrum`); the
values are parsed as YAML, validated by the typed config like params.yaml.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

from ganops.config.params import parse_params
from ganops.data.dataset import load_split
from ganops.detection.fakes import load_fakes
from ganops.detection.perturbations import robustness_tables
from ganops.detection.training import train_detector

PERTURBATIONS = ["blur_sigma1", "downscale_0p5", "jpeg_q50", "noise_sigma0p05"]
HOLDOUT = 0.25


def split_off(images: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out): a seeded random `fraction` of the rows held out."""
    order = rng.permutation(len(images))
    cut = int(round(len(images) * fraction))
    return images[order[cut:]], images[order[:cut]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=Path("."), help="a `make run` workspace")
    parser.add_argument("--detector", default="cnn")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="detector.<name> override")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the stages run
    raw = yaml.safe_load((args.workspace / "params.yaml").read_text())
    section = raw.setdefault("detector", {}).setdefault(args.detector, {})
    for item in args.set:
        key, _, value = item.partition("=")
        section[key] = yaml.safe_load(value)
    cfg = parse_params(raw, "params.yaml + --set")  # typed: a bad key or value stops here, named
    data, fakes_dir = args.workspace / "data/prepared", args.workspace / "data/fakes"
    rng = np.random.default_rng(args.seed)
    train_real, val_real = split_off(load_split(data, "detector_train")[0], HOLDOUT, rng)
    others = [load_split(data, s)[0] for s in cfg.detector.real_splits if s != "detector_train"]
    fit_fake, val_fake = [], []
    for images in load_fakes(fakes_dir, list(cfg.gan.variants), "train").values():
        kept, held = split_off(images, HOLDOUT, rng)
        fit_fake.append(kept)
        val_fake.append(held)
    real = np.concatenate([train_real, *others])
    trained = train_detector(args.detector, real, np.concatenate(fit_fake), cfg.detector, args.seed)
    table = robustness_tables({"d": trained}, val_real, np.concatenate(val_fake), PERTURBATIONS, args.seed)["d"]
    clean = table["clean"]
    print(f"{args.detector} {' '.join(args.set) or '(params.yaml)'}: {len(real)} reals + "
          f"{sum(map(len, fit_fake))} fakes, validation {len(val_real)} + {sum(map(len, val_fake))}")  # fmt: skip
    print(f"  clean AUC {clean['auc']:.4f}  TPR@1%FPR {clean['tpr_at_fpr_1pct']:.3f}  "
          f"reals flagged {clean['fpr_real_at_threshold']:.3f}")  # fmt: skip
    for name in PERTURBATIONS:
        row = table[name]
        print(f"  {name:<16} AUC {row['auc']:.4f}  reals flagged {row['fpr_real_at_threshold']:.3f}")
    print(f"  train {trained.meta['train_seconds']:.0f} s")


if __name__ == "__main__":
    main()
