"""The training loop: outputs, bit-exact resume (test hook and a real SIGKILL), NaN guard, validation."""

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ganops import train_gan as tg
from ganops.config import GanConfig, VariantConfig
from ganops.generator_io import load_generator, sample_images
from ganops.train_gan import DivergenceError, TrainingInterrupted, train_gan

GAN = GanConfig(device="cpu", deterministic=True)


def data(n=48, size=28, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, size, size), dtype=np.float32), rng.integers(0, 3, n)


def cfg(**overrides):
    base = dict(arch="dcgan", loss="non_saturating", z_dim=8, width=8, batch_size=8, num_steps=6,
                checkpoint_every=2, log_every=1, ema_decay=0.9)  # fmt: skip
    return VariantConfig(**{**base, **overrides})


def weights(path: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(path, weights_only=True)
    return {f"{m}.{k}": v for m in ("G", "D", "G_ema") for k, v in ckpt[m].items()}


def assert_bit_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_full_run_writes_outputs(tmp_path):
    images, labels = data()
    logged = []
    result = train_gan("v", cfg(), GAN, images, labels, tmp_path / "out", tmp_path / "ck", 0,
                       log=lambda step, values: logged.append((step, values)))  # fmt: skip
    assert result.steps == 6 and result.resumed_from is None and result.device == "cpu"
    assert result.images_per_second > 0 and set(result.losses) == set(tg.LOG_KEYS)
    assert [s for s, _ in logged] == [1, 2, 3, 4, 5, 6]
    rows = list(csv.DictReader((tmp_path / "out/losses.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert float(rows[-1]["loss_d"]) == pytest.approx(logged[-1][1]["loss_d"])
    assert (tmp_path / "out/samples.png").is_file()
    assert sorted(p.name for p in (tmp_path / "out/samples").iterdir()) == [
        "step_000002.png", "step_000004.png", "step_000006.png"
    ]  # fmt: skip
    G, meta = load_generator(tmp_path / "out/generator.pt")
    x = sample_images(G, meta, 5, seed=0)
    assert x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert not torch.are_deterministic_algorithms_enabled()  # restored afterwards


# wgan_gp + DiffAugment + conditional + n_critic 2 draws from every RNG stream the loop uses.
RESUME_CFG = dict(loss="wgan_gp", n_critic=2, diffaugment=True, conditional=True, num_steps=7, checkpoint_every=2)


def test_resume_after_interruption_is_bit_exact(tmp_path, capsys):
    images, labels = data()
    train_gan("v", cfg(**RESUME_CFG), GAN, images, labels, tmp_path / "a", tmp_path / "ck_a", 0)
    with pytest.raises(TrainingInterrupted):
        train_gan("v", cfg(**RESUME_CFG), GAN, images, labels, tmp_path / "b", tmp_path / "ck_b", 0, stop_after=5)
    assert torch.load(tmp_path / "ck_b/last.pt", weights_only=True)["step"] == 4
    result = train_gan("v", cfg(**RESUME_CFG), GAN, images, labels, tmp_path / "b", tmp_path / "ck_b", 0)
    assert "resuming v from step 4" in capsys.readouterr().out
    assert result.resumed_from == 4 and result.steps == 7
    assert_bit_identical(weights(tmp_path / "ck_a/last.pt"), weights(tmp_path / "ck_b/last.pt"))
    ga = torch.load(tmp_path / "a/generator.pt", weights_only=True)["state_dict"]
    gb = torch.load(tmp_path / "b/generator.pt", weights_only=True)["state_dict"]
    assert_bit_identical(ga, gb)
    # the loss history is the uninterrupted one: rows logged after the checkpoint are not duplicated
    assert (tmp_path / "a/losses.csv").read_text() == (tmp_path / "b/losses.csv").read_text()


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time, numpy as np
    from pathlib import Path
    from ganops.config import GanConfig, VariantConfig
    from ganops.train_gan import train_gan
    rng = np.random.default_rng(0)
    images, labels = rng.random((48, 1, 28, 28), dtype=np.float32), rng.integers(0, 3, 48)
    cfg = VariantConfig(arch="dcgan", loss="non_saturating", z_dim=8, width=8, batch_size=8,
                        num_steps=40, checkpoint_every=2, log_every=1, ema_decay=0.9)
    train_gan("v", cfg, GanConfig(device="cpu", deterministic=True), images, labels,
              Path(sys.argv[1]), Path(sys.argv[2]), 0, log=lambda step, values: time.sleep(0.1))
    """
)


def test_resume_after_sigkill_is_bit_exact(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(tg.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "b"), str(tmp_path / "ck_b")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 60
    while not (tmp_path / "ck_b/last.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.35)  # die mid-way, a few steps past a checkpoint
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = torch.load(tmp_path / "ck_b/last.pt", weights_only=True)["step"]
    assert 2 <= killed_at < 40
    images, labels = data()
    c = cfg(num_steps=40)
    resumed = train_gan("v", c, GAN, images, labels, tmp_path / "b", tmp_path / "ck_b", 0)
    assert resumed.resumed_from == killed_at
    train_gan("v", c, GAN, images, labels, tmp_path / "a", tmp_path / "ck_a", 0)
    assert_bit_identical(weights(tmp_path / "ck_a/last.pt"), weights(tmp_path / "ck_b/last.pt"))


def test_config_change_on_resume_names_the_keys(tmp_path):
    images, labels = data()
    with pytest.raises(TrainingInterrupted):
        train_gan("v", cfg(), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0, stop_after=2)
    with pytest.raises(ValueError, match=r"variant_config.lr_g.*variant_config.z_dim"):
        train_gan("v", cfg(lr_g=1e-3, z_dim=9), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    with pytest.raises(ValueError, match=r"\(seed\)"):
        train_gan("v", cfg(), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 1)
    # schedule keys may change: a longer run continues from the checkpoint
    result = train_gan("v", cfg(num_steps=3), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    assert result.resumed_from == 2 and result.steps == 3


def test_nan_guard_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real_step = tg.train_step

    def poisoned(tr, next_batch, step):
        values = real_step(tr, next_batch, step)
        if step >= 3:  # the 4th step's loss is NaN
            values[tg.LOSS_D] = values[tg.LOSS_D] * float("nan")
        return values

    monkeypatch.setattr(tg, "train_step", poisoned)
    images, labels = data()
    with pytest.raises(DivergenceError, match=r"v: loss became NaN/inf at step 4") as info:
        train_gan("v", cfg(), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    assert isinstance(info.value, RuntimeError)
    ckpt = torch.load(tmp_path / "ck/last.pt", weights_only=True)
    assert ckpt["step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["G"].values() if v.is_floating_point())
    assert not (tmp_path / "o/generator.pt").exists()


def test_mlp_minimax_on_small_images_without_ema(tmp_path):
    images, labels = data(size=8)
    c = cfg(arch="mlp", loss="minimax", ema_decay=0.0, num_steps=3, checkpoint_every=10, log_every=2)
    result = train_gan("seed_mlp", c, GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    assert result.steps == 3
    ckpt = torch.load(tmp_path / "ck/last.pt", weights_only=True)
    assert ckpt["step"] == 3 and ckpt["G_ema"] == {}
    exported = torch.load(tmp_path / "o/generator.pt", weights_only=True)["state_dict"]
    assert_bit_identical(exported, ckpt["G"])  # without EMA the exported G is the trained G


def test_inputs_are_validated_before_training(tmp_path):
    images, labels = data()
    no_labels = np.full(len(images), -1)
    with pytest.raises(ValueError, match="is conditional but the data has no labels"):
        train_gan("c", cfg(conditional=True), GAN, images, no_labels, tmp_path / "o", tmp_path / "ck", 0)
    with pytest.raises(ValueError, match="batch_size"):
        train_gan("v", cfg(batch_size=64), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    with pytest.raises(ValueError, match="label_smoothing"):
        train_gan("v", cfg(loss="hinge", label_smoothing=0.1), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    assert not (tmp_path / "ck").exists()
