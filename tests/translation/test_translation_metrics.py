"""Translation metrics on synthetic cases with known answers."""

import numpy as np
import pytest

from ganops.translation.metrics import (
    CYCLE_L1,
    DISTINCT_OUTPUT_SHARE,
    L1_TO_TARGET,
    PSNR_CAP_DB,
    PSNR_TO_TARGET,
    SPREAD_RATIO,
    SSIM_TO_TARGET,
    collapse_check,
    cycle_l1,
    label_preservation,
    paired_metrics,
)


def _coded(labels: np.ndarray) -> np.ndarray:
    """Images (N, 3, 8, 16) whose first row lights column `label`: a code the classifier below reads."""
    images = np.zeros((len(labels), 3, 8, 16), dtype=np.float32)
    images[np.arange(len(labels)), :, 0, labels] = 1.0
    return images


def _reader(images: np.ndarray) -> np.ndarray:  # logits (N, 10): the lit column of the first row
    return images[:, 0, 0, :10]


def test_label_preservation_known_answer():
    labels = np.arange(100) % 10
    translated_labels = labels.copy()
    translated_labels[:30] = (labels[:30] + 1) % 10  # 30 translations changed the digit
    translated = _coded(translated_labels)
    assert label_preservation(_reader, translated, labels, batch_size=7) == pytest.approx(0.70)
    ids = lambda x: _reader(x).argmax(1)  # noqa: E731  a classifier may also return class ids
    assert label_preservation(ids, translated, labels) == pytest.approx(0.70)
    assert label_preservation(_reader, _coded(labels), labels) == 1.0


def test_label_preservation_rejects_unknown_labels():
    with pytest.raises(ValueError, match="labels: label preservation needs known classes"):
        label_preservation(_reader, _coded(np.zeros(3, dtype=int)), np.array([0, -1, 2]))
    with pytest.raises(ValueError, match="one per translated image"):
        label_preservation(_reader, _coded(np.zeros(3, dtype=int)), np.array([0, 1]))


def test_paired_metrics_by_hand():
    target = np.random.default_rng(0).uniform(0.2, 0.8, (4, 3, 16, 16)).astype(np.float32)
    same = paired_metrics(target, target)
    assert same[L1_TO_TARGET] == 0 and same[PSNR_TO_TARGET] == PSNR_CAP_DB and same[SSIM_TO_TARGET] == pytest.approx(1)
    shifted = paired_metrics(target + 0.1, target)  # MSE 0.01 → PSNR 10·log10(1 / 0.01) = 20 dB
    assert shifted[L1_TO_TARGET] == pytest.approx(0.1, rel=1e-4)
    assert shifted[PSNR_TO_TARGET] == pytest.approx(20.0, rel=1e-4)
    assert shifted[SSIM_TO_TARGET] < 1
    with pytest.raises(ValueError, match="same shape"):
        paired_metrics(target[:, :1], target)


def test_cycle_l1_by_hand():
    a = np.zeros((2, 1, 4, 4), dtype=np.float32)
    rec = a.copy()
    rec[0] = 0.5  # half the images off by 0.5
    assert cycle_l1(rec, a) == pytest.approx(0.25)
    assert CYCLE_L1 == "cycle_l1"


def test_collapse_check():
    inputs = np.random.default_rng(0).random((30, 1, 8, 8)).astype(np.float32)
    faithful = collapse_check(inputs, inputs)
    assert faithful == {DISTINCT_OUTPUT_SHARE: 1.0, SPREAD_RATIO: pytest.approx(1.0)}
    collapsed = collapse_check(inputs, np.repeat(inputs[:1], 30, axis=0))
    assert collapsed[DISTINCT_OUTPUT_SHARE] == pytest.approx(1 / 30) and collapsed[SPREAD_RATIO] == 0
    halved = collapse_check(inputs, np.repeat(inputs, 3, axis=1) * 0.5)  # gray → colour, half the contrast
    assert halved[SPREAD_RATIO] == pytest.approx(0.5, rel=1e-5)


def test_the_probe_slice_holds_every_class_of_a_class_sorted_split():
    """The prepared splits are sorted by class: the probe's images must not be the first few classes."""
    import torch

    from ganops.translation.evaluation import TranslationProbe
    from ganops.translation.pairs import DomainPair

    labels = np.repeat(np.arange(10), 30)  # (300,) sorted, as prepare writes them
    images = np.zeros((300, 1, 8, 8), np.float32)
    held_out = DomainPair(images, images, labels, labels, paired=True)
    probe = TranslationProbe(torch.nn.Identity(), held_out, num_images=50, seed=3)
    assert np.bincount(probe.labels, minlength=10).tolist() == [5] * 10
    again = TranslationProbe(torch.nn.Identity(), held_out, num_images=50, seed=3)
    assert np.array_equal(probe.labels, again.labels) and len(probe.b) == 50
