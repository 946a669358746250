"""One MLflow LoggedModel per candidate model, created by the run that trained it (MLflow 3 conventions).

The training stage logs its model (pyfunc from code, with the params that made it, a signature, an
input example and requirements that install) as `generator-dcgan`, `detector-cnn`, ...; evaluation
stages log their metrics against that model (`model_id`), so the MLflow Models tab lines candidates
up with their own metrics and params; the register stage registers the chosen candidate's model
(`models:/<model_id>`), so a registry version points at the very model that was trained and scored.

A candidate is found again by the sha256 of its weights file (tag `weights_sha256`): DVC hands stages
files, not MLflow ids, and a DVC cache hit (`dvc exp run`, checkout) restores identical bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow

import ganops
from ganops.data.dataset import file_sha256

WEIGHTS_TAG = "weights_sha256"
KIND_TAG = "ganops.kind"  # generator | detector | translator | video_generator
ITEM_TAG = "ganops.item"  # the variant / detector name
# Orchestration tools the served model never imports; every other pin of the project ships with it.
NOT_SERVED = {"dvc", "prefect"}
PACKAGE_DIR = Path(ganops.__file__).parent  # shipped with the model (code_paths): `ganops` is not on PyPI


@dataclass(frozen=True)
class ModelCode:
    """How a kind of model is logged: the models-from-code file, its artifact key and an input example."""

    python_model: Path  # a module ending in `mlflow.models.set_model(...)` (tracking/*_pyfunc.py)
    artifact_key: str  # context.artifacts[...] the module loads its weights from
    input_example: Callable[[Path], Any]  # weights file -> an input example (small)
    # None: MLflow infers the signature from the example. A model that validates polymorphic input itself
    # (arrays or a `path` column) gives inputs=None, so serving does not reject what it would accept.
    signature: Callable[[], Any] | None = None


def requirements() -> list[str]:
    """pip requirements that install: the project's own pinned dependencies (torch==2.13.0 first).

    `ganops` itself travels inside the model (code_paths), since it is not on a package index.
    """
    try:
        declared = metadata.requires("ganops") or []
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        declared = []
    pins = [r for r in declared if "extra ==" not in r and r.split("=")[0].strip().lower() not in NOT_SERVED]
    pins = [r.split(";")[0].strip() for r in pins]
    torch = [r for r in pins if r.split("=")[0].strip() == "torch"]
    return torch + [r for r in pins if r not in torch] or [f"mlflow=={mlflow.__version__}"]


def flat_params(params: dict[str, Any]) -> dict[str, str]:
    from ganops.tracking.runs import flatten

    return {k: str(v)[:500] for k, v in flatten("", params).items()}


def log_candidate(
    kind: str,
    item: str,
    weights: Path,
    code: ModelCode,
    params: dict[str, Any],
    tags: dict[str, str] | None = None,
) -> str:
    """Log `weights` as the LoggedModel `KIND-ITEM` of the active run; returns its model_id.

    Call it inside the training run (`stage_run`). `params` are the (nested) options that made the model.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    model_tags = {WEIGHTS_TAG: file_sha256(weights), KIND_TAG: kind, ITEM_TAG: item, **(tags or {})}
    info = mlflow.pyfunc.log_model(
        name=f"{kind}-{item}",
        python_model=str(code.python_model),
        artifacts={code.artifact_key: str(weights)},
        code_paths=[str(PACKAGE_DIR)],
        input_example=code.input_example(weights),
        signature=code.signature() if code.signature else None,
        pip_requirements=requirements(),
        params=flat_params(params),
        tags=model_tags,
        model_type=kind,
    )
    return info.model_id


def find_candidate(weights: Path) -> str | None:
    """The model_id of the newest LoggedModel of these exact weights in the active experiment, or None."""
    sha = file_sha256(weights)
    found = mlflow.search_logged_models(
        filter_string=f"tags.{WEIGHTS_TAG} = '{sha}'",
        order_by=[{"field_name": "creation_time", "ascending": False}],
        max_results=1,
        output_format="list",
    )
    return found[0].model_id if found else None


def candidate_id(kind: str, item: str, weights: Path, code: ModelCode, params: dict[str, Any]) -> str:
    """The candidate's model_id; logged now, in the active run, when no earlier run logged these weights
    (a store deleted or moved since training)."""
    return find_candidate(weights) or log_candidate(kind, item, weights, code, params, {"logged_by": "evaluation"})


def log_model_metrics(model_id: str, metrics: dict[str, float], dataset=None) -> None:
    """Metrics on the active run *and* on the candidate's LoggedModel (the Models tab compares these)."""
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, model_id=model_id, dataset=dataset)


def log_best_checkpoint(model_id: str, best_step: int | None, quality_key: str, best_quality: float | None) -> None:
    """The exported checkpoint's step and probe value (`best_<quality_key>`) on the run and the model;
    tag `best_step` on the run. Nothing when no checkpoint was probed (best_step None)."""
    if best_step is None:
        return
    best = {"best_step": best_step} | ({f"best_{quality_key}": best_quality} if best_quality is not None else {})
    log_model_metrics(model_id, best)
    mlflow.set_tag("best_step", str(best_step))


def variant_metrics(metrics_dir: Path, variants: list[str], evaluate_stage: str) -> dict[str, dict[str, float]]:
    """{variant: its metrics_dir/VARIANT.json}, as the evaluate stage wrote them; a missing one names that stage."""
    found = {}
    for variant in variants:
        path = Path(metrics_dir) / f"{variant}.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no metrics for variant {variant!r}; run `dvc repro {evaluate_stage}` first"
            )
        found[variant] = json.loads(path.read_text())
    return found


def model_uri(model_id: str) -> str:
    return f"models:/{model_id}"


def register_chosen(
    kind: str,
    best: str,
    weights: Path,
    code: ModelCode,
    metrics: dict[str, float],
    tags: dict[str, str],
    model: tuple[str, str],
    rule: tuple[str, bool],
    description: str,
    item_tag: str = "variant",
) -> dict:
    """The register stages' common end, inside their stage run: register the chosen candidate's LoggedModel.

    `model` is (registered name, its description), `rule` (primary metric, lower is better). The
    champion/challenger rule decides (registry.register); the decision names the candidate under
    `item_tag` and tags the stage run.
    """
    from ganops.tracking import registry

    model_name, model_description = model
    registry.describe_model(model_name, model_description)
    candidate = registry.Candidate(
        weights=weights,
        metrics=metrics,
        log_model=None,
        tags=tags,
        model_id=candidate_id(kind, best, weights, code, {item_tag: best}),
        description=description,
    )
    primary, lower_is_better = rule
    decision = registry.register(model_name, candidate, primary=primary, lower_is_better=lower_is_better)
    decision[item_tag] = best
    mlflow.set_tags({"decision": decision["alias"], "decision_reason": decision["reason"]})
    return decision


def decision_line(decision: dict) -> str:
    """The line a register stage's report ends with: which version got which alias, and why."""
    version = f"`{decision['model_name']}` v{decision['version']}"
    return f"\nRegistry: {version} → `{decision['alias']}` ({decision['reason']}).\n"
