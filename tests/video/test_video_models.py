"""Video generators and discriminators: shapes and ranges at the CPU and GPU sizes, conditioning."""

import pytest
import torch

from ganops.video.architectures import VIDEO_ARCHITECTURES, build_video_models, get_arch
from ganops.video.blocks import num_stages
from ganops.video.options import VideoVariantOptions, validate_video_variant

CPU_CLIP, GPU_CLIP = (16, 1, 32, 32), (20, 1, 64, 64)


@pytest.mark.parametrize("arch", ["mocogan", "mocogan_st", "vgan"])
@pytest.mark.parametrize("clip_shape", [CPU_CLIP, GPU_CLIP, (8, 3, 16, 16)])
def test_shapes_and_range(arch, clip_shape):
    torch.manual_seed(0)
    cfg = VideoVariantOptions(arch=arch, width=8, z_dim=16, motion_dim=8, conditional=True)
    G, D_video, D_image = build_video_models(cfg, clip_shape, num_classes=10)
    z, y = torch.randn(2, G.z_dim), torch.tensor([3, 7])
    clips = G(z, y)
    assert clips.shape == (2, *clip_shape)
    assert clips.min() >= -1 and clips.max() <= 1
    assert D_video(clips, y).shape == (2,)
    assert (D_image is not None) == get_arch(arch).image_discriminator
    if D_image is not None:
        assert D_image(clips[:, 0], y).shape == (2,)


def test_mocogan_content_is_fixed_and_motion_varies():
    """Same content code, other motion noise: other clips; within a clip the frames differ (motion)."""
    torch.manual_seed(0)
    G, _, _ = build_video_models(VideoVariantOptions(width=8, z_dim=16, motion_dim=8), CPU_CLIP, 0)
    G.eval()
    z = torch.randn(1, G.z_dim).repeat(2, 1)
    z[1, G.content_dim :] = torch.randn(G.z_dim - G.content_dim)
    clips = G(z)
    assert not torch.allclose(clips[0], clips[1])
    assert (clips[0, 1:] - clips[0, :-1]).abs().mean() > 0


def test_conditional_needs_labels_and_bad_options_are_named():
    G, _, _ = build_video_models(VideoVariantOptions(arch="vgan", width=8, conditional=True), CPU_CLIP, 10)
    with pytest.raises(ValueError, match="class-conditional"):
        G(torch.randn(2, G.z_dim))
    cfg = VideoVariantOptions(conditional=True)
    with pytest.raises(ValueError, match="conditional: the clips have no labels"):
        validate_video_variant(cfg, CPU_CLIP, 0, "mocogan")
    with pytest.raises(ValueError, match="video.variants.x.arch: unknown video architecture 'tgan'"):
        validate_video_variant(VideoVariantOptions(arch="tgan"), CPU_CLIP, 0, "x")
    with pytest.raises(ValueError, match="gradient penalty"):
        validate_video_variant(VideoVariantOptions(loss="wgan_gp"), CPU_CLIP, 0)
    with pytest.raises(ValueError, match="power of two"):
        num_stages(48)


def test_registry_lists_every_arch():
    from ganops.config.video import VIDEO_ARCHS as CONFIG_ARCHS
    from ganops.video.family import VIDEO_ARCHS as FAMILY_ARCHS

    get_arch("mocogan")
    assert set(VIDEO_ARCHITECTURES) >= {"mocogan", "mocogan_st", "vgan"}
    assert set(CONFIG_ARCHS) == set(FAMILY_ARCHS) == set(VIDEO_ARCHITECTURES)  # params.yaml accepts what exists


def test_image_steps_train_the_frame_renderer_and_need_an_image_d():
    from ganops.training.family import BuildContext
    from ganops.video.family import build_parts, frame_step

    cfg = VideoVariantOptions(arch="mocogan_st", width=8, z_dim=16, motion_dim=8, image_steps=1, image_batch_size=8)
    ctx = BuildContext(cfg=cfg, variant="t", shapes={"clips": {"clip": (4, 1, 16, 16)}}, num_classes=0, seed=0,
                       device="cpu")  # fmt: skip
    parts = build_parts(ctx, "mocogan_st")
    before = [p.detach().clone() for p in parts.G.canvas.parameters()]
    frame_step(parts, torch.rand(3, 4, 1, 16, 16) * 2 - 1, None)
    assert any(not torch.equal(a, b) for a, b in zip(before, parts.G.canvas.parameters(), strict=True))
    with pytest.raises(ValueError, match="image_steps: vgan has no image discriminator"):
        validate_video_variant(VideoVariantOptions(arch="vgan", image_steps=1), (4, 1, 16, 16), 0, "v")
