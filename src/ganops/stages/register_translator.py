"""The `register_translator` stage: the best translator (label preservation, ties by FID) as
`ganops-translator` under the champion/challenger/previous-champion rule, and the report table.

The version registered is the candidate LoggedModel its train_translator run logged (`models:/<model_id>`),
with its test metrics, signature, input example and a description of how it was chosen.
"""

from __future__ import annotations

import math
from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.tracking import candidates, registry
from ganops.tracking import runs as tracking
from ganops.tracking.translator_model import TRANSLATOR as TRANSLATOR_CODE
from ganops.translation.evaluation import FID, LABEL_PRESERVATION
from ganops.translation.report import report_markdown
from ganops.translation.translator_io import TRANSLATOR

MODEL_DESCRIPTION = (
    "Image-to-image translator (domain A → B) trained by ganops (`dvc repro`). Each version is the candidate "
    "(one LoggedModel per trained pix2pix / CycleGAN variant) with the highest test label preservation (ties: "
    "lowest FID to real B; FID alone when a variant lacks labels) among the variants of one pipeline run; alias "
    "`champion` moves to it only when that beats the champion's, `previous-champion` keeps the one before "
    "(`ganops rollback translator`). Input: float32 images (N, C, H, W) in [0, 1] of the source domain, or a "
    "DataFrame with a `path` column; param `direction` a2b (default) or b2a (CycleGAN); output: float32 "
    "images (N, C', H, W) in [0, 1] of the target domain."
)


def choose(all_metrics: dict[str, dict[str, float]]) -> tuple[str, str, bool]:
    """(best variant, primary key, lower is better): label preservation when every variant has it, else FID."""

    def finite(value: float | None, default: float) -> float:
        return value if value is not None and math.isfinite(value) else default

    if all(LABEL_PRESERVATION in m for m in all_metrics.values()):

        def key(v: str) -> tuple[float, float]:
            return (-finite(all_metrics[v][LABEL_PRESERVATION], -1.0), finite(all_metrics[v].get(FID), math.inf))

        return min(all_metrics, key=key), LABEL_PRESERVATION, False
    return min(all_metrics, key=lambda v: finite(all_metrics[v].get(FID), math.inf)), FID, True


def run(cfg: Params, metrics_dir: Path, models_dir: Path, out: Path, report: Path) -> dict:
    all_metrics = candidates.variant_metrics(metrics_dir, list(cfg.translation.variants), "evaluate_translator")
    best, primary, lower = choose(all_metrics)
    weights = models_dir / best / TRANSLATOR
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: translator missing; run `dvc repro train_translator@{best}` first")
    tags = {
        "variant": best,
        "family": cfg.translation.variants[best].family,
        **tracking.provenance_tags(Path.cwd()),
    }
    params_used = {
        "model_name": cfg.translation.model_name,
        "primary_metric": primary,
        "candidates": list(all_metrics),
    }
    with tracking.stage_run("register_translator", cfg.registry.experiment, params_used, tags):
        mlflow.log_metrics({f"{v}.{primary}": m[primary] for v, m in all_metrics.items() if primary in m})
        tie = f"Ties on `{primary}` go to the lower `{FID}`. " if primary == LABEL_PRESERVATION else ""
        note = (
            f"{tie}Family: {tags['family']}. Sample grid: the `samples.png` artifact of its train_translator run "
            f"(`{models_dir / best / 'samples.png'}` in the workspace); its params are on the LoggedModel this "
            "version points at."
        )
        decision = candidates.register_chosen(
            "translator", best, weights, TRANSLATOR_CODE, all_metrics[best], tags,
            model=(cfg.translation.model_name, MODEL_DESCRIPTION), rule=(primary, lower),
            description=registry.chosen_description("Translator", best, primary, all_metrics, lower, note),
        )  # fmt: skip
        atomic.write_text(report, report_markdown(all_metrics, best, primary) + candidates.decision_line(decision))
        atomic.write_json(out, decision)
    return decision
