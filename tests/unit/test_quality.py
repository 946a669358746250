"""Quality over training: the FID/IS probe, best-checkpoint export, and bit-exact resume with a probe."""

import csv

import numpy as np
import pytest
import torch
from torch import nn

from ganops.evaluation.evaluator import TASK_ROTATION, build_evaluator
from ganops.evaluation.metrics import compute_features
from ganops.evaluation.quality import lower_is_better, make_quality_probe, probe_key
from ganops.image.export import sample_images
from ganops.image.family import train_gan
from ganops.training.loop import TrainingInterrupted

from tiny_training import GAN, cfg, data

META = {"variant_config": {"z_dim": 4, "conditional": False}, "num_classes": 0}


def blobs(n: int, size: int = 28, seed: int = 0) -> np.ndarray:
    """Structured 'real' images: one Gaussian blob each, float32 (n, 1, size, size) in [0, 1]."""
    rng = np.random.default_rng(seed)
    grid = np.arange(size, dtype=np.float32)
    cy, cx = rng.uniform(6, size - 6, (2, n, 1, 1)).astype(np.float32)
    width = rng.uniform(2, 5, (n, 1, 1)).astype(np.float32)
    images = np.exp(-((grid[:, None] - cy) ** 2 + (grid[None, :] - cx) ** 2) / (2 * width**2))
    return images[:, None].astype(np.float32)


def evaluator(feature_dim: int = 16, seed: int = 0):
    torch.manual_seed(seed)
    return build_evaluator((1, 28, 28), num_classes=3, feature_dim=feature_dim).eval()


