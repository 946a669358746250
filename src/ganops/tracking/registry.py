"""Champion/challenger registration in the MLflow Model Registry (entry-point level: imports mlflow).

One rule for every registered model (generator, detector): a candidate is registered once per
distinct weights file (sha256 tag), and alias `champion` moves to it only when its primary metric
beats the current champion's; the previous champion keeps `previous-champion` (for rollback),
otherwise the candidate gets `challenger`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ganops.data.dataset import file_sha256

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous-champion"
WEIGHTS_TAG = "weights_sha256"


@dataclass
class Candidate:
    weights: Path  # the file whose sha256 identifies the model
    metrics: dict[str, float]
    log_model: Callable[[], str]  # logs the model inside the active run, returns its model URI
    tags: dict[str, str] = field(default_factory=dict)


def _alias_version(client: MlflowClient, name: str, alias: str):
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _better(new: float, old: float, lower_is_better: bool) -> bool:
    if not math.isfinite(new):
        return False
    if not math.isfinite(old):
        return True
    return new < old if lower_is_better else new > old


def register(name: str, candidate: Candidate, primary: str, lower_is_better: bool) -> dict:
    """Register `candidate` under `name` (idempotent per weights) and apply the champion rule."""
    client = MlflowClient()
    sha = file_sha256(candidate.weights)
    score = float(candidate.metrics[primary])
    with contextlib.suppress(MlflowException):  # already exists
        client.create_registered_model(name)
    same = client.search_model_versions(f"name='{name}' and tags.{WEIGHTS_TAG}='{sha}'")
    if same:
        version = max(same, key=lambda v: int(v.version))
        created = False
    else:
        model_uri = candidate.log_model()
        tags = {WEIGHTS_TAG: sha, **candidate.tags}
        tags.update({key: repr(float(value)) for key, value in candidate.metrics.items()})
        version = mlflow.register_model(model_uri, name, tags=tags)
        created = True

    champion = _alias_version(client, name, CHAMPION)
    if champion is not None and champion.version == version.version:
        alias, reason = CHAMPION, "identical weights are already the champion"
    elif champion is None:
        alias, reason = CHAMPION, "no champion yet"
    else:
        old = float(champion.tags.get(primary, "nan"))
        if _better(score, old, lower_is_better):
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, champion.version)
            alias = CHAMPION
            reason = f"{primary} {score:.4g} beats champion v{champion.version} ({old:.4g})"
        else:
            alias = CHALLENGER
            reason = f"{primary} {score:.4g} does not beat champion v{champion.version} ({old:.4g})"
    client.set_registered_model_alias(name, alias, version.version)
    challenger = _alias_version(client, name, CHALLENGER)
    if alias == CHAMPION and challenger is not None and challenger.version == version.version:
        client.delete_registered_model_alias(name, CHALLENGER)
    return {
        "model_name": name,
        "version": int(version.version),
        "alias": alias,
        "reason": reason,
        "created": created,
        primary: score,
        WEIGHTS_TAG: sha,
    }


def rollback(name: str) -> dict:
    """Point `champion` back at `previous-champion`; the demoted version becomes `challenger`."""
    client = MlflowClient()
    previous = _alias_version(client, name, PREVIOUS_CHAMPION)
    if previous is None:
        raise ValueError(f"{name}: no '{PREVIOUS_CHAMPION}' alias to roll back to")
    current = _alias_version(client, name, CHAMPION)
    client.set_registered_model_alias(name, CHAMPION, previous.version)
    client.delete_registered_model_alias(name, PREVIOUS_CHAMPION)
    if current is not None:
        client.set_registered_model_alias(name, CHALLENGER, current.version)
    return {
        "model_name": name,
        "champion": int(previous.version),
        "demoted": current and int(current.version),
    }
