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
from ganops.tracking import generator_pyfunc, registry
from ganops.tracking import runs as tracking

PYFUNC_CODE = Path(generator_pyfunc.__file__)  # logged as models-from-code


def _read_variant_metrics(metrics_dir: Path, variants: list[str]) -> dict[str, dict[str, float]]:
    found = {}
    for variant in variants:
        path = metrics_dir / f"{variant}.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no metrics for variant {variant!r}; run `dvc repro evaluate_gan` first"
            )
        found[variant] = json.loads(path.read_text())
    return found


def run(cfg: Params, metrics_dir: Path, models_dir: Path, out: Path, reference: Path, report: Path) -> dict:
    key = fid_key(cfg.evaluate.num_images)
    all_metrics = _read_variant_metrics(metrics_dir, list(cfg.gan.variants))
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

        def log_model() -> str:
            info = mlflow.pyfunc.log_model(
                name="generator",
                python_model=str(PYFUNC_CODE),
                artifacts={"generator": str(weights)},
            )
            return info.model_uri

        candidate = registry.Candidate(
            weights=weights, metrics=all_metrics[best], log_model=log_model, tags=tags
        )
        decision = registry.register(cfg.registry.model_name, candidate, primary=key, lower_is_better=True)
        decision["variant"] = best
        mlflow.set_tags({"decision": decision["alias"], "decision_reason": decision["reason"]})
    reference_metrics = json.loads(reference.read_text()) if reference.is_file() else {}
    markdown = gan_report_markdown(all_metrics, reference_metrics, cfg.evaluate.num_images, chosen=best)
    version = f"`{decision['model_name']}` v{decision['version']}"
    markdown += f"\nRegistry: {version} → `{decision['alias']}` ({decision['reason']}).\n"
    atomic.write_text(report, markdown)
    atomic.write_json(out, decision)
    return decision