class FixedImages(nn.Module):
    """A 'generator' that ignores its noise and returns given images (in [-1, 1]), in the given order."""

    def __init__(self, images: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("images", torch.from_numpy(images) * 2 - 1)
        self.scale = nn.Parameter(torch.ones(()))
        self.pos = 0

    def forward(self, z, y=None):
        out = self.images[self.pos : self.pos + len(z)] * self.scale
        self.pos += len(z)
        return out


class Noise(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z, y=None):
        gen = torch.Generator().manual_seed(int(z.abs().sum() * 1000) % 2**31)
        return (torch.rand(len(z), 1, 28, 28, generator=gen) * 2 - 1) * self.scale


def test_probe_keys_name_network_count_and_reference_set():
    assert probe_key("fid", 1000) == "fid_1k_domain_train"
    assert probe_key("is", 500, "inception") == "is_500_inception_train"
    assert lower_is_better("fid_1k_domain_train") and lower_is_better("kid_5k_domain")
    assert not lower_is_better("is_1k_domain_train") and not lower_is_better("precision_5k_domain")


def test_probe_fid_real_vs_same_real_is_zero_and_noise_is_far():
    real = blobs(300)
    probe = make_quality_probe(evaluator(), real, num_images=300, seed=0, sample=sample_images)
    assert probe.real_count == 300 and probe.keys == ["fid_300_domain_train", "is_300_domain_train"]
    rng_before = torch.get_rng_state()
    same = FixedImages(real[::-1].copy()).train()  # the very same images, in another order
    scores = probe(same, META)
    assert set(scores) == {"fid_300_domain_train", "is_300_domain_train"}
    assert same.training  # mode restored
    noise = probe(Noise(), META)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the training RNG stream is untouched
    assert scores["fid_300_domain_train"] < 1e-6 * noise["fid_300_domain_train"]
    assert noise["fid_300_domain_train"] > 1e-3
    assert scores["is_300_domain_train"] >= 1.0 and noise["is_300_domain_train"] >= 1.0
    # other real blobs (not the probe's subset): a small but non-zero FID, well below noise
    other = probe(FixedImages(blobs(300, seed=1)), META)["fid_300_domain_train"]
    assert 0 < other < 0.5 * noise["fid_300_domain_train"]
    assert len(probe.seconds) == 3


def test_probe_uses_a_fixed_subset_and_rejects_bad_input():
    real = blobs(400)
    net = evaluator()
    a = make_quality_probe(net, real, num_images=200, seed=3, sample=sample_images)
    assert all(p.is_contiguous() for p in net.parameters())  # the caller's network is left as it was
    mu = compute_features(net, real, 500)[0].astype(np.float64).mean(axis=0)
    assert not np.allclose(a.real_mu, mu, atol=1e-6)  # a subset of 200 of the 400, not all of them
    b = make_quality_probe(evaluator(), real, num_images=200, seed=3, sample=sample_images)
    assert a.real_count == 200 and np.array_equal(a.real_mu, b.real_mu)
    assert a(Noise(), META) == b(Noise(), META)  # deterministic for a given seed
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        make_quality_probe(evaluator(), real * 255, num_images=200, seed=0, sample=sample_images)
    with pytest.raises(ValueError, match="num_images must be at least 2"):
        make_quality_probe(evaluator(), real, num_images=1, seed=0, sample=sample_images)
    with pytest.warns(UserWarning, match="rank-deficient"):
        make_quality_probe(evaluator(), real, num_images=10, seed=0, sample=sample_images)
    rotation = evaluator()
    rotation.task = TASK_ROTATION
    assert make_quality_probe(rotation, real, num_images=200, seed=0, sample=sample_images).keys == [
        "fid_200_domain_train"
    ]


# --- the probe inside the training loop ---


class Scripted:
    """A probe returning scripted values per call, keeping a copy of each generator it saw."""

    def __init__(self, fid: list[float], key: str = "fid_1k_domain_train") -> None:
        self.fid, self.key, self.seen = list(fid), key, []

    def __call__(self, G, meta):
        self.seen.append({k: v.clone() for k, v in G.state_dict().items()})
        value = self.fid[len(self.seen) - 1]
        return {self.key: value, "is_1k_domain_train": 10.0 - value}


def exported(path):
    return torch.load(path, weights_only=True)["state_dict"]


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_best_checkpoint_is_exported_and_logged(tmp_path):
    images, labels = data()
    probe = Scripted([5.0, 3.0, 4.0])  # checkpoints at steps 2, 4, 6: step 4 is best
    logged = []
    result = train_gan("v", cfg(), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0,
                       log=lambda step, values: logged.append((step, values)),
                       quality=probe, quality_key=probe.key)  # fmt: skip
    assert result.best_step == 4 and result.best_quality == 3.0 and result.quality_seconds >= 0
    assert_same(exported(tmp_path / "o/generator.pt"), probe.seen[1])  # G_ema at step 4, not the last
    assert any(not torch.equal(probe.seen[1][k], probe.seen[2][k]) for k in probe.seen[1])
    assert [(s, v[probe.key]) for s, v in logged if probe.key in v] == [(2, 5.0), (4, 3.0), (6, 4.0)]
    rows = list(csv.DictReader((tmp_path / "o/quality.csv").open()))
    assert [(int(r["step"]), float(r[probe.key]), float(r["is_1k_domain_train"])) for r in rows] == [
        (2, 5.0, 5.0), (4, 3.0, 7.0), (6, 4.0, 6.0)
    ]  # fmt: skip
    best = torch.load(tmp_path / "ck/last.pt", weights_only=True)["best"]
    assert best["step"] == 4 and best["value"] == 3.0

    # a higher-is-better key picks the largest value: IS = 10 - fid peaks at step 4 as well, then 2
    probe_is = Scripted([5.0, 8.0, 4.0])
    r = train_gan("v", cfg(), GAN, images, labels, tmp_path / "o2", tmp_path / "ck2", 0,
                  quality=probe_is, quality_key="is_1k_domain_train")  # fmt: skip
    assert r.best_step == 6 and r.best_quality == 6.0
    assert_same(exported(tmp_path / "o2/generator.pt"), probe_is.seen[2])


def test_without_probe_the_last_generator_is_exported(tmp_path):
    images, labels = data()
    result = train_gan("v", cfg(ema_decay=0.0, num_steps=2), GAN, images, labels, tmp_path / "o",
                       tmp_path / "ck", 0)  # fmt: skip
    assert result.best_step is None and result.best_quality is None
    assert not (tmp_path / "o/quality.csv").exists()
    assert_same(exported(tmp_path / "o/generator.pt"), torch.load(tmp_path / "ck/last.pt", weights_only=True)["G"])
    with pytest.raises(ValueError, match="quality_key 'fid' given without a quality probe"):
        train_gan("v", cfg(), GAN, images, labels, tmp_path / "o", tmp_path / "ck3", 0, quality_key="fid")
    with pytest.raises(ValueError, match="not among the probe's metrics"):
        train_gan("v", cfg(num_steps=2), GAN, images, labels, tmp_path / "o", tmp_path / "ck4", 0,
                  quality=Scripted([1.0]), quality_key="fid_5k_domain")  # fmt: skip


RESUME_CFG = dict(loss="wgan_gp", n_critic=2, diffaugment=True, conditional=True, num_steps=7)


def test_resume_with_a_real_probe_is_bit_exact(tmp_path):
    images, labels = data()
    probe = make_quality_probe(evaluator(), blobs(64), num_images=64, seed=0, sample=sample_images)
    key = probe.fid_key
    c = cfg(**RESUME_CFG)
    a = train_gan("v", c, GAN, images, labels, tmp_path / "a", tmp_path / "ck_a", 0, quality=probe, quality_key=key)
    with pytest.raises(TrainingInterrupted):
        train_gan("v", c, GAN, images, labels, tmp_path / "b", tmp_path / "ck_b", 0, quality=probe,
                  quality_key=key, stop_after=5)  # fmt: skip
    # rows written after the step-4 checkpoint (none here) or a stray file must not survive the resume
    with (tmp_path / "b/quality.csv").open("a") as f:
        f.write("5,99,99\n")
    b = train_gan("v", c, GAN, images, labels, tmp_path / "b", tmp_path / "ck_b", 0, quality=probe, quality_key=key)
    assert b.resumed_from == 4 and (b.best_step, b.best_quality) == (a.best_step, a.best_quality)
    ck_a = torch.load(tmp_path / "ck_a/last.pt", weights_only=True)
    ck_b = torch.load(tmp_path / "ck_b/last.pt", weights_only=True)
    for part in ("G", "D", "G_ema"):
        assert_same(ck_a[part], ck_b[part])
    assert_same(ck_a["best"]["G"], ck_b["best"]["G"])
    assert_same(exported(tmp_path / "a/generator.pt"), exported(tmp_path / "b/generator.pt"))
    assert (tmp_path / "a/quality.csv").read_text() == (tmp_path / "b/quality.csv").read_text()
    assert (tmp_path / "a/losses.csv").read_text() == (tmp_path / "b/losses.csv").read_text()
    steps = [int(r["step"]) for r in csv.DictReader((tmp_path / "a/quality.csv").open())]
    assert steps == [2, 4, 6, 7]

    # the probe does not change training: the same run without a probe ends with the same weights
    train_gan("v", c, GAN, images, labels, tmp_path / "n", tmp_path / "ck_n", 0)
    ck_n = torch.load(tmp_path / "ck_n/last.pt", weights_only=True)
    assert_same(ck_a["G_ema"], ck_n["G_ema"])

    # resuming a finished run re-exports the best checkpoint's generator, not the last one
    (tmp_path / "b/generator.pt").unlink()
    again = train_gan("v", c, GAN, images, labels, tmp_path / "b", tmp_path / "ck_b", 0, quality=probe,
                      quality_key=key)  # fmt: skip
    assert again.best_step == a.best_step
    assert_same(exported(tmp_path / "b/generator.pt"), ck_a["best"]["G"])
    # and a different quality key cannot silently reuse the old best
    with pytest.raises(ValueError, match="quality_key"):
        train_gan("v", c, GAN, images, labels, tmp_path / "b", tmp_path / "ck_b", 0, quality=probe,
                  quality_key=probe.is_key)  # fmt: skip
