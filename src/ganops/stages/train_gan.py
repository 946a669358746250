"""The `train_gan@VARIANT` stage: one image-GAN variant on the shared loop, resumable.

Each checkpoint is scored with a cheap FID/IS against gan_train images (curves in quality.csv and
MLflow); generator.pt is the checkpoint with the best probe FID. Checkpoints live in a folder keyed
by a hash of everything that defines the run (the run key), so a params change starts afresh while a
killed run with the same params resumes; the folder is removed once training ends.

Multi-GPU: `torchrun --nproc_per_node=N -m ganops.cli.main train-gan VARIANT` trains with DDP, one
process per GPU (batch_size per GPU); rank 0 alone logs to MLflow and writes the outputs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic, distributed
from ganops.core.artifacts import GENERATOR, INTERPOLATION, LOSSES_CSV, QUALITY_CSV, SAMPLES, SAMPLES_DIR
from ganops.core.devices import pick_device
from ganops.data.dataset import dataset_hash, load_manifest, load_split
from ganops.evaluation.evaluator import load_evaluator
from ganops.evaluation.quality import make_quality_probe
from ganops.image.export import load_generator, sample_images, save_interpolation_gif
from ganops.image.family import train_gan
from ganops.tracking import candidates, datasets
from ganops.tracking import runs as tracking
from ganops.tracking.generator_model import GENERATOR as GENERATOR_CODE
from ganops.training.loop import TrainResult

# quality.csv's columns are named by how they were measured (`fid_1k_domain_train`), which DVC's plot
# definitions cannot compute from params: this copy names them `fid` / `is` for the overlay charts.
PROBE_CURVES = "probe_curves.csv"


def run(cfg: Params, variant: str, data: Path, evaluator: Path, out: Path, checkpoints: Path) -> TrainResult | None:
    """Train `variant`; returns its TrainResult on rank 0 (None on the other DDP ranks)."""
    vcfg = cfg.gan.variants[variant]
    dist = distributed.init_from_env(cfg.gan.device)  # single process unless under torchrun
    try:
        manifest = load_manifest(data)
        images, labels = load_split(data, "gan_train")
        # the probe scores against gan_train images, never the test split that evaluate_gan reports on
        net = load_evaluator(evaluator, device=dist.device or pick_device(cfg.gan.device))
        probe = make_quality_probe(net, images, cfg.evaluate.probe_num_images, cfg.seed, sample=sample_images)
        params_used = {
            "seed": cfg.seed,
            "variant": vcfg.model_dump(),
            "gan": cfg.gan.model_dump(exclude={"variants"}),
            "probe_num_images": cfg.evaluate.probe_num_images,
        }
        tags = {"variant": variant, "data_sha256": dataset_hash(manifest)}
        run_key = hashlib.sha256(json.dumps({**params_used, **tags}, sort_keys=True).encode()).hexdigest()[:12]
        run_checkpoints = checkpoints / run_key
        train = dict(quality=probe, quality_key=probe.fid_key, dist=dist, class_names=manifest.get("class_names"))
        if not dist.is_main:  # other ranks train in step with rank 0 and write nothing
            train_gan(variant, vcfg, cfg.gan, images, labels, out, run_checkpoints, cfg.seed, **train)
            return None
        with tracking.stage_run("train_gan", cfg.registry.experiment, params_used, tags):
            datasets.log_prepared(data, "gan_train", images, labels, context="training")
            result = train_gan(variant, vcfg, cfg.gan, images, labels, out, run_checkpoints, cfg.seed,
                               log=_log_step, **train)  # fmt: skip
            shutil.rmtree(run_checkpoints, ignore_errors=True)
            checkpoints.mkdir(parents=True, exist_ok=True)  # DVC's persistent output must exist
            mlflow.log_metrics(
                {"images_per_second": result.images_per_second, "quality_seconds": result.quality_seconds}
            )
            # The candidate: one LoggedModel per trained generator, with the params that made it.
            model_id = candidates.log_candidate(
                "generator", variant, out / GENERATOR, GENERATOR_CODE, params_used, tags
            )
            if result.best_step is not None:
                best = {"best_step": result.best_step, f"best_{probe.fid_key}": result.best_quality}
                candidates.log_model_metrics(model_id, best)
                mlflow.set_tag("best_step", str(result.best_step))
            G, meta = load_generator(out / GENERATOR)
            save_interpolation_gif(out / INTERPOLATION, G, meta, seed=cfg.seed)
            write_probe_curves(out / QUALITY_CSV, out / PROBE_CURVES, {probe.fid_key: "fid", probe.is_key: "is"})
            for name in (SAMPLES, INTERPOLATION, LOSSES_CSV, QUALITY_CSV):
                if (out / name).is_file():
                    mlflow.log_artifact(str(out / name))
            log_sample_grids(out / SAMPLES_DIR, last_step=result.steps)
        return result
    finally:
        distributed.shutdown()


def write_probe_curves(quality_csv: Path, out: Path, columns: dict[str | None, str]) -> None:
    """`step` plus the probe's FID and IS under the plain names in `columns` ({quality.csv column: name})."""
    rows = list(csv.DictReader(quality_csv.open())) if quality_csv.is_file() else []
    keep = {old: new for old, new in columns.items() if old and rows and old in rows[0]}
    with atomic.atomic_path(out) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", *keep.values()])
        writer.writerows([row["step"], *(row[old] for old in keep)] for row in rows)


def _log_step(step: int, values: dict[str, float]) -> None:
    mlflow.log_metrics(values, step=step)


def log_sample_grids(folder: Path, last_step: int) -> None:
    """Each checkpoint's fixed-noise grid (samples/step_XXXXXX.png, up to `last_step`: a longer earlier
    run may have left later ones) as an MLflow image with its step: the UI's step slider shows them."""
    from PIL import Image

    for path in sorted(folder.glob("step_*.png")) if folder.is_dir() else []:
        step = int(path.stem.removeprefix("step_"))
        if step <= last_step:
            with Image.open(path) as grid:
                mlflow.log_image(grid.copy(), key="samples", step=step)
