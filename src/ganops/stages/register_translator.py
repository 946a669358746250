"""The `register_translator` stage: the best translator (label preservation, ties by FID) as
`ganops-translator` under the champion/challenger/previous-champion rule, and the report table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mlflow

from ganops.config.params import Params
from ganops.core import atomic
from ganops.tracking import pyfunc_code, registry
from ganops.tracking import runs as tracking
from ganops.translation.evaluation import FID, LABEL_PRESERVATION
from ganops.translation.report import report_markdown
from ganops.translation.translator_io import TRANSLATOR

PYFUNC_CODE = pyfunc_code("translator_pyfunc")  # logged as models-from-code


def _read(metrics_dir: Path, variants: list[str]) -> dict[str, dict[str, float]]:
    found = {}
    for variant in variants:
        path = metrics_dir / f"{variant}.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no metrics for {variant!r}; run `dvc repro evaluate_translator` first")
        found[variant] = json.loads(path.read_text())
    return found


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
    all_metrics = _read(metrics_dir, list(cfg.translation.variants))
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

        def log_model() -> str:
            info = mlflow.pyfunc.log_model(
                name="translator", python_model=str(PYFUNC_CODE), artifacts={"translator": str(weights)},
                signature=_signature(),
            )  # fmt: skip
            return info.model_uri

        candidate = registry.Candidate(weights=weights, metrics=all_metrics[best], log_model=log_model, tags=tags)
        decision = registry.register(cfg.translation.model_name, candidate, primary=primary, lower_is_better=lower)
        decision["variant"] = best
        mlflow.set_tags({"decision": decision["alias"], "decision_reason": decision["reason"]})
    markdown = report_markdown(all_metrics, best, primary)
    version = f"`{decision['model_name']}` v{decision['version']}"
    markdown += f"\nRegistry: {version} → `{decision['alias']}` ({decision['reason']}).\n"
    atomic.write_text(report, markdown)
    atomic.write_json(out, decision)
    return decision


def _signature():
    """No fixed input schema (arrays of either domain, or a `path` column); one optional `direction` param."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ParamSchema, ParamSpec

    return ModelSignature(inputs=None, params=ParamSchema([ParamSpec("direction", "string", "a2b")]))
