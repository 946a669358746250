"""Scanning user files: folders expanded, bad files reported per row, scores as for arrays."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from ganops.config.params import DetectorConfig
from ganops.data.images import expand_paths
from ganops.data.images import read_for_model as read_image
from ganops.detection.perturbations import checkerboard_fakes
from ganops.detection.scan import ERROR, FAKE, REAL, scan_paths, scan_summary, write_scan_csv
from ganops.detection.training import train_detector


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    from skimage.transform import resize
    from sklearn.datasets import load_digits

    digits = load_digits().images[:240] / 16.0  # (N, 8, 8)
    up = resize(digits, (len(digits), 28, 28), order=1, anti_aliasing=False)
    return (np.round(np.clip(up, 0, 1) * 255) / 255).astype(np.float32)[:, None]  # (N, 1, 28, 28), k/255


@pytest.fixture(scope="module")
def detector(images):
    cfg = DetectorConfig(bootstrap_resamples=0, threshold_perturbations=[])  # scan reads; the rule is tested elsewhere
    return train_detector("spectrum", images[:100], checkerboard_fakes(images[100:200], seed=1), cfg, seed=0)


def _save_png(image: np.ndarray, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(image[0] * 255).astype(np.uint8)).save(path)


def test_scan_folder_scores_like_arrays_and_reports_bad_files(images, detector, tmp_path):
    real, fake = images[200:206], checkerboard_fakes(images[206:212], seed=3)
    for i, image in enumerate(real):
        _save_png(image, tmp_path / "in" / "real" / f"r{i}.png")
    for i, image in enumerate(fake):
        _save_png(image, tmp_path / "in" / "nested" / "deeper" / f"f{i}.png")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "in" / "notes.txt").write_text("not an image: ignored in folders")

    missing = tmp_path / "gone.png"
    rows = scan_paths([tmp_path / "in", missing], detector, batch_size=4, progress=False)

    by_name = {row["path"].rsplit("/", 1)[-1]: row for row in rows}
    assert len(rows) == 14 and "notes.txt" not in by_name
    for name in ("broken.png", "gone.png"):
        assert by_name[name]["verdict"] == ERROR and by_name[name]["p_fake"] is None
        assert name in by_name[name]["error"]
    reread = np.stack([read_image(tmp_path / "in" / "real" / f"r{i}.png", (1, 28, 28)) for i in range(6)])
    np.testing.assert_array_equal(reread, real)
    expected = detector.score(real)
    got = np.array([by_name[f"r{i}.png"]["p_fake"] for i in range(6)])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    for row in rows:
        if row["verdict"] != ERROR:
            assert row["verdict"] == (FAKE if row["p_fake"] >= detector.threshold else REAL)
    assert scan_summary(rows)[ERROR] == 2 and scan_summary(rows)["total"] == 14
    assert sum(by_name[f"f{i}.png"]["verdict"] == FAKE for i in range(6)) >= 5


def test_scan_threshold_override_and_validation(images, detector, tmp_path):
    _save_png(images[0], tmp_path / "a.png")
    rows = scan_paths([tmp_path / "a.png"], detector, threshold=0.0, progress=False)
    assert rows[0]["verdict"] == FAKE
    with pytest.raises(ValueError, match="threshold"):
        scan_paths([tmp_path / "a.png"], detector, threshold=5.0, progress=False)


def test_read_image_converts_mode_and_size_like_prepare(tmp_path):
    rgb = np.zeros((56, 40, 3), np.uint8)
    rgb[:, :20] = (255, 255, 255)
    Image.fromarray(rgb).save(tmp_path / "wide.png")
    gray = read_image(tmp_path / "wide.png", (1, 28, 28))
    assert gray.shape == (1, 28, 28) and gray.dtype == np.float32
    assert gray.min() >= 0 and gray.max() <= 1
    assert gray[0, :, :5].mean() > 0.95 and gray[0, :, -5:].mean() < 0.05  # left white, right black
    color = read_image(tmp_path / "wide.png", (3, 16, 16))
    assert color.shape == (3, 16, 16)
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ValueError, match="bad.jpg: not an image"):
        read_image(tmp_path / "bad.jpg", (1, 28, 28))


def test_expand_paths_recurses_sorted_and_keeps_missing(tmp_path):
    for name in ("b/2.PNG", "a/1.jpg", "a/deep/3.webp", "a/skip.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    files = expand_paths([tmp_path, tmp_path / "missing.png"])
    rel = [str(p.relative_to(tmp_path)) for p in files]
    assert rel == ["a/1.jpg", "a/deep/3.webp", "b/2.PNG", "missing.png"]


def test_write_scan_csv_leaves_error_scores_empty(tmp_path):
    rows = [
        {"path": "x.png", "p_fake": 0.25, "verdict": REAL, "error": ""},
        {"path": "y.png", "p_fake": None, "verdict": ERROR, "error": "y.png: not a readable image"},
    ]
    write_scan_csv(rows, tmp_path / "out" / "scan.csv")
    with open(tmp_path / "out" / "scan.csv", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == ["path", "p_fake", "verdict", "error"]
    assert read[0]["p_fake"] == "0.25" and read[1]["p_fake"] == "" and read[1]["verdict"] == ERROR
