"""prepare_translation: three disjoint splits, CycleGAN's unpaired view, folder sources and their errors."""

import json

import numpy as np
import pytest
from PIL import Image

from ganops.config.params import TranslationConfig
from ganops.translation.prepared import UNPAIRED_TRAIN, VIEWS, load_translation_split, prepare_translation


def _rows(images: np.ndarray) -> set[bytes]:
    return {image.tobytes() for image in images}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("tr") / "data"
    manifest = prepare_translation(TranslationConfig(max_images=300), 0, out, out.parent)
    return out, manifest


def test_splits_are_disjoint_paired_and_hashed(prepared):
    out, manifest = prepared
    assert manifest["paired"] and manifest["shape_a"] == [1, 28, 28] and manifest["shape_b"] == [3, 28, 28]
    splits = {name: load_translation_split(out, name) for name in ("gan_train", "detector_train", "test")}
    assert sum(len(p.a) for p in splits.values()) == 300
    for name, split in splits.items():
        assert split.paired and len(split.a) == len(split.b) and split.b.dtype == np.float32
        assert split.b.min() >= 0 and split.b.max() <= 1
        for other, split2 in splits.items():
            if other != name:
                assert not _rows(split.a) & _rows(split2.a), (name, other)
    assert set(json.loads((out / "manifest.json").read_text())["sha256"]) == {
        f"{v}_{k}.npy" for v in VIEWS for k in ("a", "a_labels", "b", "b_labels")
    }


def test_cyclegan_view_never_holds_both_sides_of_a_pair(prepared):
    out, _ = prepared
    train, view = load_translation_split(out, "gan_train"), load_translation_split(out, UNPAIRED_TRAIN)
    assert not view.paired and len(view.a) + len(view.b) == len(train.a)
    partner = {a.tobytes(): b.tobytes() for a, b in zip(train.a, train.b, strict=True)}
    partners_of_view_a = {partner[a.tobytes()] for a in view.a}
    assert not partners_of_view_a & _rows(view.b)
    assert set(np.unique(view.labels_a)) == set(np.unique(view.labels_b)) == set(range(10))


def test_a_changed_array_is_refused(prepared, tmp_path):
    out, _ = prepared
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in out.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    np.save(copy / "test_b.npy", np.zeros((1, 3, 28, 28), np.float32))
    with pytest.raises(ValueError, match="test_b.npy: sha256 does not match"):
        load_translation_split(copy, "test")


def _write(folder, names, size=(12, 12), mode="RGB"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(names))
    for name in names:
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).convert(mode).save(folder / name)


def _folder_cfg(**extra):
    split = {"gan_train": 0.5, "detector_train": 0.25, "test": 0.25}
    return TranslationConfig(source="folder:A,folder:B", image_size=8, split=split, channels_a="gray", **extra)


def test_folders_with_matching_names_are_paired(tmp_path):
    _write(tmp_path / "A", [f"{i:02d}.png" for i in range(12)])
    _write(tmp_path / "B", [f"{i:02d}.jpg" for i in range(12)])
    (tmp_path / "B" / "05.jpg").write_bytes(b"not an image")  # skipped, and its partner with it
    manifest = prepare_translation(_folder_cfg(), 0, tmp_path / "out", tmp_path)
    assert manifest["paired"] and manifest["shape_a"] == [1, 8, 8] and manifest["shape_b"] == [3, 8, 8]
    assert sum(c["a"] for name, c in manifest["counts"].items() if name != UNPAIRED_TRAIN) == 11
    assert [s["path"].endswith("05.png") for s in manifest["skipped_pairs"]] == [True]
    assert manifest["skipped_b"][0]["path"].endswith("05.jpg")


def test_folders_without_common_names_are_unpaired(tmp_path):
    _write(tmp_path / "A", [f"a{i}.png" for i in range(8)])
    _write(tmp_path / "B", [f"b{i}.png" for i in range(12)])
    manifest = prepare_translation(_folder_cfg(), 0, tmp_path / "out", tmp_path)
    assert not manifest["paired"] and manifest["counts"]["gan_train"] == {"a": 4, "b": 6}
    assert manifest["counts"][UNPAIRED_TRAIN] == manifest["counts"]["gan_train"]


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda t: (_write(t / "A", ["1.png", "2.png", "3.png"]), _write(t / "B", ["1.png", "2.png", "x.png"])),
         "2 file names appear in both folders but 2 do not"),
        (lambda t: (_write(t / "A", ["1.png", "2.png"], size=(12, 12)), _write(t / "B", ["1.png", "2.png"], size=(16, 12))),  # noqa: E501
         "is 12x12 but its partner"),
        (lambda t: (_write(t / "A", ["1.png"]), (t / "B").mkdir()), "domain B folder"),
        (lambda t: _write(t / "B", ["1.png"]), "domain A folder"),
    ],
)  # fmt: skip
def test_folder_errors_are_one_line_and_name_the_problem(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(ValueError) as info:
        prepare_translation(_folder_cfg(), 0, tmp_path / "out", tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()
