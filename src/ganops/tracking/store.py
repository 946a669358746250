"""The local MLflow store survives a moved checkout, and `ganops ui` opens it in the model-training view.

MLflow writes absolute artifact URIs into its database (experiments, runs, model versions, logged
models): after `mv ganops ganops2` every artifact link would point at the old folder. The store is
anchored at the repo root (`mlflow.db` + `mlartifacts/`), so ganops resolves it at run time: when the
experiment's artifact location names an `mlartifacts/` folder other than this checkout's, the old
prefix is rewritten to the current one in those columns (SQLite only; a tracking server or
GANOPS_ARTIFACT_ROOT is left alone). Stage runs, `ganops ui` and `ganops scan` do this first.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from ganops.core import paths

# (table, column) pairs that hold artifact locations in MLflow 3's SQL schema.
LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
)
UI_HOST, UI_PORT = "127.0.0.1", 5000


def _local_db(root: Path) -> Path | None:
    uri = paths.tracking_uri(root)
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    return db if db.is_file() else None


def _as_path(location: str) -> str:
    return unquote(urlparse(location).path) if location.startswith("file:") else location


def follow_checkout(root: Path | None = None) -> str | None:
    """Rewrite artifact locations recorded under another checkout's `mlartifacts/` to this one's.

    Returns the old artifact root when something was rewritten, else None. Idempotent and cheap (one
    query) when nothing moved.
    """
    root = root or paths.repo_root()
    db = _local_db(root)
    if db is None or "GANOPS_ARTIFACT_ROOT" in os.environ:
        return None
    new_path = urlparse(paths.artifact_root(root)).path  # /repo/mlartifacts
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute("SELECT artifact_location FROM experiments").fetchall()
        old_paths = set()
        for (location,) in rows:
            path = _as_path(location or "")
            head, sep, _ = path.partition(f"/{paths.MLFLOW_ARTIFACTS}/")
            if sep and head + f"/{paths.MLFLOW_ARTIFACTS}" != new_path:
                old_paths.add(head + f"/{paths.MLFLOW_ARTIFACTS}")
        for old in sorted(old_paths):
            for prefix_old, prefix_new in ((Path(old).as_uri(), Path(new_path).as_uri()), (old, new_path)):
                for table, column in LOCATION_COLUMNS:
                    sql = f"UPDATE {table} SET {column} = ? || substr({column}, ?) WHERE {column} LIKE ? "
                    sql += "ESCAPE '\\'"
                    with contextlib.suppress(sqlite3.OperationalError):  # a table this MLflow version lacks
                        conn.execute(sql, (prefix_new, len(prefix_old) + 1, _like_prefix(prefix_old + "/")))
    return ", ".join(sorted(old_paths)) or None


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def model_training_url(experiment_id: str | None, host: str = UI_HOST, port: int = UI_PORT) -> str:
    """The experiment's page in the MLflow UI's model-training view (not the GenAI traces view)."""
    base = f"http://{host}:{port}/#/experiments"
    return f"{base}/{experiment_id}/runs?workflowType=machine_learning" if experiment_id else f"{base}"


def create_local_store(root: Path) -> None:
    """Create the repo's SQLite store (tables, schema migrations) now if it is the store in use: stages
    that start at the same moment on a fresh checkout (`ganops repro --jobs 2`) would each migrate it."""
    from mlflow import MlflowClient

    uri = paths.tracking_uri(root)
    if uri.startswith("sqlite:///"):
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
