"""mocogan_st: the spatial-transformer shift, the bounce fold, the canvas window, motion by construction."""

import torch

from ganops.video.architectures import build_video_models
from ganops.video.mocogan_st import BACKGROUND, canvas_window, reflect, shift_frames
from ganops.video.options import VideoVariantOptions


def test_whole_pixel_shifts_move_the_canvas_exactly_and_uncover_background():
    canvas = torch.full((1, 1, 16, 16), BACKGROUND)
    canvas[0, 0, 5:8, 6:9] = 0.5  # a 3 x 3 square at rows 5-7, columns 6-8
    px = 2 / 16  # one pixel in half-canvas units at 16 px
    offsets = torch.tensor([[[0.0, 0.0], [3 * px, 0.0], [0.0, -2 * px], [-8 * px, 0.0]]])  # (1, T=4, 2)
    frames = shift_frames(canvas, offsets)[0, :, 0]  # (T, H, W)
    expected = torch.full((4, 16, 16), BACKGROUND)
    expected[0, 5:8, 6:9] = 0.5
    expected[1, 5:8, 9:12] = 0.5  # x right
    expected[2, 3:6, 6:9] = 0.5  # y down, so negative y is up
    expected[3, 5:8, 0:1] = 0.5  # 8 px left: only the square's last column is still in the frame
    torch.testing.assert_close(frames, expected, atol=1e-5, rtol=0)


def test_reflect_is_identity_inside_and_mirrors_at_the_bounds():
    x = torch.linspace(-7, 7, 1401)
    y = reflect(x, 0.4)
    assert y.min() >= -0.4 - 1e-6 and y.max() <= 0.4 + 1e-6
    inside = x.abs() <= 0.4
    torch.testing.assert_close(y[inside], x[inside])
    torch.testing.assert_close(reflect(torch.tensor([0.5, 0.9, -0.5, 1.6]), 0.4), torch.tensor([0.3, -0.1, -0.3, 0.0]))


def test_canvas_window_is_flat_in_the_centre_and_fades_at_the_border():
    w = canvas_window(32)
    assert w.shape == (32, 32)
    torch.testing.assert_close(w, w.T)
    torch.testing.assert_close(w, w.flip(0))
    assert torch.all(w[10:22, 10:22] == 1)  # |u| <= 0.6 of the half-side
    assert w[0].max() < 0.05 and w[:, -1].max() < 0.05


def test_motion_comes_only_from_the_path():
    """Frames are shifts of one canvas: with the step head zeroed the clip is static; random codes move it,
    and the object stays inside the frame (the shift is bounded by max_shift)."""
    torch.manual_seed(0)
    cfg = VideoVariantOptions(arch="mocogan_st", width=8, z_dim=16, motion_dim=8)
    G, _, D_image = build_video_models(cfg, (8, 1, 32, 32), 0)
    assert D_image is not None
    G.eval()
    z = torch.randn(3, G.z_dim)
    with torch.no_grad():
        moving = G(z)
        torch.nn.init.zeros_(G.to_step.weight)
        torch.nn.init.zeros_(G.to_step.bias)
        static = G(z)
    assert moving.shape == (3, 8, 1, 32, 32) and moving.min() >= -1 and moving.max() <= 1
    assert (moving[:, 1:] - moving[:, :-1]).abs().mean() > 1e-3
    torch.testing.assert_close(static[:, 1:], static[:, :-1].clone(), atol=1e-6, rtol=0)
    offsets = G.offsets(z[:, 16:24], z[:, 24:].reshape(3, 8, 8))
    assert offsets.abs().max() <= G.max_shift + 1e-6


def test_conditional_canvas_takes_the_label_in_its_norms_and_old_exports_load_as_input():
    from ganops.training.conditioning import ClassAffine
    from ganops.video.architectures import build_generator

    clip = (4, 1, 16, 16)
    cfg = VideoVariantOptions(arch="mocogan_st", width=8, z_dim=16, motion_dim=8, conditional=True)
    G, _, _ = build_video_models(cfg, clip, 10)
    affines = [m for m in G.modules() if isinstance(m, ClassAffine)]
    assert G.config["g_label"] == "modulation" and G.embed is None and len(affines) == 2  # project + 1 stage at 16 px
    for affine in affines:  # identity at the start: give each class its own gain
        torch.nn.init.normal_(affine.gain.weight)
    G.eval()
    z = torch.randn(1, G.z_dim).repeat(2, 1)
    with torch.no_grad():
        clips = G(z, torch.tensor([3, 7]))
    assert clips.shape == (2, *clip) and not torch.allclose(clips[0], clips[1])  # same z, other class
    old = {k: v for k, v in G.config.items() if k != "g_label"}  # an export from before the key existed
    legacy = build_generator("mocogan_st", old)
    assert legacy.embed is not None and not any(isinstance(m, ClassAffine) for m in legacy.modules())
    unconditional, _, _ = build_video_models(VideoVariantOptions(arch="mocogan_st", width=8), clip, 0)
    assert not any(isinstance(m, ClassAffine) for m in unconditional.modules())
