"""The domain feature network for FVD_domain: a small 3D CNN trained on the real clips.

FVD proper uses I3D trained on Kinetics, whose weights cannot be fetched here and which describes
human actions, not digits. Ours learns the domain's own content and motion: it predicts each clip's
digit classes and motion directions (multi-hot, so one or two digits per clip both work), and its
penultimate layer (`feature_dim`) is the feature space. Clips go in as prepared, (B, T, C, H, W) in
[0, 1]. Training is seeded (initialisation and batch order) and leaves the global RNG alone.

Two details decide whether it learns at all in a few hundred CPU steps:
- the loss is a softmax cross-entropy against each head's multi-hot target spread evenly over its D
  labels (one digit: plain cross-entropy). A per-class BCE first only learns the class prior
  (loss ~0.33 = log-loss of p = 0.1) and barely moves from there within 200 steps.
- batch-norm statistics are recomputed with the final weights after training ("precise BN"): at this
  learning rate the weights move so fast that the running averages (momentum 0.1) describe weights of
  ~10 steps earlier, and in eval mode the net was at chance although it was well above it in
  train mode.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganops.video.blocks import num_stages


class ClipFeatureNet(nn.Module):
    """clips (B, T, C, H, W) in [0, 1] -> (features (B, feature_dim), {head: logits (B, classes)})."""

    def __init__(self, clip_shape: list[int], heads: dict[str, int], width: int = 16, feature_dim: int = 64) -> None:
        super().__init__()
        frames, channels, side, _ = clip_shape
        self.config = dict(clip_shape=list(clip_shape), heads=dict(heads), width=width, feature_dim=feature_dim)
        self.feature_dim = feature_dim
        layers: list[nn.Module] = []
        ch_in, ch, t = channels, width, frames
        for _ in range(num_stages(side)):
            stride_t = 2 if t > 2 else 1
            layers += [
                nn.Conv3d(ch_in, ch, 3, (stride_t, 2, 2), 1, bias=False),
                nn.BatchNorm3d(ch),
                nn.ReLU(True),
            ]
            ch_in, ch, t = ch, ch * 2, (t - 1) // stride_t + 1
        self.body = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.Linear(ch_in, feature_dim), nn.ReLU(True))
        self.heads = nn.ModuleDict({name: nn.Linear(feature_dim, size) for name, size in heads.items()})

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        h = self.body((clips - 0.5).transpose(1, 2)).mean(dim=(2, 3, 4))  # (B, C, T, H, W) -> (B, F)
        features = self.embed(h)  # (B, d)
        return features, {name: head(features) for name, head in self.heads.items()}


def multi_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Labels (N,) or (N, D) int, -1 = unknown -> (N, classes) float32 with a 1 per known label."""
    labels = np.asarray(labels).reshape(len(labels), -1)
    out = np.zeros((len(labels), classes), dtype=np.float32)
    rows, cols = np.nonzero(labels >= 0)
    out[rows, labels[rows, cols]] = 1.0
    return out


def train_clip_features(
    clips: np.ndarray,
    targets: dict[str, tuple[np.ndarray, int]],
    steps: int = 200,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    width: int = 16,
    feature_dim: int = 64,
) -> ClipFeatureNet:
    """Train on clips (N, T, C, H, W) in [0, 1]; targets = {head: (labels (N,) or (N, D), classes)}.

    Each head is a softmax cross-entropy against its multi-hot target / D; clips whose labels are all
    unknown (-1) do not count for that head. With no labelled head there is nothing to learn: a
    ValueError. Batch-norm statistics are then recomputed on the training clips (`recalibrate_batch_norm`).
    """
    hot = {name: torch.from_numpy(multi_hot(labels, classes)) for name, (labels, classes) in targets.items()}
    hot = {name: h for name, h in hot.items() if h.sum() > 0}
    if not hot:
        raise ValueError("video feature network: no labelled clips (needs digit/direction or class labels)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ClipFeatureNet(list(clips.shape[1:]), {n: targets[n][1] for n in hot}, width, feature_dim)
    data = torch.from_numpy(np.ascontiguousarray(clips, dtype=np.float32))
    order = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for _ in range(steps):
        index = torch.randint(len(data), (min(batch_size, len(data)),), generator=order)
        _, logits = net(data[index])
        loss = sum(soft_cross_entropy(logits[n], hot[n][index]) for n in hot)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    net.requires_grad_(False)
    recalibrate_batch_norm(net, data[:RECALIBRATION_CLIPS])
    return net.eval()


RECALIBRATION_CLIPS = 512  # training clips whose statistics replace the batch-norm running averages


def soft_cross_entropy(logits: torch.Tensor, hot: torch.Tensor) -> torch.Tensor:
    """Mean over labelled rows of -sum_k q_k log softmax(logits)_k, q = hot / (labels per row).

    logits, hot (B, K); rows without a label (all-zero hot) count as 0 but stay in the mean, like the
    masked per-row loss before it.
    """
    count = hot.sum(1, keepdim=True)  # (B, 1)
    target = hot / count.clamp(min=1)
    return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()


@torch.no_grad()
def recalibrate_batch_norm(net: nn.Module, clips: torch.Tensor, batch_size: int = 128) -> None:
    """Replace every batch norm's running mean / var by their average over `clips` (B, T, C, H, W) with
    the current weights (a cumulative average, momentum None), then restore each momentum."""
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d)]
    if not norms or len(clips) < 2:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = net.training
    net.train()
    for start in range(0, len(clips), batch_size):
        if len(clips) - start >= 2:  # a batch of one has no variance
            net(clips[start : start + batch_size])
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    net.train(was_training)


@torch.no_grad()
def clip_features(net: ClipFeatureNet, clips: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Features (N, feature_dim) float64 of clips (N, T, C, H, W) in [0, 1], in eval mode."""
    net.eval()
    device = next(net.parameters()).device
    out = [
        net(torch.from_numpy(np.ascontiguousarray(clips[i : i + batch_size], dtype=np.float32)).to(device))[0]
        for i in range(0, len(clips), batch_size)
    ]
    return torch.cat(out).double().cpu().numpy()
