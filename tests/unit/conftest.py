"""Fixtures shared by the unit tests."""

from __future__ import annotations

import mlflow
import pytest

from ganops.tracking import lineage


@pytest.fixture
def store_repo(tmp_path, monkeypatch):
    """An empty DVC-looking repo as the cwd: its MLflow store is `mlflow.db` there (SQLite, real), and no
    tracking, DVC or Prefect setting of the caller's environment leaks in."""
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(root)
    for var in ("MLFLOW_TRACKING_URI", "GANOPS_ARTIFACT_ROOT", "DVC_EXP_NAME", "DVC_STAGE", "PREFECT__FLOW_RUN_ID",
                lineage.PIPELINE_RUN_ENV):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    yield root
    mlflow.set_tracking_uri(None)
