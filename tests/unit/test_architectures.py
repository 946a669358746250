"""Architecture registry, model shapes/ranges, conditional models, and generator export/load/sample."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ganops.config.params import VariantConfig
from ganops.image.architectures import ARCHITECTURES, build_models
from ganops.image.export import export_generator, image_grid, load_generator, sample_images
from ganops.training.conditioning import ClassAffine

CASES = [("mlp", 8), ("mlp", 28), ("dcgan", 28), ("dcgan", 32), ("resnet_sn", 32), ("resnet_sn", 48)]


def vcfg(**overrides):
    base = dict(
        arch="dcgan", loss="non_saturating", conditional=False, z_dim=8, width=8, batch_size=4,
        num_steps=1, n_critic=1, lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, gp_weight=10.0,
        r1_weight=0.0, label_smoothing=0.0, ema_decay=0.0, diffaugment=False, checkpoint_every=1, log_every=1,
    )  # fmt: skip
    return SimpleNamespace(**{**base, **overrides})


def test_registry_holds_the_builtin_architectures():
    assert {"mlp", "dcgan", "resnet_sn"} <= set(ARCHITECTURES)


@pytest.mark.parametrize("conditional", [False, "modulation", "input"])
@pytest.mark.parametrize(("arch", "size"), CASES)
def test_generator_and_discriminator_shapes_and_range(arch, size, conditional):
    torch.manual_seed(0)
    channels = 3 if arch == "resnet_sn" else 1
    cfg = vcfg(arch=arch, conditional=bool(conditional), g_label=conditional or "modulation")
    G, D = build_models(cfg, (channels, size, size), num_classes=5)
    y = torch.tensor([0, 1, 4]) if conditional else None
    x = G(torch.randn(3, 8) * 10, y)  # large noise pushes outputs towards the range ends
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    logits = D(x, y)
    assert logits.shape == (3,)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("g_label", ["modulation", "input"])
@pytest.mark.parametrize(("arch", "size"), [("mlp", 8), ("dcgan", 28), ("resnet_sn", 32)])
def test_conditional_generator_uses_the_label(arch, size, g_label):
    torch.manual_seed(0)
    G, D = build_models(vcfg(arch=arch, conditional=True, g_label=g_label), (1, size, size), num_classes=3)
    for module in G.modules():  # ClassAffine starts as the identity for every class: give it a class signal
        if isinstance(module, ClassAffine):
            torch.nn.init.normal_(module.bias.weight)
    G.eval()
    z = torch.randn(2, 8)
    a, b = G(z, torch.tensor([0, 0])), G(z, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="conditional"):
        G(z)
    with pytest.raises(ValueError, match="conditional"):
        D(a)


def test_modulation_feeds_the_label_to_every_norm_layer_and_z_alone_to_the_first():
    G, _ = build_models(vcfg(arch="dcgan", conditional=True, g_label="modulation"), (1, 28, 28), num_classes=10)
    norms = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d)]
    affines = [m for m in G.modules() if isinstance(m, ClassAffine)]
    assert len(norms) == len(affines) == 2 and not any(m.affine for m in norms)  # 7x7 projection, 14x14
    assert G.project[0].in_features == 8  # z only
    unconditional, _ = build_models(vcfg(arch="dcgan"), (1, 28, 28), num_classes=10)
    assert not any(isinstance(m, ClassAffine) for m in unconditional.modules())


def test_generator_exported_before_g_label_loads_as_label_input(tmp_path):
    """Conditional generators exported before `g_label` existed concatenated the label to z."""
    torch.manual_seed(0)
    old = vcfg(arch="dcgan", conditional=True)  # no g_label key, as in those files
    G, _ = build_models(old, (1, 28, 28), 10)
    assert G.project[0].in_features == 16  # z (8) + label embedding (8)
    export_generator(tmp_path / "g.pt", G, old, (1, 28, 28), 10)
    G2, meta = load_generator(tmp_path / "g.pt")
    assert "g_label" not in meta["variant_config"]
    z, y = torch.randn(3, 8), torch.tensor([1, 2, 3])
    torch.testing.assert_close(G.eval()(z, y), G2(z, y), rtol=0, atol=0)


def test_unknown_arch_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown architecture 'vit'.*dcgan.*mlp.*resnet_sn"):
        build_models(vcfg(arch="vit"), (1, 28, 28), 0)


@pytest.mark.parametrize(("arch", "size"), [("dcgan", 48), ("resnet_sn", 28)])
def test_image_size_the_arch_cannot_produce(arch, size):
    with pytest.raises(ValueError, match=f"{size} px"):
        build_models(vcfg(arch=arch), (1, size, size), 0)


def test_conditional_without_labels_is_refused():
    with pytest.raises(ValueError, match="variant cgan is conditional but the data has no labels"):
        build_models(vcfg(arch="mlp", conditional=True), (1, 8, 8), 0, variant="cgan")


def test_dcgan_critic_has_no_batch_norm_under_wgan_gp():
    def has_bn(model):
        return any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())

    assert has_bn(build_models(vcfg(loss="non_saturating"), (1, 28, 28), 0)[1])
    assert not has_bn(build_models(vcfg(loss="wgan_gp"), (1, 28, 28), 0)[1])


def test_resnet_sn_discriminator_is_spectrally_normalised():
    from torch.nn.utils import parametrize

    _, D = build_models(vcfg(arch="resnet_sn"), (1, 32, 32), 0)
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)


def test_export_load_sample_round_trip(tmp_path):
    torch.manual_seed(0)
    cfg = vcfg(arch="dcgan", conditional=True, g_label="modulation")
    G, _ = build_models(cfg, (1, 28, 28), 10)
    export_generator(tmp_path / "g.pt", G, cfg, (1, 28, 28), 10, [str(i) for i in range(10)])
    G2, meta = load_generator(tmp_path / "g.pt")
    assert meta["arch"] == "dcgan" and meta["image_shape"] == [1, 28, 28] and meta["num_classes"] == 10
    a = sample_images(G2, meta, 7, seed=3, batch_size=4)
    b = sample_images(G2, meta, 7, seed=3, batch_size=4)
    z, y = torch.randn(3, 8), torch.tensor([1, 2, 3])
    torch.testing.assert_close(G.eval()(z, y), G2(z, y), rtol=0, atol=0)
    assert a.shape == (7, 1, 28, 28) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample_images(G2, meta, 7, seed=4, batch_size=4))
    with pytest.raises(ValueError, match="class ids"):
        sample_images(G2, meta, 2, seed=0, labels=np.array([0, 10]))


def test_load_generator_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_generator(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a ganops generator"):
        load_generator(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a ganops generator"):
        load_generator(tmp_path / "junk.pt")


def test_image_grid_layout():
    images = np.ones((5, 1, 4, 4), dtype=np.float32)
    grid = image_grid(images, nrow=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 1)
    assert grid.sum() == 5 * 16 * 255  # five white tiles on black


def test_interpolation_gif_is_an_animation_that_ends_where_it_starts(tmp_path):
    from PIL import Image

    from ganops.image.export import save_interpolation_gif, slerp

    z0, z1 = torch.randn(4, 16), torch.randn(4, 16)
    assert torch.allclose(slerp(z0, z1, 0.0), z0, atol=1e-5)
    assert torch.allclose(slerp(z0, z1, 1.0), z1, atol=1e-4)
    cfg = VariantConfig(arch="dcgan", width=8, z_dim=16)
    G, _ = build_models(cfg, (1, 28, 28), 0)
    meta = {"variant_config": cfg.model_dump(), "num_classes": 0}
    save_interpolation_gif(tmp_path / "walk.gif", G, meta, seed=0, num_rows=4, num_frames=12)
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.n_frames == 12
        assert gif.size == (4 * 30 + 2, 32)
