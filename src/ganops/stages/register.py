"""The `register` stage: pick the best variant by FID and hand it to the champion/challenger rule."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.core.artifacts import GENERATOR
from ganops.evaluation.metric_keys import fid_key
from ganops.evaluation.report import gan_report_markdown
from ganops.tracking import candidates
from ganops.tracking import runs as tracking
from ganops.tracking.generator_model import GENERATOR as GENERATOR_CODE

MODEL_DESCRIPTION = (
    "Image generator trained by ganops (`dvc repro`). Each version is the candidate "
    "(one LoggedModel per trained variant) with the lowest test FID among the variants of one pipeline "
    "run; alias `champion` moves to it only when that FID beats the champion's, `previous-champion` "
    "keeps the one before (`ganops rollback generator`). Input: a DataFrame with an integer `seed` "
    "column (one image per row); output: float32 images (N, C, H, W) in [0, 1]."
)


def run(cfg: Params, metrics_dir: Path, models_dir: Path, out: Path, reference: Path, report: Path) -> dict:
    key = fid_key(cfg.evaluate.num_images)
    all_metrics = candidates.variant_metrics(metrics_dir, list(cfg.gan.variants), "evaluate_gan")
    best = min(all_metrics, key=lambda v: all_metrics[v].get(key, float("inf")))
    weights = models_dir / best / GENERATOR
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: generator weights missing; run `dvc repro train_gan` first")
    tags = {"variant": best, **tracking.provenance_tags(Path.cwd())}

    params_used = {
        "register": cfg.registry.model_dump(),
        "primary_metric": key,
        "candidates": list(all_metrics),
    }
    with tracking.stage_run("register", cfg.registry.experiment, params_used, tags):
        mlflow.log_metrics({f"{variant}.{key}": m[key] for variant, m in all_metrics.items() if key in m})
        decision = candidates.register_chosen(
            "generator", best, weights, GENERATOR_CODE, all_metrics[best], tags,
            model=(cfg.registry.model_name, MODEL_DESCRIPTION), rule=(key, True),
            description=version_description(best, key, all_metrics, models_dir),
        )  # fmt: skip
        # The outputs are written inside the run: a run that ends FINISHED always left its decision file.
        reference_metrics = json.loads(reference.read_text()) if reference.is_file() else {}
        markdown = gan_report_markdown(all_metrics, reference_metrics, cfg.evaluate.num_images, chosen=best)
        atomic.write_text(report, markdown + candidates.decision_line(decision))
        atomic.write_json(out, decision)
    return decision


def version_description(best: str, key: str, all_metrics: dict[str, dict[str, float]], models_dir: Path) -> str:
    """Markdown for the version page: what it is, how it was chosen, where its sample grid is."""
    others = ", ".join(f"`{v}` {m[key]:.4g}" for v, m in sorted(all_metrics.items()) if v != best and key in m)
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(all_metrics[best].items()))
    return (
        f"Variant `{best}`, chosen for the lowest `{key}` ({all_metrics[best][key]:.4g}; others: "
        f"{others or 'none'}).\n\nTest metrics: {metrics}.\n\nSample grid: the `samples.png` artifact "
        f"of its train_gan run (`{models_dir / best / 'samples.png'}` in the workspace); its params and "
        "per-checkpoint grids are on the LoggedModel and run this version points at."
    )
