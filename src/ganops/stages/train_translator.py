"""The `train_translator@VARIANT` stage: one translator (pix2pix or CycleGAN) on the shared loop, resumable.

pix2pix trains on the gan_train pairs, CycleGAN on the unpaired view of gan_train (never a pair).
Each checkpoint is scored by the label preservation of the A → B generator on a fixed slice of
detector_train A images (never the test split), judged by the domain-B classifier; translator.pt is
the checkpoint with the best probe score, logged by this run as the candidate LoggedModel
`translator-VARIANT` with the params that made it (ganops.tracking.candidates). Checkpoints live in a
folder keyed by everything that defines the run (params + data hash): a killed run with the same params
resumes, a change starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core.artifacts import LOSSES_CSV, QUALITY_CSV, SAMPLES
from ganops.core.devices import pick_device
from ganops.data.dataset import load_manifest
from ganops.evaluation.evaluator import load_evaluator
from ganops.tracking import candidates
from ganops.tracking import runs as tracking
from ganops.tracking.translator_model import TRANSLATOR as TRANSLATOR_CODE
from ganops.training.loop import TrainResult
from ganops.translation.evaluation import TranslationProbe
from ganops.translation.prepared import UNPAIRED_TRAIN, dataset_hash, load_translation_split
from ganops.translation.training import train_translator
from ganops.translation.translator_io import TRANSLATOR

TRAIN_VIEW = {"pix2pix": "gan_train", "cyclegan": UNPAIRED_TRAIN}


def run(cfg: Params, variant: str, data: Path, evaluator: Path, out: Path, checkpoints: Path) -> TrainResult:
    vcfg = cfg.translation.variants[variant]
    device = pick_device(cfg.gan.device)
    manifest = load_manifest(data)
    train = load_translation_split(data, TRAIN_VIEW[vcfg.family])
    probe = TranslationProbe(
        load_evaluator(evaluator, device=device), load_translation_split(data, "detector_train"),
        cfg.translation.probe_num_images, cfg.seed, device,
    )  # fmt: skip
    params_used = {
        "seed": cfg.seed,
        "variant": vcfg.model_dump(),
        "gan": cfg.gan.model_dump(include={"device", "deterministic", "channels_last"}),
        "probe_num_images": cfg.translation.probe_num_images,
    }
    tags = {"variant": variant, "family": vcfg.family, "data_sha256": dataset_hash(manifest)}
    run_key = hashlib.sha256(json.dumps({**params_used, **tags}, sort_keys=True).encode()).hexdigest()[:12]
    run_checkpoints = checkpoints / run_key
    with tracking.stage_run("train_translator", cfg.registry.experiment, params_used, tags):
        result = train_translator(
            variant, vcfg, cfg.gan, train, out, run_checkpoints, cfg.seed, quality=probe, quality_key=probe.key,
            log=lambda step, values: mlflow.log_metrics(values, step=step),
        )  # fmt: skip
        shutil.rmtree(run_checkpoints, ignore_errors=True)
        checkpoints.mkdir(parents=True, exist_ok=True)  # DVC's persistent output must exist
        mlflow.log_metrics({"images_per_second": result.images_per_second, "quality_seconds": result.quality_seconds})
        # The candidate: one LoggedModel per trained translator, with the params that made it.
        model_id = candidates.log_candidate("translator", variant, out / TRANSLATOR, TRANSLATOR_CODE, params_used, tags)
        candidates.log_best_checkpoint(model_id, result.best_step, probe.key, result.best_quality)
        for name in (SAMPLES, LOSSES_CSV, QUALITY_CSV):
            if (out / name).is_file():
                mlflow.log_artifact(str(out / name))
    return result
