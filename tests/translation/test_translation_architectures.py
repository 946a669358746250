"""U-Net, ResNet and PatchGAN shapes, ranges, per-size depth tables and receptive fields."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from ganops.translation.architectures import build_network
from ganops.translation.patchgan import (
    PatchDiscriminator,
    output_size,
    patchgan_layers,
    receptive_field,
)
from ganops.translation.resnet_generator import ResnetGenerator
from ganops.translation.unet import UNetGenerator, unet_depth

CFG = SimpleNamespace(ngf=4, ndf=4, norm="batch", dropout=0.5, resnet_blocks=2, padding="reflect", patchgan_layers=0)


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [(1, 3), (3, 1)])
@pytest.mark.parametrize("name, norm", [("unet", "batch"), ("resnet", "instance")])
def test_generators_keep_size_and_range(size, channels, name, norm):
    torch.manual_seed(0)
    G = build_network(name, SimpleNamespace(**{**vars(CFG), "norm": norm}), *channels, size)
    x = torch.rand(2, channels[0], size, size) * 2 - 1
    y = G(x)
    assert y.shape == (2, channels[1], size, size)
    assert y.min() >= -1 and y.max() <= 1 and y.std() > 0


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("in_channels", [1, 3, 4])
def test_patchgan_logit_map(size, in_channels):
    D = build_network("patchgan", CFG, in_channels, 1, size)
    logits = D(torch.randn(2, in_channels, size, size))
    side = output_size(patchgan_layers(size), size)
    assert logits.shape == (2, 1, side, side) and side >= 1


def test_unet_depth_table_and_1x1_bottleneck():
    assert {s: unet_depth(s) for s in (28, 32, 64, 128, 256)} == {
        28: (32, 5), 32: (32, 5), 64: (64, 6), 128: (128, 7), 256: (256, 8)
    }  # fmt: skip
    for size in (28, 32, 64):
        G = UNetGenerator(1, 3, size, ngf=4)
        seen = []
        G.downs[-1].register_forward_hook(lambda m, i, o, seen=seen: seen.append(o.shape))
        G(torch.zeros(2, 1, size, size))
        assert seen[0][2:] == (1, 1)
    dropouts = {s: sum(isinstance(m, nn.Dropout) for m in UNetGenerator(1, 1, s, ngf=2).modules()) for s in (32, 64)}
    assert dropouts == {32: 0, 64: 1}  # the reference's rule: depth - 5 dropout blocks


def test_patchgan_layers_table():
    assert {s: patchgan_layers(s) for s in (28, 32, 64, 128, 256)} == {28: 1, 32: 1, 64: 2, 128: 3, 256: 3}
    assert [receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]  # 70×70 is the reference's PatchGAN
    assert output_size(3, 256) == 30


def _measured_receptive_field(D: nn.Module, size: int) -> int:
    """Rows of the input that reach the centre logit: non-zero gradient extent."""
    x = torch.randn(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    out = D(x)  # (1, 1, h, w)
    centre = out.shape[-1] // 2
    out[0, 0, centre, centre].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(dim=0)).flatten()
    assert rows.min() > 0 and rows.max() < size - 1  # not clipped by the border
    assert rows.max() - rows.min() == cols.max() - cols.min()
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_receptive_field_matches_gradient_measurement(n_layers):
    torch.manual_seed(0)
    D = PatchDiscriminator(1, 160, ndf=2, n_layers=n_layers, norm="batch").double().eval()  # eval: no batch coupling
    assert _measured_receptive_field(D, 160) == receptive_field(n_layers)


def test_bad_sizes_and_names():
    with pytest.raises(ValueError, match="divisible by 4"):
        ResnetGenerator(1, 3, 30)
    with pytest.raises(ValueError, match="unknown translation network 'vgg'"):
        build_network("vgg", CFG, 1, 3, 28)
    with pytest.raises(ValueError, match="patchgan_layers"):
        PatchDiscriminator(1, 16, n_layers=3)
    with pytest.raises(ValueError, match="norm"):
        build_network("unet", SimpleNamespace(**{**vars(CFG), "norm": "group"}), 1, 3, 28)
