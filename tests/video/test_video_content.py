"""Content steps (frame-only updates before the video game), frames_at, whole-pixel shifts."""

import csv
import itertools
import math
import types

import numpy as np
import pytest
import torch

from ganops.training.family import BuildContext
from ganops.video.architectures import build_video_models
from ganops.video.family import video_families
from ganops.video.options import VideoVariantOptions, validate_video_variant

CLIP = (8, 1, 16, 16)


def _options(arch="mocogan_st", **kw):
    return VideoVariantOptions(arch=arch, width=8, z_dim=8, motion_dim=4, batch_size=4, image_batch_size=6, **kw)


@pytest.mark.parametrize(("arch", "shift_mode"), [("mocogan", "subpixel"), ("mocogan_st", "subpixel"),
                                                  ("mocogan_st", "whole_pixel")])  # fmt: skip
def test_frames_at_is_the_clip_frame_it_names(arch, shift_mode):
    torch.manual_seed(0)
    G, _, _ = build_video_models(_options(arch, shift_mode=shift_mode, conditional=True), CLIP, 10)
    G.eval()  # batch norm on running stats: T frames per clip or one give the same pixels
    z, y, t = torch.randn(5, G.z_dim), torch.arange(5), torch.tensor([0, 7, 3, 3, 1])
    with torch.no_grad():
        clips, frames = G(z, y), G.frames_at(z, y, t)
    assert frames.shape == (5, *CLIP[1:])
    torch.testing.assert_close(frames, clips[torch.arange(5), t], atol=1e-5, rtol=0)


def test_whole_pixel_shifts_round_forward_and_pass_gradients_back():
    torch.manual_seed(0)
    G, _, _ = build_video_models(_options(shift_mode="whole_pixel"), CLIP, 0)
    h, noise = torch.randn(6, 4), torch.randn(6, CLIP[0], 4)
    offsets = G.offsets(h, noise)  # half-canvas units: 1 px = 2 / 16
    px = offsets * CLIP[-1] / 2
    assert torch.equal(px, torch.round(px)) and px.abs().max() > 0
    offsets.sum().backward()
    assert G.to_step.weight.grad is not None and G.to_step.weight.grad.abs().sum() > 0
    subpixel, _, _ = build_video_models(_options(shift_mode="subpixel"), CLIP, 0)
    subpixel.load_state_dict(G.state_dict())
    assert not torch.equal(subpixel.offsets(h, noise), offsets.detach())  # the same net, unrounded


def _batches():
    seeds = itertools.count()

    def next_batch(stream):
        gen = torch.Generator().manual_seed(next(seeds))
        return {"clip": torch.rand(4, *CLIP, generator=gen) * 2 - 1, "label": torch.randint(10, (4,), generator=gen)}

    return next_batch


def test_content_steps_train_only_the_image_game_then_the_video_game_joins():
    family = video_families()["mocogan_st"]
    cfg = _options(conditional=True, content_steps=2, num_steps=4)
    parts = family.build(BuildContext(cfg, "cpu", {"clips": {"clip": CLIP}}, 10, "mocogan_st", 0))
    video_d = [p.detach().clone() for p in parts.D_video.parameters()]
    canvas = [p.detach().clone() for p in parts.G.canvas.parameters()]
    next_batch = _batches()
    for step in range(2):
        logs = family.train_step(parts, next_batch, step)
        assert set(logs) == {"d_loss", "g_loss", "d_image", "g_image"}  # the video columns stay NaN
        assert torch.equal(logs["d_loss"], logs["d_image"]) and all(torch.isfinite(v) for v in logs.values())
    assert all(torch.equal(a, b) for a, b in zip(video_d, parts.D_video.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(canvas, parts.G.canvas.parameters(), strict=True))
    logs = family.train_step(parts, next_batch, 2)
    assert set(logs) == set(family.log_keys)
    assert any(not torch.equal(a, b) for a, b in zip(video_d, parts.D_video.parameters(), strict=True))


def test_content_steps_are_validated_naming_the_key():
    with pytest.raises(ValueError, match="video.variants.v.content_steps: vgan has no image discriminator"):
        validate_video_variant(VideoVariantOptions(arch="vgan", content_steps=1), CLIP, 0, "v")
    with pytest.raises(ValueError, match="content_steps: 100 leaves no video steps of num_steps 100"):
        validate_video_variant(VideoVariantOptions(arch="mocogan", content_steps=100, num_steps=100), CLIP, 0, "v")
    with pytest.raises(ValueError, match="shift_mode: must be one of subpixel, whole_pixel"):
        build_video_models(_options(shift_mode="nearest"), CLIP, 0)


def test_losses_csv_leaves_the_video_columns_empty_during_content_steps(tmp_path):
    from ganops.video.family import train_video

    clips = np.random.default_rng(0).random((8, *CLIP), dtype=np.float32)
    cfg = _options(content_steps=2, num_steps=3, log_every=1, checkpoint_every=3, sample_clips=2)
    gan = types.SimpleNamespace(device="cpu", deterministic=False)
    train_video("v", cfg, gan, clips, np.full(8, -1), tmp_path / "out", tmp_path / "ck", seed=0)
    rows = list(csv.DictReader((tmp_path / "out/losses.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    for row in rows[:2]:
        assert math.isnan(float(row["d_video"])) and math.isfinite(float(row["d_image"]))
        assert float(row["d_loss"]) == float(row["d_image"])
    assert all(math.isfinite(float(v)) for v in rows[2].values())


def test_exports_from_before_shift_mode_load_with_bilinear_shifts():
    from ganops.video.architectures import build_generator

    G, _, _ = build_video_models(_options(shift_mode="whole_pixel"), CLIP, 0)
    assert G.config["shift_mode"] == "whole_pixel"
    old = {k: v for k, v in G.config.items() if k != "shift_mode"}  # an export from before the key existed
    assert build_generator("mocogan_st", old).shift_mode == "subpixel"
