"""The `detect_translation` stage: real-vs-fake detectors on style-transferred fakes (translation.detection).

Every translator's A → B translations of detector_train A (training) and test A (testing) images are
the fakes, real B images of the same splits the reals; `translation.detector` configures the
detectors (the detection library's DetectorConfig). Writes metrics/detector_translation.json (DVC
metrics) and a markdown report.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np

from ganops.config.params import Params
from ganops.core import atomic
from ganops.core.devices import pick_device
from ganops.tracking import runs as tracking
from ganops.translation.detection import detect_translated, leakage, like_reals, report_markdown
from ganops.translation.prepared import load_translation_split
from ganops.translation.translator_io import TRANSLATOR, load_translator, translate


def _fakes(models_dir: Path, variants: list[str], images: dict[str, np.ndarray], reals: dict, device: str) -> dict:
    """{part: {variant: translated images (N, Cb, H, W)}} for part in images (train, test)."""
    out: dict[str, dict] = {part: {} for part in images}
    for variant in variants:
        generators, _ = load_translator(models_dir / variant / TRANSLATOR, device=device)
        for part, a in images.items():
            out[part][variant] = like_reals(translate(generators["a2b"], a), reals[part])
    return out


def run(cfg: Params, data: Path, models_dir: Path, metrics_out: Path, report_out: Path) -> dict:
    dcfg, device = cfg.translation.detector, pick_device(cfg.gan.device)
    train, test = load_translation_split(data, "detector_train"), load_translation_split(data, "test")
    reals = {"train": train.b, "test": test.b}
    variants = list(cfg.translation.variants)
    params_used = {"seed": cfg.seed, "detector": dcfg.model_dump(), "translators": variants}
    with tracking.stage_run("detect_translation", cfg.registry.experiment, params_used, {}):
        fakes = _fakes(models_dir, variants, {"train": train.a, "test": test.a}, reals, device)
        results = {
            name: detect_translated(
                name, reals["train"], fakes["train"], reals["test"], fakes["test"], dcfg, cfg.seed, device
            )  # fmt: skip
            for name in dcfg.detectors
        }
        leak = leakage(reals["test"], fakes["test"], cfg.seed, dcfg.leak_warn_auc)
        metrics = {"detectors": results, "leakage": leak}
        atomic.write_json(metrics_out, metrics)
        atomic.write_text(report_out, report_markdown(results, leak))
        mlflow.log_metrics({
            f"{name}.{row}.{key}": value for name, result in results.items()
            for row, m in [("all", result["all_translators"]), *result["same_source"].items()]
            for key, value in m.items()
        })  # fmt: skip
    return metrics
