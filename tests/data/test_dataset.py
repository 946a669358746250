"""Image sources: built-in sets, folder layouts, and every kind of bad input file."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganops.config.params import DataConfig
from ganops.data.dataset import BadImageError, load_source


def save_image(path: Path, mode: str = "L", size: tuple[int, int] = (16, 16), value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = {"L": value, "RGB": (value,) * 3, "RGBA": (value,) * 3 + (255,), "CMYK": (0, 0, 0, 255 - value)}
    if mode == "P":
        Image.new("RGB", size, (value,) * 3).convert("P").save(path)
    elif mode == "I;16":
        Image.fromarray(np.full(size[::-1], value * 257, dtype=np.uint16)).save(path)
    else:
        Image.new(mode, size, color[mode]).save(path)
    return path


def folder_cfg(folder: Path, **kwargs) -> DataConfig:
    return DataConfig(source=f"folder:{folder}", image_size=kwargs.pop("image_size", 16), **kwargs)


def truncated_png(path: Path) -> Path:
    """A valid PNG header with half of the pixel data cut off (noise, so it does not compress away)."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("source", "max_images", "count", "labelled"),
    [("mnist", 100, 100, True), ("digits", None, 1797, True), ("faces", None, 200, False)],
)
def test_builtin_sources_have_the_documented_layout(source, max_images, count, labelled):
    loaded = load_source(DataConfig(source=source, max_images=max_images), Path("."))
    assert loaded.images.shape == (count, 1, 28, 28) and loaded.images.dtype == np.float32
    assert loaded.images.min() >= 0.0 and loaded.images.max() <= 1.0 and loaded.images.max() > 0.5
    assert loaded.labels.dtype == np.int64 and loaded.labels.shape == (count,)
    if labelled:
        assert loaded.class_names == [str(d) for d in range(10)] and loaded.labels.min() >= 0
    else:
        assert loaded.class_names == [] and np.all(loaded.labels == -1)


def test_capping_keeps_classes_balanced_and_is_deterministic():
    cfg = DataConfig(source="digits", max_images=100, image_size=8)
    first, again = load_source(cfg, Path(".")), load_source(cfg, Path("."))
    assert np.array_equal(first.images, again.images)
    assert np.bincount(first.labels, minlength=10).tolist() == [10] * 10
    assert first.resized_count == 0
    other = load_source(cfg, Path("."), seed=1)
    assert not np.array_equal(first.images, other.images)


def test_rgb_resize_of_a_builtin_set():
    loaded = load_source(DataConfig(source="digits", channels="rgb", image_size=12, max_images=30), Path("."))
    assert loaded.images.shape == (30, 3, 12, 12) and loaded.resized_count == 30
    assert np.array_equal(loaded.images[:, 0], loaded.images[:, 2])


def test_class_subfolders_give_sorted_class_labels(tmp_path):
    for name, count in (("dogs", 2), ("cats", 3)):
        for i in range(count):
            save_image(tmp_path / name / f"{i}.png", value=40 * i)
    (tmp_path / "README.md").write_text("my pets")
    loaded = load_source(folder_cfg(tmp_path), tmp_path)
    assert loaded.class_names == ["cats", "dogs"]
    assert sorted(loaded.labels.tolist()) == [0, 0, 0, 1, 1]
    assert loaded.images.shape == (5, 1, 16, 16) and loaded.resized_count == 0
    assert [s["path"] for s in loaded.skipped] == [str(tmp_path / "README.md")]


def test_flat_folder_relative_to_root_has_unknown_labels(tmp_path):
    for i in range(3):
        save_image(tmp_path / "raw" / f"img{i}.PNG", mode="RGB")
    loaded = load_source(DataConfig(source="folder:raw", image_size=16, channels="rgb"), tmp_path)
    assert loaded.images.shape == (3, 3, 16, 16) and loaded.class_names == []
    assert np.all(loaded.labels == -1)
    assert np.allclose(loaded.images, 128 / 255, atol=1e-6)


