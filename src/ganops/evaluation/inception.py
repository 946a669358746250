"""Optional standard FID features: Inception-v3 pool3 (2048-d) with the TensorFlow FID weights.

Numbers comparable with published FIDs need the network of Heusel et al. 2017 and its exact weights,
`pt_inception-2015-12-05-6726825d.pth` (pytorch-fid's conversion of the 2015-12-05 TensorFlow graph;
the `6726825d` in the name is the start of the file's sha256). ganops never downloads it: put the file
in the torch hub cache (`~/.cache/torch/hub/checkpoints/`, or `$TORCH_HOME/hub/checkpoints/`) or pass
its path. For 28×28 digits these features say little (they describe ImageNet photos); the domain CNN
(ganops.evaluation.evaluator) is the primary judge, this is for comparison with the literature.

The network is written out here because torchvision (whose `Inception3` pytorch-fid patches) cannot be
installed beside torch 2.13 in this project, and torch-fidelity imports torchvision. Module names match
pytorch-fid's / torchvision's so the published state dict loads strictly. Differences from torchvision
(the "FID Inception" patches): average pools exclude padding, the last block max-pools its pool branch,
1008 output classes. Input handling follows pytorch-fid: bilinear resize to 299×299, scale to [-1, 1],
gray images repeated to RGB.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganops.data.dataset import file_sha256
from ganops.evaluation import metric_keys as K

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_SHA256_PREFIX = "6726825d"
INPUT_SIZE = 299


class BasicConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)  # TF semantics


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        row, col = {"kernel_size": (1, 7), "padding": (0, 3)}, {"kernel_size": (7, 1), "padding": (3, 0)}
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, **row)
        self.branch7x7_3 = BasicConv2d(c7, 192, **col)
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **row)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, **row)
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d7 = layer(d7)
        return torch.cat([self.branch1x1(x), b7, d7, self.branch_pool(_avg_pool(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """`max_pool=True` for the last block (Mixed_7c): the TF graph max-pools there."""

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d3 = torch.cat([self.branch3x3dbl_3a(d3), self.branch3x3dbl_3b(d3)], 1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.branch1x1(x), b3, d3, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Images (B, C, H, W) in [0, 1], C = 1 or 3, any size -> pool3 features (B, 2048) and logits (B, 1008).

    Duck-types `evaluation.evaluator.Evaluator` for `evaluation.metrics` (`features_and_logits`,
    `image_shape`, `feature_dim`, `num_classes`, `task`, `network`), so `generation_metrics` works with it unchanged and
    names its keys `*_inception`. `num_features` lets torchmetrics use it as `feature=`.
    """

    feature_dim = num_features = 2048
    num_classes = 1008
    task = "classes"
    network = K.INCEPTION

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"Inception features need (B, 1 or 3, H, W) images, got {tuple(x.shape)}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # (B, 3, H, W)
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1  # (B, 3, 299, 299) in [-1, 1]
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, 64, 73, 73)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), kernel_size=3, stride=2)  # (B, 192, 35, 35)
        for block in (
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d,
            self.Mixed_6a, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e,
            self.Mixed_7a, self.Mixed_7b, self.Mixed_7c,
        ):  # fmt: skip
            x = block(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # (B, 2048)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """pool3 features and the unbiased logits (no fc bias), as the original Inception Score used."""
        features = self.features(x)
        return features, features @ self.fc.weight.T  # (B, 2048), (B, 1008)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:  # torchmetrics hands uint8 images to feature extractors
            x = x.float() / 255.0
        return self.features(x)


def default_weights_path() -> Path:
    """Where torch hub keeps downloaded weights: `$TORCH_HOME/hub/checkpoints/` (~/.cache/torch/...)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def find_weights(path: str | Path | None = None) -> Path:
    """The checked local weights file: `path` if given, else the torch hub cache. Never downloads."""
    where = Path(path).expanduser() if path is not None else default_weights_path()
    if where.is_dir():
        where = where / WEIGHTS_NAME
    if not where.is_file():
        raise FileNotFoundError(
            f"Inception FID weights not found at {where}. ganops does not download them: copy "
            f"{WEIGHTS_NAME} (from the pytorch-fid 'fid_weights' release) to {default_weights_path()} "
            "or pass its path; or use the domain features, which need no download"
        )
    digest = file_sha256(where)
    if not digest.startswith(WEIGHTS_SHA256_PREFIX):
        raise ValueError(
            f"{where}: sha256 {digest[:16]}... does not start with {WEIGHTS_SHA256_PREFIX}; this is not "
            f"{WEIGHTS_NAME} (corrupt or another file); replace it with the published file"
        )
    return where


def load_inception(
    image_shape: tuple[int, int, int], path: str | Path | None = None, device: str = "cpu"
) -> FIDInceptionV3:
    """The FID Inception-v3 with the published weights, in eval mode, for images of `image_shape`."""
    weights = find_weights(path)
    model = FIDInceptionV3(image_shape)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval()
