"""The `generate_fakes@VARIANT` stage: sample a variant's generator into data/fakes/VARIANT.

Fakes are split train/test in the proportion of the detectors' real training images
(`detector.real_splits`) to the real test split, and stored like the reals (detection.fakes), with a
distinct stable seed per (run seed, variant, part).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import mlflow
import numpy as np

from ganops.config.params import Params
from ganops.core import atomic
from ganops.data.dataset import file_sha256, load_manifest, load_split
from ganops.detection.fakes import FAKE_PARTS, FAKES_MANIFEST
from ganops.tracking import runs as tracking

_SAMPLE_BATCH = 500  # fixed, so the stored fakes never depend on a tuning knob


def fake_counts(num_fakes: int, num_real_train: int, num_real_test: int) -> tuple[int, int]:
    """Split `num_fakes` into (train, test) in the proportion of the reals detectors train and test on."""
    share = num_real_train / max(num_real_train + num_real_test, 1)
    num_train = min(max(1, round(num_fakes * share)), num_fakes - 1)
    return num_train, num_fakes - num_train


def fake_seed(seed: int, variant: str, part: str) -> int:
    """A distinct, stable sampling seed per (run seed, variant, part); independent of Python's hash()."""
    entropy = [seed, zlib.crc32(variant.encode()), FAKE_PARTS.index(part), 0x5EED]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def on_8bit_grid(images: np.ndarray) -> bool:
    """True when every pixel is k/255: the images came from 8-bit files without resizing."""
    scaled = images.astype(np.float64) * 255.0
    return bool(np.abs(scaled - np.round(scaled)).max() < 1e-3) if images.size else False


def run(cfg: Params, variant: str, data_dir: Path, generator_path: Path, out_dir: Path) -> dict:
    """Sample detector.num_fakes images from one variant's generator into out_dir/{train,test}_images.npy."""
    from ganops.image.export import load_generator, sample_images

    if variant not in cfg.gan.variants:
        raise ValueError(f"gan.variants: no variant {variant!r} (defined: {', '.join(cfg.gan.variants)})")
    counts = load_manifest(data_dir)["counts"]
    real, _ = load_split(data_dir, "detector_train")
    G, meta = load_generator(generator_path)
    if tuple(meta["image_shape"]) != tuple(real.shape[1:]):
        raise ValueError(
            f"{generator_path}: makes images {tuple(meta['image_shape'])} but {data_dir} holds "
            f"{tuple(real.shape[1:])}; run `dvc repro train_gan` after changing data.*"
        )
    quantise = on_8bit_grid(real)
    # train:test like the reals the detectors learn from (detector.real_splits) : the test reals
    num_real_train = sum(counts[split] for split in cfg.detector.real_splits)
    num_train, num_test = fake_counts(cfg.detector.num_fakes, num_real_train, counts["test"])
    sizes = {"train": num_train, "test": num_test}
    seeds = {part: fake_seed(cfg.seed, variant, part) for part in FAKE_PARTS}
    params_used = {"seed": cfg.seed, "num_fakes": cfg.detector.num_fakes, "real_splits": cfg.detector.real_splits}
    with tracking.stage_run("generate_fakes", cfg.registry.experiment, params_used, {"variant": variant}):
        with atomic.atomic_dir(out_dir) as tmp:
            hashes = {}
            for part in FAKE_PARTS:
                images = sample_images(G, meta, sizes[part], seed=seeds[part], batch_size=_SAMPLE_BATCH)
                if quantise:
                    images = (np.round(images * 255.0) / 255.0).astype(np.float32)  # (N, C, H, W), k/255
                assert images.dtype == np.float32 and images.shape[1:] == real.shape[1:]
                np.save(tmp / f"{part}_images.npy", images, allow_pickle=False)
                hashes[f"{part}_images.npy"] = file_sha256(tmp / f"{part}_images.npy")
            manifest = {
                "variant": variant,
                "generator_sha256": file_sha256(generator_path),
                "counts": sizes,
                "seeds": seeds,
                "quantised_8bit": quantise,
                "image_shape": list(real.shape[1:]),
                "sha256": hashes,
            }
            atomic.write_json(tmp / FAKES_MANIFEST, manifest)
        mlflow.log_metrics({f"num_fakes_{part}": float(n) for part, n in sizes.items()})
        mlflow.set_tag("quantised_8bit", str(quantise))
    return manifest
