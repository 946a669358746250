"""Golden trajectories: the three recorded recipes and one detector at tiny size, deterministic on CPU.

Recorded before the package restructure (`python tests/golden/golden_runs.py --record`) and compared
by test_golden.py after it: the loop must reproduce the per-step losses and the exported generator's
weights exactly. Re-recorded (on an AVX2 machine) when two speed changes moved the last bits on
purpose: fused Adam on the CPU and the detector CNN in channels_last; before re-recording, the first
steps still agreed with the old recording within the tolerance below. Float results depend on the
CPU's vector ISA (oneDNN picks kernels by it), so the exact check runs where the capability matches
the recording; elsewhere the first steps are compared with a tolerance.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ganops.config.params import CnnDetectorConfig, DetectorConfig, GanConfig, VariantConfig
from ganops.data.dataset import BUILTIN_SOURCES
from ganops.detection.training import train_detector
from ganops.image.family import train_gan

GOLDEN = Path(__file__).with_name("golden_trajectories.json")
NUM_IMAGES, NUM_STEPS = 300, 60
GAN = GanConfig(device="cpu", deterministic=True)
# The recipes as recorded (the params.yaml defaults of the time): the golden checks the loop, not today's
# defaults, which have since moved on (dcgan and wgan_gp became class-conditional).
RECORDED_RECIPES = {
    "seed_mlp": dict(arch="mlp", loss="minimax", z_dim=100, width=128, batch_size=64, lr=2e-4, ema_decay=0.999),
    "dcgan": dict(arch="dcgan", loss="non_saturating", z_dim=64, width=16, batch_size=32, ema_decay=0.999),
    "wgan_gp": dict(
        arch="dcgan",
        loss="wgan_gp",
        z_dim=64,
        width=16,
        batch_size=32,
        n_critic=2,
        gp_weight=10.0,
        beta1=0.5,
        beta2=0.9,
        ema_decay=0.999,
    ),
}


# The detector as recorded, every field that shapes its scores spelled out (like the recipes above): the
# golden checks the code, not today's params.yaml or typed defaults (detector.cnn.downscale_prob is 0.4
# in params.yaml since 0f2eb3f; the recording used 0.3; it scored the image alone, test_time_shift 0).
RECORDED_CNN = dict(
    epochs=2, batch_size=32, lr=2e-3, lr_schedule="cosine", width=8, blur_prob=0.3, blur_sigma_max=1.5,
    downscale_prob=0.3, downscale_min=0.5, noise_prob=0.15, noise_sigma_max=0.08, jpeg_prob=0.15,
    jpeg_quality_min=30, test_time_shift=0,
)  # fmt: skip
RECORDED_VALIDATION_FRACTION = 0.25  # Platt scaling is fitted on this share of the images


def mnist(num: int = NUM_IMAGES) -> tuple[np.ndarray, np.ndarray]:
    images, labels, _ = BUILTIN_SOURCES["mnist"]()
    images = images[:num, None].astype(np.float32)  # (N, 1, 28, 28) in [0, 1]
    return images, labels[:num].astype(np.int64)


def _probe(G: torch.nn.Module, meta: dict) -> dict[str, float]:
    """A deterministic stand-in quality probe (own generator: the training RNG is untouched)."""
    z = torch.randn(16, meta["variant_config"]["z_dim"], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return {"probe_mean": float(G(z, None).mean())}


def state_sha256(path: Path) -> str:
    payload = torch.load(path, weights_only=True)
    digest = hashlib.sha256()
    for key, value in sorted(payload["state_dict"].items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def run_variant(variant: str, tmp: Path) -> dict:
    cfg = VariantConfig(**RECORDED_RECIPES[variant], num_steps=NUM_STEPS, checkpoint_every=20, log_every=1)
    images, labels = mnist()
    logged: list[list[float]] = []
    train_gan(
        variant, cfg, GAN, images, labels, tmp / "out", tmp / "ck", seed=0,
        log=lambda step, values: logged.append([step, *values.values()]) if "loss_d" in values else None,
        quality=_probe, quality_key="probe_mean",
    )  # fmt: skip
    return {"losses": logged, "generator_sha256": state_sha256(tmp / "out" / "generator.pt")}


def run_detector() -> list[float]:
    """Validation scores of a tiny cnn detector: reals vs shifted-noise 'fakes'."""
    cfg = DetectorConfig(cnn=CnnDetectorConfig(**RECORDED_CNN), validation_fraction=RECORDED_VALIDATION_FRACTION)
    real, _ = mnist(200)
    rng = np.random.default_rng(0)
    fake = np.clip(real[::-1] + rng.normal(0, 0.1, real.shape), 0, 1).astype(np.float32)
    torch.manual_seed(0)
    detector = train_detector("cnn", real, fake, cfg, seed=0)
    return [round(float(v), 7) for v in detector.score(real[:40])]


def record_all(tmp: Path) -> dict:
    torch.set_num_threads(1)
    result = {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__}
    for variant in ("seed_mlp", "dcgan", "wgan_gp"):
        result[variant] = run_variant(variant, tmp / variant)
    result["detector_cnn_scores"] = run_detector()
    return result


if __name__ == "__main__" and "--record" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.write_text(json.dumps(record_all(Path(tmp)), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
