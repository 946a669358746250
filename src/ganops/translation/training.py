"""The translation entry point of the shared loop: a DomainPair in, `training.loop.train` out.

pix2pix reads one stream of aligned pairs, {"pair": {"a", "b", "label"}}; CycleGAN two independent
streams {"a": {"image", "label"}, "b": {"image", "label"}}, each with its own seeded data order, so
it never needs (or sees) a pairing. Checkpoints, exact resume, the non-finite guard, probes and the
best-checkpoint export are the loop's (training.loop); the image pool, LR schedules and preview batch
are in the families' parts and so in every checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ganops.core.distributed import SINGLE, DistInfo
from ganops.training import loop
from ganops.translation.families import translation_family
from ganops.translation.pairs import DomainPair


def training_streams(family: str, train: DomainPair) -> dict[str, dict[str, np.ndarray]]:
    """The loop's streams for `family` from the training images (paired for pix2pix)."""
    if family == "pix2pix":
        if not train.paired:
            raise ValueError(
                "pix2pix trains on pairs, but this translation source is unpaired (name the files alike in "
                "both folders to pair them, or train only cyclegan variants)"
            )
        return {"pair": {"a": train.a, "b": train.b, "label": train.labels_a}}
    return {
        "a": {"image": train.a, "label": train.labels_a},
        "b": {"image": train.b, "label": train.labels_b},
    }


def train_translator(
    variant: str,
    cfg: Any,
    gan: Any,
    train: DomainPair,
    out_dir: Path,
    checkpoint_dir: Path,
    seed: int,
    *,
    log: Callable[[int, dict[str, float]], None] | None = None,
    stop_after: int | None = None,
    quality: Callable[[nn.Module, dict[str, Any]], dict[str, float]] | None = None,
    quality_key: str | None = None,
    dist: DistInfo = SINGLE,
) -> loop.TrainResult:
    """Train translation variant `variant` (cfg: TranslatorConfig-like, `cfg.family` names the family).

    Writes out_dir/{translator.pt, samples.png, samples/step_XXXXXX.png, losses.csv, quality.csv} and
    checkpoint_dir/last.pt; see training.loop.train for resume, probes and `stop_after`.
    """
    family = translation_family(cfg.family)
    num_classes = len(train.class_names) if (train.labels_a >= 0).all() else 0
    return loop.train(
        family, variant, cfg, gan, training_streams(cfg.family, train), out_dir, checkpoint_dir, seed,
        num_classes=num_classes, class_names=list(train.class_names), log=log, stop_after=stop_after,
        quality=quality, quality_key=quality_key, dist=dist, config_key=f"translation.variants.{variant}",
    )  # fmt: skip
