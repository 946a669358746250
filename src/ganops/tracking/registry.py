"""Champion/challenger registration in the MLflow Model Registry (entry-point level: imports mlflow).

One rule for every registered model (generator, detector): a candidate is registered once per
distinct weights file (sha256 tag), and alias `champion` moves to it only when its primary metric
beats the current champion's; the previous champion keeps `previous-champion` (for rollback),
otherwise the candidate gets `challenger`.

A candidate is the LoggedModel its training run created (`Candidate.model_id`, see
`ganops.tracking.candidates`); its version carries the metrics as tags (the rule reads them), a
description and the experiment it came from. Under `dvc exp run` (DVC sets DVC_EXP_NAME) candidates
are recorded, tagged `dvc_experiment`, and no alias moves: exploring never touches production;
promotion happens in a plain `dvc repro` of the workspace and in the retrain flow.
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
from ganops.tracking.lineage import EXPERIMENT_TAG, dvc_experiment

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous-champion"
WEIGHTS_TAG = "weights_sha256"
CANDIDATE = "candidate"  # the decision under `dvc exp run`: recorded, no alias moved


@dataclass
class Candidate:
    weights: Path  # the file whose sha256 identifies the model
    metrics: dict[str, float]
    log_model: Callable[[], str] | None  # logs the model inside the active run, returns its model URI
    tags: dict[str, str] = field(default_factory=dict)
    model_id: str | None = None  # the candidate's LoggedModel: registered as models:/<model_id>
    description: str = ""  # what it is, how it was chosen (markdown, shown on the version page)

    def model_uri(self) -> str:
        if self.model_id is not None:
            return f"models:/{self.model_id}"
        if self.log_model is None:
            raise ValueError("Candidate needs a model_id or a log_model function")
        return self.log_model()


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
    """Register `candidate` under `name` (idempotent per weights) and apply the champion rule.

    Under `dvc exp run` the version is recorded (tagged with the experiment) and no alias moves.
    """
    client = MlflowClient()
    sha = file_sha256(candidate.weights)
    score = float(candidate.metrics[primary])
    experiment = dvc_experiment()
    with contextlib.suppress(MlflowException):  # already exists
        client.create_registered_model(name)
    same = client.search_model_versions(f"name='{name}' and tags.{WEIGHTS_TAG}='{sha}'")
    if same:
        version = max(same, key=lambda v: int(v.version))
        created = False
    else:
        tags = {WEIGHTS_TAG: sha, **candidate.tags}
        tags.update({key: repr(float(value)) for key, value in candidate.metrics.items()})
        if experiment:
            tags[EXPERIMENT_TAG] = experiment
        version = mlflow.register_model(candidate.model_uri(), name, tags=tags)
        created = True
        if candidate.description:
            client.update_model_version(name, version.version, description=candidate.description)
    if experiment:
        if not created:
            client.set_model_version_tag(name, version.version, EXPERIMENT_TAG, experiment)
        alias = CANDIDATE
        reason = (
            f"dvc exp run {experiment}: recorded as v{version.version} ({primary} {score:.4g}); aliases "
            "are left alone, promotion happens in `dvc repro` of the workspace or the retrain flow"
        )
    else:
        alias, reason = _apply_rule(client, name, version.version, primary, score, lower_is_better)
    return {
        "model_name": name,
        "version": int(version.version),
        "alias": alias,
        "reason": reason,
        "created": created,
        primary: score,
        WEIGHTS_TAG: sha,
        **({EXPERIMENT_TAG: experiment} if experiment else {}),
        **({"model_id": candidate.model_id} if candidate.model_id else {}),
    }


def _apply_rule(
    client: MlflowClient, name: str, version: str, primary: str, score: float, lower_is_better: bool
) -> tuple[str, str]:
    """Move `champion` to `version` when it beats the champion, else make it `challenger`."""
    champion = _alias_version(client, name, CHAMPION)
    if champion is not None and champion.version == version:
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
    client.set_registered_model_alias(name, alias, version)
    challenger = _alias_version(client, name, CHALLENGER)
    if alias == CHAMPION and challenger is not None and challenger.version == version:
        client.delete_registered_model_alias(name, CHALLENGER)
    return alias, reason


def chosen_description(
    what: str, item: str, primary: str, all_metrics: dict[str, dict[str, float]], lower_is_better: bool, note: str = ""
) -> str:
    """Markdown for a version page: what it is (`what` `item`), how it was chosen (its `primary` metric
    beside every other candidate's), all its test metrics, then `note` (a tie rule, where to look further)."""
    others = ", ".join(f"`{v}` {m[primary]:.4g}" for v, m in sorted(all_metrics.items()) if v != item and primary in m)
    metrics = ", ".join(f"{k} {float(v):.4g}" for k, v in sorted(all_metrics[item].items()))
    rule = "lowest" if lower_is_better else "highest"
    text = (
        f"{what} `{item}`, chosen for the {rule} test `{primary}` ({all_metrics[item][primary]:.4g}; others: "
        f"{others or 'none'}).\n\nTest metrics: {metrics}."
    )
    return f"{text}\n\n{note}" if note else text


def describe_model(name: str, description: str) -> None:
    """Set the registered model's description (what it is, how versions are chosen) if it differs."""
    client = MlflowClient()
    with contextlib.suppress(MlflowException):
        client.create_registered_model(name)
    if (client.get_registered_model(name).description or "") != description:
        client.update_registered_model(name, description=description)


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