@pytest.mark.parametrize("kind", ["truncated", "random_bytes"])
def test_bad_image_fails_naming_the_file_or_is_skipped(tmp_path, kind):
    save_image(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    if kind == "truncated":
        truncated_png(bad)
    else:
        bad.write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(BadImageError) as info:
        load_source(folder_cfg(tmp_path, on_bad_image="fail"), tmp_path)
    message = str(info.value)
    first_line = message.splitlines()[0]
    assert "1 bad image file" in first_line and "data.on_bad_image: skip" in first_line
    assert str(bad) in message and "good.png" not in message
    loaded = load_source(folder_cfg(tmp_path, on_bad_image="skip"), tmp_path)
    assert len(loaded.images) == 1
    assert [s["path"] for s in loaded.skipped] == [str(bad)]
    expected = "corrupt or truncated" if kind == "truncated" else "not an image"
    assert expected in loaded.skipped[0]["reason"]


def test_fail_lists_every_bad_file(tmp_path):
    save_image(tmp_path / "good.png")
    (tmp_path / "notes.png").write_text("these are my notes")
    truncated_png(tmp_path / "cut.png")
    (tmp_path / "fake.jpg").write_bytes(b"\x00" * 64)
    with pytest.raises(BadImageError) as info:
        load_source(folder_cfg(tmp_path, on_bad_image="fail"), tmp_path)
    message = str(info.value)
    assert message.startswith("3 bad image file(s)")
    for name in ("notes.png", "cut.png", "fake.jpg"):
        assert str(tmp_path / name) in message


def test_non_image_extension_is_listed_as_skipped_in_both_modes(tmp_path):
    save_image(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "LICENSE").write_text("MIT")
    for mode in ("skip", "fail"):
        loaded = load_source(folder_cfg(tmp_path, on_bad_image=mode), tmp_path)
        assert len(loaded.images) == 1
        reasons = {Path(s["path"]).name: s["reason"] for s in loaded.skipped}
        assert set(reasons) == {"notes.txt", "LICENSE"}
        assert all("not an image file" in r for r in reasons.values())


def test_empty_and_missing_folders_say_what_to_put_there(tmp_path):
    (tmp_path / "empty").mkdir()
    for name, phrase in (("empty", "is empty"), ("missing", "does not exist")):
        with pytest.raises(ValueError, match=phrase) as info:
            load_source(folder_cfg(tmp_path / name), tmp_path)
        assert str(tmp_path / name) in str(info.value) and "sub-folder per class" in str(info.value)


def test_folder_with_only_non_images_or_only_bad_images_is_an_error(tmp_path):
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="no image files"):
        load_source(folder_cfg(tmp_path / "text"), tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_text("x")
    with pytest.raises(ValueError, match="every file was skipped") as info:
        load_source(folder_cfg(tmp_path / "bad", on_bad_image="skip"), tmp_path)
    assert str(tmp_path / "bad" / "a.png") in str(info.value)


def test_images_and_class_folders_mixed_is_an_error(tmp_path):
    save_image(tmp_path / "a.png")
    save_image(tmp_path / "cats" / "b.png")
    with pytest.raises(ValueError, match="either directly in it or in class sub-folders"):
        load_source(folder_cfg(tmp_path), tmp_path)


def test_class_folder_without_readable_images_is_an_error(tmp_path):
    save_image(tmp_path / "cats" / "a.png")
    (tmp_path / "dogs").mkdir()
    (tmp_path / "dogs" / "b.png").write_text("not a png")
    with pytest.raises(ValueError, match="dogs"):
        load_source(folder_cfg(tmp_path), tmp_path)


def test_mixed_sizes_are_resized_and_counted(tmp_path):
    save_image(tmp_path / "small.png", size=(8, 8), value=200)
    save_image(tmp_path / "wide.png", size=(40, 20), value=200)
    save_image(tmp_path / "exact.png", size=(16, 16), value=200)
    loaded = load_source(folder_cfg(tmp_path), tmp_path)
    assert loaded.images.shape == (3, 1, 16, 16) and loaded.resized_count == 2
    assert np.allclose(loaded.images, 200 / 255, atol=1e-3)  # flat images stay flat after resizing


@pytest.mark.parametrize(("channels", "num_channels"), [("gray", 1), ("rgb", 3)])
def test_mixed_colour_modes_are_converted(tmp_path, channels, num_channels):
    for mode in ("L", "RGB", "RGBA", "P", "CMYK", "I;16"):
        suffix = ".jpg" if mode == "CMYK" else ".png"
        save_image(tmp_path / f"{mode.replace(';', '_')}{suffix}", mode=mode, value=255)
    transparent = Image.new("RGBA", (16, 16), (255, 255, 255, 0))
    transparent.save(tmp_path / "transparent.png")
    loaded = load_source(folder_cfg(tmp_path, channels=channels), tmp_path)
    assert loaded.images.shape == (7, num_channels, 16, 16) and loaded.skipped == []
    assert loaded.images.min() >= 0.0 and loaded.images.max() <= 1.0
    # files load in sorted order: CMYK, I_16, L, P, RGB, RGBA (all white), then transparent → black
    assert np.allclose(loaded.images[:6], 1.0, atol=0.02)
    assert np.allclose(loaded.images[6], 0.0)
