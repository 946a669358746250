"""Where things live: the repo root, and the MLflow store anchored to it (not to the cwd).

`dvc exp run --temp` runs stages in a copy under `<repo>/.dvc/tmp/exps/...`, which has its own
`.dvc/` folder. Anchoring to the *outermost* ancestor that holds a `.dvc/` folder keeps every run's
MLflow records in the one store of the real repo.
"""

from __future__ import annotations

import os
from pathlib import Path

MLFLOW_DB = "mlflow.db"
MLFLOW_ARTIFACTS = "mlartifacts"


def repo_root(start: str | Path | None = None) -> Path:
    start = Path(start or os.getcwd()).resolve()
    candidates = [p for p in (start, *start.parents) if (p / ".dvc").is_dir() or (p / "dvc.yaml").is_file()]
    return candidates[-1] if candidates else start


def tracking_uri(root: Path | None = None) -> str:
    """`MLFLOW_TRACKING_URI` if set, else a SQLite store at the repo root."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(root or repo_root()) / MLFLOW_DB}"


def artifact_root(root: Path | None = None) -> str:
    env = os.environ.get("GANOPS_ARTIFACT_ROOT")
    if env:
        return env
    return ((root or repo_root()) / MLFLOW_ARTIFACTS).as_uri()
