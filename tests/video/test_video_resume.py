"""Killed and resumed equals uninterrupted, through the shared loop (training.loop.train), bit for bit on CPU."""

import types

import numpy as np
import pytest
import torch

from ganops.training.loop import TrainingInterrupted
from ganops.video.evaluate import VideoProbe
from ganops.video.export import load_video_generator
from ganops.video.family import train_video
from ganops.video.features import ClipFeatureNet
from ganops.video.moving_digits import MovingDigitsSpec, render_moving_digits
from ganops.video.options import VideoVariantOptions

GAN = types.SimpleNamespace(device="cpu", deterministic=True)
SPEC = MovingDigitsSpec(canvas_size=16, num_frames=8, digit_size=8)


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(0)
    digits = render_moving_digits(rng.random((20, 8, 8)), np.arange(20) % 10, 24, SPEC, seed=0)
    return digits.clips, digits.digits[:, 0]


def _train(arch, clips, out, checkpoints, stop_after=None, conditional=False, **options):
    options = {"num_steps": 6, **options}
    cfg = VideoVariantOptions(arch=arch, conditional=conditional, width=8, z_dim=8, motion_dim=4, batch_size=4,
                              checkpoint_every=2, log_every=1, sample_clips=4, **options)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        net = ClipFeatureNet([8, 1, 16, 16], {"digits": 10}, width=4, feature_dim=8).eval()
    probe = VideoProbe(net, clips[0], 6, seed=0)
    return train_video(arch, cfg, GAN, clips[0], clips[1], out, checkpoints, seed=3, quality=probe,
                       quality_key=probe.key, stop_after=stop_after)  # fmt: skip


# the last case resumes inside the content steps (checkpoint 2) and crosses into the video game at 3
CONTENT = {"content_steps": 3, "image_batch_size": 6, "shift_mode": "whole_pixel"}


CASES = [("mocogan", False, {}), ("mocogan_st", True, {}), ("vgan", True, {}), ("mocogan_st", True, CONTENT)]


@pytest.mark.parametrize(("arch", "conditional", "options"), CASES)
def test_killed_and_resumed_equals_uninterrupted(arch, conditional, options, clips, tmp_path):
    whole = _train(arch, clips, tmp_path / "a", tmp_path / "a_ck", conditional=conditional, **options)
    with pytest.raises(TrainingInterrupted):
        _train(arch, clips, tmp_path / "b", tmp_path / "b_ck", stop_after=3, conditional=conditional, **options)
    resumed = _train(arch, clips, tmp_path / "b", tmp_path / "b_ck", conditional=conditional, **options)
    assert resumed.resumed_from == 2 and resumed.steps == whole.steps == 6
    assert resumed.best_step == whole.best_step and resumed.best_quality == whole.best_quality
    last_a = torch.load(tmp_path / "a_ck/last.pt", weights_only=True)
    last_b = torch.load(tmp_path / "b_ck/last.pt", weights_only=True)
    for part in ("G", "G_ema", "D_video", "opt_G", "opt_D") + (("D_image",) if arch != "vgan" else ()):
        flat_a, flat_b = _flat(last_a[part]), _flat(last_b[part])
        assert flat_a.keys() == flat_b.keys()
        for key, value in flat_a.items():
            assert torch.equal(value, flat_b[key]) if torch.is_tensor(value) else value == flat_b[key], (part, key)
    assert (tmp_path / "a/generator.pt").read_bytes() == (tmp_path / "b/generator.pt").read_bytes()
    assert (tmp_path / "a/quality.csv").read_text() == (tmp_path / "b/quality.csv").read_text()
    assert (tmp_path / "a/losses.csv").read_text() == (tmp_path / "b/losses.csv").read_text()
    G, meta = load_video_generator(tmp_path / "b/generator.pt")
    assert meta["num_classes"] == (10 if conditional else 0) and meta["clip_shape"] == [8, 1, 16, 16]


def test_conditional_on_unlabelled_clips_is_one_line_naming_the_key(clips, tmp_path):
    unlabelled = (clips[0], np.full(len(clips[1]), -1))
    with pytest.raises(ValueError, match=r"^video.variants.vgan.conditional: the clips have no labels"):
        _train("vgan", unlabelled, tmp_path / "o", tmp_path / "ck", conditional=True)


def test_conditional_auto_follows_the_labels(clips, tmp_path):
    _train("mocogan_st", clips, tmp_path / "l", tmp_path / "l_ck", conditional="auto", num_steps=2)
    _train("mocogan_st", (clips[0], np.full(len(clips[1]), -1)), tmp_path / "u", tmp_path / "u_ck",
           conditional="auto", num_steps=2)  # fmt: skip
    assert load_video_generator(tmp_path / "l/generator.pt")[1]["num_classes"] == 10
    assert load_video_generator(tmp_path / "u/generator.pt")[1]["num_classes"] == 0


def _flat(state, prefix=""):
    if isinstance(state, dict):
        return {k: v for key, sub in state.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}
    if isinstance(state, list | tuple):
        return {k: v for i, sub in enumerate(state) for k, v in _flat(sub, f"{prefix}{i}.").items()}
    return {prefix: state}
