"""The `train_video@VARIANT` stage: one video GAN variant on the shared loop, resumable.

Each checkpoint is scored with a cheap FVD_domain of `video.evaluate.probe_num_clips` clips against
gan_train clips (quality.csv, MLflow); generator.pt is the checkpoint with the best probe value, logged
by this run as the candidate LoggedModel `video_generator-VARIANT` with the params that made it
(ganops.tracking.candidates).
Checkpoints live in a folder keyed by a hash of everything that defines the run, so a params change
starts afresh while a killed run with the same params resumes; it is removed once training ends.
Beside the export: samples.gif (a GIF grid per checkpoint in samples/), export.gif and export.mp4.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core.artifacts import GENERATOR, LOSSES_CSV, QUALITY_CSV
from ganops.tracking import candidates
from ganops.tracking import runs as tracking
from ganops.tracking.video_model import VIDEO_GENERATOR as VIDEO_CODE
from ganops.training.loop import TrainResult
from ganops.video.evaluate import VideoProbe
from ganops.video.evaluator import load_judges
from ganops.video.export import load_video_generator, sample_clips
from ganops.video.family import train_video
from ganops.video.prepare import load_clips, load_video_manifest
from ganops.video.video_io import save_gif_grid, save_mp4

SAMPLES_GIF, EXPORT_GIF, EXPORT_MP4 = "samples.gif", "export.gif", "export.mp4"


def save_export_media(out: Path, seed: int, num: int) -> None:
    """export.gif and export.mp4: the same grid of the exported generator's clips."""
    G, meta = load_video_generator(out / GENERATOR)
    clips = sample_clips(G, meta, num, seed=seed)
    save_gif_grid(out / EXPORT_GIF, clips)
    save_mp4(out / EXPORT_MP4, clips)


def run(cfg: Params, variant: str, data: Path, evaluator: Path, out: Path, checkpoints: Path) -> TrainResult:
    vcfg = cfg.video.variants[variant]
    manifest = load_video_manifest(data)
    train = load_clips(data, "gan_train")
    clip_net, _ = load_judges(evaluator)
    probe = VideoProbe(clip_net, train.clips, cfg.video.evaluate.probe_num_clips, cfg.seed)
    params_used = {
        "seed": cfg.seed,
        "variant": vcfg.model_dump(),
        "gan": cfg.gan.model_dump(include={"device", "deterministic"}),
        "probe_num_clips": cfg.video.evaluate.probe_num_clips,
    }
    tags = {"variant": variant, "family": vcfg.arch, "data_sha256": _data_hash(manifest)}
    run_key = hashlib.sha256(json.dumps({**params_used, **tags}, sort_keys=True).encode()).hexdigest()[:12]
    run_checkpoints = checkpoints / run_key
    with tracking.stage_run("train_video", cfg.registry.experiment, params_used, tags):
        result = train_video(
            variant, vcfg, cfg.gan, train.clips, train.labels, out, run_checkpoints, cfg.seed,
            class_names=manifest.get("class_names"), quality=probe, quality_key=probe.key,
            log=lambda step, values: mlflow.log_metrics(values, step=step),
        )  # fmt: skip
        shutil.rmtree(run_checkpoints, ignore_errors=True)
        checkpoints.mkdir(parents=True, exist_ok=True)  # DVC's persistent output must exist
        save_export_media(out, cfg.seed, vcfg.sample_clips)
        mlflow.log_metrics({"clips_per_second": result.images_per_second, "quality_seconds": result.quality_seconds})
        # The candidate: one LoggedModel per trained video generator, with the params that made it.
        model_id = candidates.log_candidate("video_generator", variant, out / GENERATOR, VIDEO_CODE, params_used, tags)
        candidates.log_best_checkpoint(model_id, result.best_step, probe.key, result.best_quality)
        for name in (SAMPLES_GIF, EXPORT_GIF, EXPORT_MP4, LOSSES_CSV, QUALITY_CSV):
            if (out / name).is_file():
                mlflow.log_artifact(str(out / name))
    return result


def _data_hash(manifest: dict) -> str:
    lines = "".join(f"{name}:{digest}\n" for name, digest in sorted(manifest["sha256"].items()))
    return hashlib.sha256(lines.encode()).hexdigest()
