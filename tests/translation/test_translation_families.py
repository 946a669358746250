"""pix2pix and CycleGAN as loop families, standalone: steps, exact resume, samples, export."""

import io
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from ganops.training.family import FAMILIES, BuildContext
from ganops.translation import cyclegan, pix2pix
from ganops.translation.families import translation_family
from ganops.translation.translator_io import load_translator, translate

BATCH = 2
SMALL = {"ngf": 4, "ndf": 4, "resnet_blocks": 1, "pool_size": 2, "num_samples": 2,
         "lr_constant_steps": 1, "lr_decay_steps": 4}  # fmt: skip


def _context(family, size=28, channels=(1, 3), seed=0, **overrides):
    cfg = SimpleNamespace(**{**family.DEFAULTS, **SMALL, **overrides})
    ca, cb = channels
    if family is pix2pix:
        shapes = {"pair": {"a": (ca, size, size), "b": (cb, size, size), "label": ()}}
    else:
        shapes = {
            "a": {"image": (ca, size, size), "label": ()},
            "b": {"image": (cb, size, size), "label": ()},
        }
    return BuildContext(cfg, "cpu", shapes, 10, family.NAME, seed)


def _batches(ctx, steps, seed=0):
    """Per step, one batch per stream of tiny random images in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        step = {}
        for stream, keys in ctx.shapes.items():
            step[stream] = {k: torch.rand(BATCH, *s, generator=g) * 2 - 1 for k, s in keys.items() if s}
            step[stream]["label"] = torch.randint(10, (BATCH,), generator=g)
        out.append(step)
    return out


def _run(family, parts, batches, start):
    logs = []
    for step, batch in enumerate(batches, start):
        torch.manual_seed(1000 + step)  # the loop restores the global RNG per step; dropout draws from it
        logs.append(family.train_step(parts, lambda stream, batch=batch: batch[stream], step))
    return logs


@pytest.fixture
def deterministic():
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("family", [pix2pix, cyclegan])
def test_steps_are_finite_and_logged(family):
    ctx = _context(family)
    parts = family.build(ctx)
    logs = _run(family, parts, _batches(ctx, 3), 0)
    for values in logs:
        assert tuple(values) == family.LOG_KEYS
        assert all(v.ndim == 0 and not v.requires_grad and math.isfinite(v.item()) for v in values.values())
    assert [v["lr"].item() for v in logs] == pytest.approx([2e-4, 2e-4 * 0.8, 2e-4 * 0.6])
    if family is pix2pix:
        v = logs[-1]
        assert v["loss_g"].item() == pytest.approx((v["loss_g_gan"] + 100 * v["loss_g_l1"]).item(), rel=1e-5)
    assert translation_family(family.NAME).train_step is family.train_step
    assert FAMILIES[family.NAME] is translation_family(family.NAME)


@pytest.mark.parametrize("family, size", [(pix2pix, 64), (cyclegan, 28)])  # 64 px: the U-Net has dropout
def test_resume_equals_uninterrupted(family, size, deterministic):
    ctx = _context(family, size=size)
    batches = _batches(ctx, 4)
    straight = family.build(ctx)
    expected = _run(family, straight, batches, 0)

    first = family.build(ctx)
    _run(family, first, batches[:2], 0)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = family.build(_context(family, size=size, seed=99))  # other init: the state must override it
    resumed.load_state_dict(torch.load(buffer, weights_only=True), "cpu")
    got = _run(family, resumed, batches[2:], 2)

    for want, have in zip(expected[2:], got, strict=True):
        assert all(torch.equal(want[k], have[k]) for k in family.LOG_KEYS), (want, have)
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        if name.startswith(("G", "D")):
            assert all(torch.equal(a[k], b[k]) for k in a), name


def test_cyclegan_identity_only_with_equal_channels():
    assert not cyclegan.build(_context(cyclegan, channels=(1, 3))).identity
    parts = cyclegan.build(_context(cyclegan, channels=(3, 3)))
    assert parts.identity
    logs = _run(cyclegan, parts, _batches(_context(cyclegan, channels=(3, 3)), 1), 0)
    assert logs[0]["loss_identity"].item() > 0


@pytest.mark.parametrize("family", [pix2pix, cyclegan])
def test_samples_and_export(family, tmp_path):
    ctx = _context(family)
    parts = family.build(ctx)
    family.save_samples(parts, tmp_path, 0, seed=0)
    assert not (tmp_path / "samples.png").exists()  # no batch seen yet
    _run(family, parts, _batches(ctx, 1), 0)
    state = torch.get_rng_state()
    family.save_samples(parts, tmp_path, 1, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    rows = 2 * SMALL["num_samples"] if family is cyclegan else SMALL["num_samples"]
    for path in (tmp_path / "samples.png", tmp_path / "samples" / "step_000001.png"):
        image = Image.open(path)
        assert image.size == (3 * 30 + 2, rows * 30 + 2) and image.mode == "RGB"

    G = family.sampler(parts)
    family.export(parts, G, tmp_path)
    generators, meta = load_translator(tmp_path / "translator.pt")
    assert meta["family"] == family.NAME and meta["shape_a"] == [1, 28, 28] and meta["shape_b"] == [3, 28, 28]
    assert meta["directions"] == (["a2b", "b2a"] if family is cyclegan else ["a2b"])
    images = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(translate(generators["a2b"], images), translate(G, images))


def test_build_rejects_bad_shapes_and_config():
    mismatched = {"pair": {"a": (1, 28, 28), "b": (3, 32, 32)}}
    with pytest.raises(ValueError, match="one image size"):
        pix2pix.build(BuildContext(SimpleNamespace(**pix2pix.DEFAULTS), "cpu", mismatched, 10, "p", 0))
    with pytest.raises(ValueError, match="stream 'a'"):
        cyclegan.build(BuildContext(SimpleNamespace(**cyclegan.DEFAULTS), "cpu", {"pair": {}}, 10, "c", 0))
    with pytest.raises(ValueError, match="gan_loss"):
        pix2pix.build(_context(pix2pix, gan_loss="wgan_gp"))
    with pytest.raises(ValueError, match="lambda_cycle"):
        cyclegan.build(_context(cyclegan, lambda_cycle=-1.0))
