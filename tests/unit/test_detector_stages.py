"""Detector stage helpers, the report and the pyfunc model's input contract, without DVC or a server."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from PIL import Image

from ganops.config.params import DetectorConfig
from ganops.detection.perturbations import checkerboard_fakes
from ganops.detection.report import report_markdown, target_rows
from ganops.detection.training import train_detector
from ganops.stages.generate_fakes import fake_counts, fake_seed, on_8bit_grid
from ganops.stages.register_detector import best_detector


def test_fake_counts_follow_the_real_split_proportion():
    assert fake_counts(2000, 1000, 1000) == (1000, 1000)
    assert fake_counts(120, 90, 30) == (90, 30)
    assert fake_counts(20, 1000, 1) == (19, 1)  # both parts keep at least one image
    assert sum(fake_counts(333, 7, 5)) == 333


def test_fake_seeds_are_distinct_and_stable():
    seeds = {fake_seed(0, v, p) for v in ("dcgan", "wgan_gp") for p in ("train", "test")}
    assert len(seeds) == 4
    assert fake_seed(0, "dcgan", "train") == fake_seed(0, "dcgan", "train") != fake_seed(1, "dcgan", "train")


def test_8bit_grid_detection():
    k = np.random.default_rng(0).integers(0, 256, size=(4, 1, 8, 8))
    assert on_8bit_grid((k / 255.0).astype(np.float32))
    assert not on_8bit_grid((k / 255.0 + 0.001).astype(np.float32))


def _details(leak: bool, auc: float) -> dict:
    test = {
        "auc": auc,
        "average_precision": auc,
        "tpr_at_fpr_1pct": 0.995,
        "tpr_at_fpr_0p1pct": 0.9,
        "balanced_accuracy": 0.99,
        "fpr_real_at_threshold": 0.02,
        "tpr_fake_at_threshold": 0.99,
        "brier": 0.01,
        "ece_15bin": 0.02,
        "threshold": 0.7,
        "num_real": 500.0,
        "num_fake": 1500.0,
    }
    leakage = {"leak_auc": 0.9 if leak else 0.5, "leak_warning": leak}
    summary = {"auc": auc, "tpr_at_fpr_1pct": 0.9, "tpr_fake_at_threshold": 0.8, "fpr_real_at_threshold": 0.0}
    return {
        "detectors": ["spectrum"],
        "generators": ["a", "b"],
        "leakage": {"train": leakage, "test": leakage, "per_generator": {"a": leakage}},
        "spectrum": {
            "test": test,
            "per_generator": {"a": summary, "b": summary},
            "leave_one_out": {"a": summary, "b": summary},
            "leave_one_out_mean_auc": auc,
            "robustness": {"clean": summary, "jpeg_q75": {**summary, "auc": 0.9}},
        },
    }


def test_report_states_targets_and_shouts_leakage():
    quiet = report_markdown(_details(leak=False, auc=0.9995), warn_auc=0.75)
    loud = report_markdown(_details(leak=True, auc=0.9995), warn_auc=0.75)
    assert "WARNING" not in quiet and "WARNING: the leakage check fired" in loud
    met = {row["target"]: row["met"] for row in target_rows(_details(False, 0.9995))}
    assert met["Same generators: AUC"] is True
    assert met["JPEG q75: AUC"] is False  # 0.9 < 0.95
    assert met["Real test images flagged at the threshold"] is False  # 0.02 > 0.01
    assert "| JPEG q75: AUC | spectrum | >= 0.95 | 0.9000 | **NO** |" in quiet
    assert "**0.9000**" in quiet  # robustness cell below 0.95 is bold


def test_best_detector_by_tpr_then_auc():
    metrics = {
        "spectrum": {"test": {"tpr_at_fpr_1pct": 0.9, "auc": 0.99}},
        "cnn": {"test": {"tpr_at_fpr_1pct": 0.9, "auc": 0.999}},
    }
    assert best_detector(metrics, ["spectrum", "cnn"]) == "cnn"
    with pytest.raises(ValueError, match="evaluate_detector"):
        best_detector(metrics, ["spectrum", "other"])


@pytest.fixture(scope="module")
def uploads(tmp_path_factory):
    return tmp_path_factory.mktemp("uploads")  # the one folder the `path` input may read from


@pytest.fixture(scope="module")
def model(uploads):
    from ganops.tracking.detector_pyfunc import DetectorModel
    from ganops.tracking.serving_limits import PATH_ROOT_ENV, ServingLimits

    rng = np.random.default_rng(0)
    real = (np.round(rng.random((60, 1, 16, 16)) * 127) / 255).astype(np.float32)  # (N, 1, 16, 16)
    cfg = DetectorConfig(bootstrap_resamples=0)
    wrapped = DetectorModel()
    wrapped.limits = ServingLimits.from_env({PATH_ROOT_ENV: str(uploads)})
    wrapped.detector = train_detector("spectrum", real[:40], checkerboard_fakes(real[20:60], seed=1), cfg, 0)
    return wrapped


def test_pyfunc_scores_arrays_and_paths_alike(model, uploads):
    images = checkerboard_fakes(np.full((3, 1, 16, 16), 0.5, np.float32), seed=2)
    images = (np.round(images * 255) / 255).astype(np.float32)
    paths = []
    for i, image in enumerate(images):
        paths.append(uploads / f"{i}.png")
        Image.fromarray(np.round(image[0] * 255).astype(np.uint8)).save(paths[-1])
    by_array = model.predict(None, images)
    by_hw = model.predict(None, images[:, 0].tolist())  # nested lists, (N, H, W)
    by_path = model.predict(None, pd.DataFrame({"path": [str(p) for p in paths]}))
    assert list(by_array.columns) == ["p_fake", "verdict"] and len(by_array) == 3
    np.testing.assert_allclose(by_hw["p_fake"], by_array["p_fake"])
    np.testing.assert_allclose(by_path["p_fake"], by_array["p_fake"])
    assert (by_array["verdict"] == np.where(by_array["p_fake"] >= model.detector.threshold, "fake", "real")).all()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((2, 3, 16, 16), np.float32), r"\(N, 16, 16\) or \(N, 1, 16, 16\)"),
        (np.full((2, 16, 16), 255.0), r"values in \[0, 1\].*divide 8-bit pixels by 255"),
        (np.zeros((2, 16, 16), np.int64), "expected float array"),
        (np.full((1, 16, 16), np.nan), "NaN"),
        ([[0.1, 0.2], [0.3]], "ragged"),
        (pd.DataFrame({"pixels": [0.5]}), "`path` column"),
        (pd.DataFrame({"path": ["/no/such.png"]}), r"1 of 1 file\(s\) unreadable: /no/such.png"),
        ({"images": np.zeros((1, 16, 16))}, "named inputs"),
    ],
    ids=["channels", "range", "int", "nan", "ragged", "no-path", "missing-file", "dict"],
)
def test_pyfunc_rejects_malformed_input_as_invalid_parameter(model, bad, message):
    with pytest.raises(MlflowException, match=message) as info:
        model.predict(None, bad)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.get_http_status_code() == 400
