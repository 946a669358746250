"""The video reader on GIFs and MP4s the test writes itself, the folder scan's skip list, the writers."""

import os

import numpy as np
import pytest

from ganops.video.video_io import (
    VideoReadError,
    clip_grid,
    read_video,
    read_video_folder,
    save_gif_grid,
    save_mp4,
)


def _moving_square(frames=12, size=32, channels=1):
    """A bright square gliding right over a dark, smooth background: easy for lossy codecs."""
    clip = np.full((frames, channels, size, size), 0.1, dtype=np.float32)
    for t in range(frames):
        clip[t, :, 8:20, 2 + t : 14 + t] = 0.9
    return clip[None]  # (1, T, C, H, W)


def test_gif_round_trip_is_exact_for_gray(tmp_path):
    clip = _moving_square()
    save_gif_grid(tmp_path / "a.gif", clip, nrow=1)  # grid: 2 px padding around the one clip
    clips = read_video(tmp_path / "a.gif", frames=6, size=36)
    assert clips.shape == (2, 6, 1, 36, 36) and clips.dtype == np.float32
    np.testing.assert_allclose(clips.reshape(12, 1, 36, 36)[:, :, 2:34, 2:34], np.round(clip[0] * 255) / 255, atol=1e-6)


def test_mp4_round_trip_close_and_resized(tmp_path):
    clip = _moving_square(frames=8, size=32, channels=3)
    save_mp4(tmp_path / "a.mp4", clip, nrow=1)
    back = read_video(tmp_path / "a.mp4", frames=8, size=36, channels="rgb")
    assert back.shape == (1, 8, 3, 36, 36)
    assert np.abs(back[0, :, :, 2:34, 2:34] - clip[0]).mean() < 0.03  # H.264 is lossy
    small = read_video(tmp_path / "a.mp4", frames=4, size=16, channels="gray", max_clips=1)
    assert small.shape == (1, 4, 1, 16, 16)


def test_folder_names_every_bad_file(tmp_path):
    good = tmp_path / "sevens"
    good.mkdir()
    save_gif_grid(good / "ok.gif", _moving_square(), nrow=1)
    save_gif_grid(tmp_path / "short.gif", _moving_square(frames=3), nrow=1)
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    (tmp_path / "notes.txt").write_text("hello")
    outside = tmp_path.parent / f"{tmp_path.name}_outside.gif"
    save_gif_grid(outside, _moving_square(), nrow=1)
    os.symlink(outside, tmp_path / "link.gif")
    clips, labels, names, video_index, skipped = read_video_folder(tmp_path, frames=6, size=32)
    assert clips.shape == (2, 6, 1, 32, 32) and names == ["sevens"]
    np.testing.assert_array_equal(labels, [0, 0])
    assert len(set(video_index)) == 1
    reasons = {os.path.basename(s["path"]): s["reason"] for s in skipped}
    assert set(reasons) == {"short.gif", "broken.mp4", "notes.txt", "link.gif"}
    assert reasons["short.gif"].startswith("too short: 3 frames")
    assert reasons["broken.mp4"].startswith("unreadable")
    assert reasons["notes.txt"].startswith("not a video file")
    assert reasons["link.gif"].startswith("symlink")


def test_single_file_errors(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(VideoReadError, match="not a video file"):
        read_video(tmp_path / "a.txt", frames=4, size=32)
    with pytest.raises(ValueError, match="channels"):
        read_video(tmp_path / "a.gif", frames=4, size=32, channels="cmyk")


def test_grid_layout():
    clips = np.zeros((5, 2, 1, 4, 4), dtype=np.float32)
    clips[4] = 1.0
    grid = clip_grid(clips, nrow=3, padding=1)
    assert grid.shape == (2, 2 * 5 + 1, 3 * 5 + 1, 1)
    assert grid[:, 6:10, 6:10].min() == 255 and grid.sum() == 255 * 16 * 2


def test_mixed_frame_sizes_are_named(tmp_path, monkeypatch):
    import ganops.video.video_io as video_io

    frames = [np.zeros((32, 32), np.uint8)] * 3 + [np.zeros((24, 32), np.uint8)]
    monkeypatch.setattr(video_io, "_frame_iterator", lambda path, channels: iter(frames))
    with pytest.raises(VideoReadError, match="mixed frame sizes .* frame 3 is 24x32"):
        read_video(tmp_path / "a.mp4", frames=2, size=32)
