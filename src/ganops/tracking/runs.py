"""MLflow plumbing shared by the stage entry points (imported by the CLI only, never by core modules)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import yaml

from ganops.core import paths


def setup(experiment: str, root: Path | None = None) -> None:
    """Point MLflow at the repo-root store and make sure the experiment exists with our artifact root."""
    root = root or paths.repo_root()
    mlflow.set_tracking_uri(paths.tracking_uri(root))
    if mlflow.get_experiment_by_name(experiment) is None:
        with contextlib.suppress(mlflow.exceptions.MlflowException):  # created concurrently
            mlflow.create_experiment(
                experiment, artifact_location=f"{paths.artifact_root(root)}/{experiment}"
            )
    mlflow.set_experiment(experiment)


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Nested params → flat dotted keys, the form MLflow compares in its UI."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(flatten(f"{prefix}.{key}" if prefix else str(key), sub))
        return out
    return {prefix: value}


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (subprocess.SubprocessError, FileNotFoundError):
        return "unknown"


def dvc_lock_hash(root: Path, stage: str = "prepare", out: str = "data/prepared") -> str | None:
    """The md5 DVC recorded for a stage output in dvc.lock (None before the first lock is written)."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return None
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    for entry in stages.get(stage, {}).get("outs", []):
        if entry.get("path") == out:
            return entry.get("md5")
    return None


def provenance_tags(root: Path) -> dict[str, str]:
    """Where a run's inputs came from: the git commit and, once dvc.lock exists, the prepared-data md5."""
    tags = {"git_commit": git_commit(root)}
    if (lock_md5 := dvc_lock_hash(root)) is not None:
        tags["dvc_data_md5"] = lock_md5
    return tags


@contextlib.contextmanager
def stage_run(stage: str, experiment: str, params: dict[str, Any], tags: dict[str, str]) -> Iterator[Any]:
    """An MLflow run for one stage: logs the params it used and provenance tags; FAILED on error."""
    root = paths.repo_root()
    setup(experiment, root)
    all_tags = {"ganops.stage": stage, **provenance_tags(root), **tags}
    with mlflow.start_run(run_name=tags.get("variant", stage), tags=all_tags) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in flatten("", params).items()})
        yield run
