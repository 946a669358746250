"""The clip feature net learns (regression: it sat at chance in eval mode), and the video models can
express and see motion (the checks that ruled out a structural cause of frozen generated clips)."""

import numpy as np
import torch
import torch.nn.functional as F

from ganops.video.architectures import build_video_models
from ganops.video.evaluator import head_accuracy
from ganops.video.features import ClipFeatureNet, recalibrate_batch_norm, soft_cross_entropy, train_clip_features
from ganops.video.options import VideoVariantOptions
from ganops.video.prepare import ClipSplit

HEADS = {"heads": {"directions": 4}}


def moving_squares(num: int, seed: int, frames: int = 8, side: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A 4x4 square at a random start moving 1 px / frame east, north, west or south (no bounce):
    clips (N, T, 1, side, side) in [0, 1], directions (N,) in 0..3."""
    rng = np.random.default_rng(seed)
    clips = np.zeros((num, frames, 1, side, side), np.float32)
    directions = rng.integers(0, 4, num)
    steps = np.array([(0, 1), (-1, 0), (0, -1), (1, 0)])  # (d_row, d_col) per direction
    for i, d in enumerate(directions):
        row, col = rng.integers(frames - 1, side - 4 - frames + 2, size=2)  # stays inside
        for t in range(frames):
            r, c = row + steps[d][0] * t, col + steps[d][1] * t
            clips[i, t, 0, r : r + 4, c : c + 4] = 1.0
    return clips, directions


def test_soft_cross_entropy_is_cross_entropy_for_one_label_and_skips_unlabelled_rows():
    logits = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 5, 1, 2])
    np.testing.assert_allclose(  # float32 sums in another order: last-bit differences
        soft_cross_entropy(logits, F.one_hot(labels, 6).float()), F.cross_entropy(logits, labels), rtol=1e-6
    )
    hot = F.one_hot(labels, 6).float()
    hot[4] = 0  # unknown label: contributes 0
    expected = F.cross_entropy(logits[:4], labels[:4], reduction="sum") / 5
    np.testing.assert_allclose(soft_cross_entropy(logits, hot), expected, rtol=1e-6)


def test_recalibrated_batch_norm_makes_eval_match_train_mode():
    """Stale running statistics (the chance-level bug) are replaced by those of the current weights."""
    torch.manual_seed(0)
    clips = torch.rand(32, 8, 1, 16, 16)
    net = ClipFeatureNet([8, 1, 16, 16], {"directions": 4}, width=4, feature_dim=8)
    with torch.no_grad():
        net.train()
        train_features, _ = net(clips)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.fill_(3.0)  # what lagging averages look like after fast weight updates
        net.eval()
        stale, _ = net(clips)
        recalibrate_batch_norm(net, clips)
        assert not net.training and all(m.momentum == 0.1 for m in net.modules() if hasattr(m, "momentum"))
        fresh, _ = net(clips)
    assert not torch.allclose(stale, train_features, atol=1e-2)
    torch.testing.assert_close(fresh, train_features, atol=1e-2, rtol=1e-2)


def test_clip_net_learns_motion_direction_in_eval_mode():
    """Four directions of a moving square: far above chance (0.25) on held-out clips after 60 steps."""
    clips, directions = moving_squares(256, seed=0)
    test_clips, test_directions = moving_squares(128, seed=1)
    net = train_clip_features(clips, {"directions": (directions, 4)}, steps=60, batch_size=16, lr=3e-3, width=8)
    assert not net.training
    test = ClipSplit(test_clips, np.full(len(test_clips), -1), {"directions": test_directions[:, None]})
    accuracy = head_accuracy(net, test, HEADS)["video_evaluator_directions_test_accuracy"]
    assert accuracy >= 0.9, accuracy


def test_video_discriminator_sees_temporal_order():
    """D_video is a 3D conv over T: shuffling a clip's frames changes its logit (frames are not pooled)."""
    torch.manual_seed(0)
    _, D_video, _ = build_video_models(VideoVariantOptions(width=8, z_dim=16, motion_dim=8), (8, 1, 16, 16), 0)
    clips = torch.rand(4, 8, 1, 16, 16) * 2 - 1
    shuffled = clips[:, torch.tensor([3, 0, 6, 1, 7, 2, 5, 4])]
    with torch.no_grad():
        assert (D_video(clips) - D_video(shuffled)).abs().min() > 1e-4


def test_generators_draw_motion_per_frame():
    """MoCoGAN: the GRU's codes differ over time and between motion noises; both generators' frames
    change within a clip at initialisation (train mode, as in training)."""
    torch.manual_seed(0)
    for arch in ("mocogan", "vgan"):
        G, _, _ = build_video_models(VideoVariantOptions(arch=arch, width=8, z_dim=16, motion_dim=8), (8, 1, 16, 16), 0)
        z = torch.randn(4, G.z_dim)
        with torch.no_grad():
            clips = G(z)  # (B, T, C, H, W)
        frame_change = (clips[:, 1:] - clips[:, :-1]).abs().mean()
        assert frame_change > 0.1 * clips.std(0).mean(), (arch, frame_change)
        if arch == "mocogan":
            c, m = G.content_dim, G.motion_dim
            codes = G.motion(z[:, c : c + m], z[:, c + m :].reshape(4, 8, m))  # (B, T, m)
            assert codes.std(1).mean() > 0.05 and codes.std(0).mean() > 0.05
