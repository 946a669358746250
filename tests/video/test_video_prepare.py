"""prepare_video's library: three disjoint splits with a manifest, folder videos split by file, bad files named."""

import json

import numpy as np
import pytest

from ganops.config.params import ConfigError, parse_params
from ganops.video.prepare import BadVideoError, load_clips, prepare_clips
from ganops.video.video_io import save_gif_grid, save_mp4


def _video_cfg(**video):
    return parse_params({"video": video}).video


def test_moving_digits_splits_hold_every_digit_and_are_hash_checked(tmp_path):
    cfg = _video_cfg(num_clips=300, frames=8, size=16, moving_digits={"digit_size": 8})
    manifest = prepare_clips(cfg, 0, tmp_path / "video", tmp_path)
    assert manifest["counts"] == {"gan_train": 180, "detector_train": 60, "test": 60}
    assert manifest["clip_shape"] == [8, 1, 16, 16] and manifest["heads"] == {"digits": 10, "directions": 8}
    for split in manifest["counts"]:
        got = load_clips(tmp_path / "video", split)
        assert got.clips.dtype == np.float32 and got.clips.min() >= 0 and got.clips.max() <= 1
        assert (got.labels == got.extra["digits"][:, 0]).all()
        assert len(np.unique(got.labels)) == 10  # stratified pools: no split misses a digit
    np.save(tmp_path / "video/test_labels.npy", np.zeros(60, np.int64))
    with pytest.raises(ValueError, match="test_labels.npy: missing or changed"):
        load_clips(tmp_path / "video", "test")
    again = prepare_clips(cfg, 0, tmp_path / "again", tmp_path)
    assert again["sha256"] == manifest["sha256"]  # seeded: the same clips byte for byte


def _write_videos(folder, count, frames=8):
    rng = np.random.default_rng(0)
    for k in range(count):
        clip = rng.random((1, frames, 1, 16, 16)).astype(np.float32)
        (save_gif_grid if k % 2 else save_mp4)(folder / f"v{k}.{'gif' if k % 2 else 'mp4'}", clip, nrow=1)


def test_folder_source_splits_by_video_and_names_bad_files(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    _write_videos(raw, 6, frames=16)
    (raw / "notes.txt").write_text("not a video")
    (raw / "broken.mp4").write_bytes(b"\x00" * 100)
    save_gif_grid(raw / "short.gif", np.random.default_rng(1).random((1, 3, 1, 16, 16)), nrow=1)
    cfg = _video_cfg(source="folder:raw", frames=8, size=16)
    manifest = prepare_clips(cfg, 0, tmp_path / "video", tmp_path)
    assert sum(manifest["counts"].values()) == 12 and min(manifest["counts"].values()) >= 2  # 2 clips a video
    reasons = {item["path"].split("/")[-1]: item["reason"] for item in manifest["skipped"]}
    assert reasons["short.gif"].startswith("too short: 3 frames")
    assert reasons["broken.mp4"].startswith("unreadable")
    assert reasons["notes.txt"].startswith("not a video file")
    assert json.loads((tmp_path / "video/manifest.json").read_text())["heads"] == {}  # no class folders
    with pytest.raises(BadVideoError, match="2 bad video file") as error:
        prepare_clips(
            _video_cfg(source="folder:raw", frames=8, size=16, on_bad_video="fail"), 0, tmp_path / "x", tmp_path
        )
    assert "broken.mp4" in str(error.value) and "short.gif" in str(error.value)


def test_too_few_videos_and_bad_params_are_one_line_errors(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    _write_videos(raw, 2)
    with pytest.raises(ValueError, match="2 readable video"):
        prepare_clips(_video_cfg(source="folder:raw", frames=8, size=16), 0, tmp_path / "video", tmp_path)
    bad = {
        "video.size: must be a power of two": {"size": 48},
        "conditional: clips with 2 digits have no single class label": {
            "moving_digits": {"num_digits": 2}, "variants": {"m": {"conditional": True}}},
        "video.source: must be moving_digits or folder": {"source": "youtube"},
        "unknown key 'video.varients'": {"varients": {}},
    }  # fmt: skip
    for message, video in bad.items():
        with pytest.raises(ConfigError, match=message) as error:
            parse_params({"video": video})
        assert "\n" not in str(error.value)
    two = parse_params({"video": {"moving_digits": {"num_digits": 2}, "variants": {"m": {"conditional": "auto"}}}})
    assert two.video.variants["m"].conditional == "auto"  # resolved on the clips' labels by train_video
