"""Splits (determinism, leakage, stratification), the prepared layout, hashes and atomic replacement."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganops.config.params import DataConfig, SplitConfig
from ganops.data.dataset import BadImageError, dataset_hash, load_manifest, load_split
from ganops.data.prepare import split_indices

SPLITS = ("gan_train", "detector_train", "test")


def image_folder(folder: Path, per_class: dict[str, int], size: int = 12) -> Path:
    rng = np.random.default_rng(0)
    for name, count in per_class.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 255, (size, size), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{i}.png")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_split_is_deterministic_disjoint_covering_and_stratified():
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    fractions = SplitConfig(gan_train=0.6, detector_train=0.2, test=0.2)
    splits = split_indices(labels, fractions, seed=3)
    again = split_indices(labels, fractions, seed=3)
    other = split_indices(labels, fractions, seed=4)
    assert all(np.array_equal(splits[k], again[k]) for k in SPLITS)
    assert not all(np.array_equal(splits[k], other[k]) for k in SPLITS)
    joined = np.concatenate([splits[k] for k in SPLITS])
    assert len(joined) == len(labels) and np.array_equal(np.sort(joined), np.arange(len(labels)))
    assert [len(splits[k]) for k in SPLITS] == [60, 20, 20]
    for name in SPLITS:
        share = getattr(fractions, name)
        counts = np.bincount(labels[splits[name]], minlength=4)
        expected = share * np.bincount(labels)
        assert np.all(np.abs(counts - expected) <= 1.5), (name, counts, expected)


def test_split_of_unknown_labels_and_empty_split_error():
    splits = split_indices(np.full(30, -1), SplitConfig(), seed=0)
    assert [len(splits[k]) for k in SPLITS] == [18, 6, 6]
    tiny = SplitConfig(gan_train=0.98, detector_train=0.01, test=0.01)
    with pytest.raises(ValueError, match=r"data\.split\.(test|detector_train).*data\.max_images"):
        split_indices(np.zeros(30, dtype=np.int64), tiny, seed=0)


def test_prepare_writes_the_documented_layout_with_matching_hashes(tmp_path):
    from ganops.data.prepare import prepare_dataset

    folder = image_folder(tmp_path / "raw", {"a": 20, "b": 10})
    (folder / "a" / "broken.png").write_text("not an image")
    cfg = DataConfig(source="folder:raw", image_size=16, channels="rgb")
    manifest = prepare_dataset(cfg, 0, tmp_path / "prepared", tmp_path)
    out = tmp_path / "prepared"
    assert manifest == load_manifest(out) == json.loads((out / "manifest.json").read_text())
    assert manifest["layout"] == "NCHW float32 in [0, 1]" and manifest["class_names"] == ["a", "b"]
    assert manifest["counts"] == {"gan_train": 18, "detector_train": 6, "test": 6}
    assert manifest["class_histogram"]["gan_train"] == {"a": 12, "b": 6}
    assert manifest["skipped_count"] == 1 and manifest["skipped"][0]["path"].endswith("broken.png")
    assert manifest["resized_count"] == 30 and manifest["seed"] == 0
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    for split in SPLITS:
        images, labels = load_split(out, split)
        assert images.shape == (manifest["counts"][split], 3, 16, 16) and images.dtype == np.float32
        assert labels.dtype == np.int64 and images.min() >= 0 and images.max() <= 1
    assert len(dataset_hash(manifest)) == 64


def test_prepare_of_a_builtin_set_and_hash_depends_on_data(tmp_path):
    from ganops.data.prepare import prepare_dataset

    first = prepare_dataset(DataConfig(source="digits", max_images=60), 0, tmp_path / "a", tmp_path)
    same = prepare_dataset(DataConfig(source="digits", max_images=60), 0, tmp_path / "b", tmp_path)
    other = prepare_dataset(DataConfig(source="digits", max_images=60), 1, tmp_path / "c", tmp_path)
    assert dataset_hash(first) == dataset_hash(same) != dataset_hash(other)
    assert first["counts"] == {"gan_train": 36, "detector_train": 12, "test": 12}
    test_hist = first["class_histogram"]["test"]  # 12 images over 10 classes: stratified → 1 or 2 each
    assert sum(test_hist.values()) == 12 and set(test_hist.values()) <= {1, 2} and len(test_hist) == 10


def test_failed_prepare_leaves_the_previous_output_untouched(tmp_path, monkeypatch):
    from ganops.data import prepare

    image_folder(tmp_path / "good", {"x": 30})
    out = tmp_path / "prepared"
    prepare.prepare_dataset(DataConfig(source="folder:good", image_size=12), 0, out, tmp_path)
    before = snapshot(out)

    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(3):
        (bad / f"{i}.png").write_bytes(b"junk")
    for mode, error in (("skip", ValueError), ("fail", BadImageError)):
        with pytest.raises(error):
            prepare.prepare_dataset(DataConfig(source="folder:bad", on_bad_image=mode), 0, out, tmp_path)
        assert snapshot(out) == before

    calls = []

    def save_then_crash(path, array, allow_pickle):  # fails after the first array is written
        calls.append(path)
        if len(calls) > 1:
            raise OSError("disk full")
        with open(path, "wb") as fh:
            np.lib.format.write_array(fh, array, allow_pickle=allow_pickle)

    monkeypatch.setattr(prepare.np, "save", save_then_crash)
    with pytest.raises(OSError, match="disk full"):
        prepare.prepare_dataset(DataConfig(source="folder:good", image_size=16), 1, out, tmp_path)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "good", "prepared"]  # no temp left


def test_load_split_reports_missing_and_edited_files(tmp_path):
    from ganops.data.prepare import prepare_dataset

    image_folder(tmp_path / "raw", {"x": 30})
    out = tmp_path / "prepared"
    with pytest.raises(FileNotFoundError, match="dvc repro prepare"):
        load_split(out, "test")
    prepare_dataset(DataConfig(source="folder:raw", image_size=12), 0, out, tmp_path)
    with pytest.raises(ValueError, match="unknown split"):
        load_split(out, "train")
    images, labels = load_split(out, "test")
    np.save(out / "test_images.npy", images * 0.5)
    with pytest.raises(ValueError, match="sha256 does not match") as info:
        load_split(out, "test")
    assert "test_images.npy" in str(info.value)
    (out / "gan_train_labels.npy").unlink()
    with pytest.raises(FileNotFoundError, match="gan_train_labels.npy.*dvc repro prepare"):
        load_split(out, "gan_train")
