"""Judging a translator on the test split, with the reference rows that place its numbers.

All scores use one network: a classifier trained on *real domain-B* images (the image family's
`evaluation.evaluator.train_evaluator`, trained on B by the train_translation_evaluator stage).

- label preservation: its accuracy on translated test A images, beside the ceiling (its accuracy on
  real test B images) and the floor (on the untranslated A images, channels matched to B);
- FID / KID in its features between translated A and real test B images, beside the floor (two
  disjoint real B splits: detector_train vs test) and the "did nothing" row (untranslated A vs B);
- paired sources: L1 / PSNR / SSIM against the true B image (metrics.paired_metrics), beside the
  untranslated A and, where the pair has one, the best possible predictor (see `oracles`);
- translators with both directions (CycleGAN): cycle-reconstruction L1 both ways and the collapse check.

Keys are the constants below, used unchanged in metrics/translation/VARIANT.json, MLflow and the registry.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ganops.data.dataset import cap_indices
from ganops.evaluation.metrics import compute_features, fid_from_features, kid_from_features
from ganops.translation import metrics as M
from ganops.translation.pairs import DomainPair
from ganops.translation.translator_io import a2b_generator, translate

LABEL_PRESERVATION = M.LABEL_PRESERVATION
LABEL_CEILING = "label_preservation_ceiling_real_b"  # the classifier on real test B images
LABEL_FLOOR = "label_preservation_floor_untranslated_a"  # on the untranslated A images
PROBE_KEY = "label_preservation_probe"  # per checkpoint, on a detector_train A slice (picks the export)
PROBE_FID_KEY = "fid_probe_domain_b"  # the probe's key for unlabelled sources (lower is better)
FID = "fid_domain_b"  # translated test A vs real test B, in the B classifier's features
KID, KID_STD = "kid_domain_b", "kid_std_domain_b"
FID_FLOOR = "fid_domain_b_floor_real_b"  # real detector_train B vs real test B
KID_FLOOR = "kid_domain_b_floor_real_b"
FID_UNTRANSLATED = "fid_domain_b_untranslated_a"  # the "did nothing" row
KID_UNTRANSLATED = "kid_domain_b_untranslated_a"
CYCLE_L1_B = "cycle_l1_b"  # |G_ab(G_ba(b)) − b| per pixel
UNTRANSLATED_SUFFIX = "_untranslated_a"  # paired metrics of the untranslated A images
BEST_POSSIBLE_SUFFIX = "_best_possible"  # paired metrics of the best predictor the pair allows
NUM_TEST = "num_test_images"


def match_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """(N, C, H, W) → (N, channels, H, W): gray repeated to RGB, RGB averaged to gray (the "did nothing" map)."""
    if images.shape[1] == channels:
        return images
    if images.shape[1] == 1:
        return np.repeat(images, channels, axis=1)
    if channels == 1:
        return images.mean(axis=1, keepdims=True, dtype=np.float32)
    raise ValueError(f"cannot map {images.shape[1]}-channel images to {channels} channels")


def classifier(net: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """images (N, C, H, W) in [0, 1] → logits (N, K) of the domain-B classifier."""
    return lambda images: compute_features(net, np.ascontiguousarray(images, dtype=np.float32))[1]


def _fid_kid(net: nn.Module, real: np.ndarray, other: np.ndarray, subsets: int, size: int, seed: int):
    f_real = compute_features(net, real, name="real B images")[0]
    f_other = compute_features(net, np.ascontiguousarray(other, dtype=np.float32), name="compared images")[0]
    kid, kid_std = kid_from_features(f_real, f_other, subsets, size, seed)
    return fid_from_features(f_real, f_other), kid, kid_std


def reference_rows(net: nn.Module, test: DomainPair, other_b: np.ndarray, subsets: int, size: int,
                   seed: int) -> dict[str, float]:  # fmt: skip
    """Ceiling / floor / did-nothing rows: where a translator can sit on these test images."""
    classify = classifier(net)
    untranslated = match_channels(test.a, test.b.shape[1])
    fid_floor, kid_floor, _ = _fid_kid(net, test.b, other_b, subsets, size, seed)
    fid_nothing, kid_nothing, _ = _fid_kid(net, test.b, untranslated, subsets, size, seed)
    rows = {
        FID_FLOOR: fid_floor,
        KID_FLOOR: kid_floor,
        FID_UNTRANSLATED: fid_nothing,
        KID_UNTRANSLATED: kid_nothing,
    }
    if (test.labels_a >= 0).all() and (test.labels_b >= 0).all():
        rows[LABEL_CEILING] = M.label_preservation(classify, test.b, test.labels_b)
        rows[LABEL_FLOOR] = M.label_preservation(classify, untranslated, test.labels_a)
    if test.paired:
        rows.update({k + UNTRANSLATED_SUFFIX: v for k, v in M.paired_metrics(untranslated, test.b).items()})
    return rows


def evaluate_translation(
    generators: dict[str, nn.Module], net: nn.Module, test: DomainPair, other_b: np.ndarray, *,
    subsets: int, subset_size: int, seed: int, best_possible: np.ndarray | None = None, device: str = "cpu",
) -> dict[str, float]:  # fmt: skip
    """Every metric of one translator on the test split (see the module docstring).

    generators: {"a2b": G[, "b2a": F]} (translator_io.load_translator); other_b: a second real B split
    (N', Cb, H, W) for the FID floor; best_possible: the best predictor's B images for test.a, if any.
    """
    fake_b = translate(generators["a2b"], test.a, device=device)  # (N, Cb, H, W)
    if fake_b.shape[1:] != test.b.shape[1:]:
        raise ValueError(f"translator makes {fake_b.shape[1:]} images but the test B images are {test.b.shape[1:]}")
    fid, kid, kid_std = _fid_kid(net, test.b, fake_b, subsets, subset_size, seed)
    metrics = {FID: fid, KID: kid, KID_STD: kid_std, NUM_TEST: float(len(test.a))}
    metrics.update(reference_rows(net, test, other_b, subsets, subset_size, seed))
    if (test.labels_a >= 0).all():
        metrics[LABEL_PRESERVATION] = M.label_preservation(classifier(net), fake_b, test.labels_a)
    if test.paired:
        metrics.update(M.paired_metrics(fake_b, test.b))
        if best_possible is not None:
            metrics.update({k + BEST_POSSIBLE_SUFFIX: v for k, v in M.paired_metrics(best_possible, test.b).items()})
    if "b2a" in generators:
        back_a = translate(generators["b2a"], fake_b, device=device)
        fake_a = translate(generators["b2a"], test.b, device=device)
        metrics[M.CYCLE_L1] = M.cycle_l1(back_a, test.a)
        metrics[CYCLE_L1_B] = M.cycle_l1(translate(generators["a2b"], fake_a, device=device), test.b)
    metrics.update(M.collapse_check(test.a, fake_b, seed=seed))
    return {k: float(v) for k, v in metrics.items()}


class TranslationProbe:
    """The per-checkpoint quality probe of train_translator: label preservation (or FID when the source
    has no labels) of the A → B generator on a fixed slice of held-out (detector_train) images.

    Touches no global RNG: the generator runs in eval mode under no_grad, the classifier is deterministic.
    """

    def __init__(self, net: nn.Module, held_out: DomainPair, num_images: int, seed: int, device: str = "cpu") -> None:
        # A seeded, class-stratified slice: the prepared splits are sorted by class, so their first
        # `num_images` held only the first few digits (300 images: classes 0-2), and the probe scored
        # checkpoints far above what the test split then measured.
        pick_a = cap_indices(held_out.labels_a, min(num_images, len(held_out.a)), seed)
        pick_b = cap_indices(held_out.labels_b, min(num_images, len(held_out.b)), seed)
        self.net, self.device = net, device
        self.a, self.labels = held_out.a[pick_a], held_out.labels_a[pick_a]
        self.b = held_out.b[pick_b]
        self.labelled = bool((self.labels >= 0).all())
        self.key = PROBE_KEY if self.labelled else PROBE_FID_KEY
        self._features_b = None if self.labelled else compute_features(net, self.b)[0]

    @torch.no_grad()
    def __call__(self, model: nn.Module, meta: dict) -> dict[str, float]:
        fake_b = translate(a2b_generator(model), self.a)
        if self.labelled:
            return {self.key: M.label_preservation(classifier(self.net), fake_b, self.labels)}
        return {self.key: fid_from_features(self._features_b, compute_features(self.net, fake_b)[0])}
