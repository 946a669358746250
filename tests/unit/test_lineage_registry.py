"""Run names, the parent run of one pipeline execution, experiments that never move aliases, and a store
that follows a moved checkout: against a real SQLite MLflow store in a temp repo (no mocks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from ganops.tracking import lineage, registry, store
from ganops.tracking import runs as tracking

EXPERIMENT = "ganops-test"
PYFUNC = """
import mlflow
from mlflow.pyfunc import PythonModel


class Echo(PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


mlflow.models.set_model(Echo())
"""


@pytest.fixture
def repo(store_repo):
    return store_repo


def test_run_names_are_stage_slash_item(monkeypatch):
    assert lineage.run_name("train_gan", {"variant": "dcgan"}) == "train_gan/dcgan"
    assert lineage.run_name("train_detector", {"detector": "cnn"}) == "train_detector/cnn"
    assert lineage.run_name("register", {"variant": "dcgan"}) == "register"  # the chosen one, not an item
    assert lineage.run_name("prepare", {}) == "prepare"
    monkeypatch.setenv("DVC_STAGE", "evaluate_gan@wgan_gp")
    assert lineage.run_name("evaluate_gan", {}) == "evaluate_gan/wgan_gp"


def test_stages_of_one_execution_share_one_parent_tagged_with_its_provenance(repo, monkeypatch):
    monkeypatch.setenv(lineage.PIPELINE_RUN_ENV, "flow-123")
    monkeypatch.setenv("DVC_EXP_NAME", "bushy-lamb")
    for variant in ("seed_mlp", "dcgan"):
        with tracking.stage_run("train_gan", EXPERIMENT, {"lr": 0.1}, {"variant": variant}):
            pass
    client = MlflowClient()
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert exp.tags[lineage.EXPERIMENT_KIND_TAG] == lineage.MODEL_TRAINING_KIND
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if lineage.KEY_TAG in r.data.tags]
    children = [r for r in runs if lineage.KEY_TAG not in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.tags[lineage.EXPERIMENT_TAG] == "bushy-lamb"
    assert parent.data.tags["git_commit"] and lineage.GIT_COMMIT_TAG in parent.data.tags
    assert {r.info.run_name for r in children} == {"train_gan/seed_mlp", "train_gan/dcgan"}
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags[lineage.EXPERIMENT_TAG] == "bushy-lamb"
        assert child.data.tags[lineage.GIT_COMMIT_TAG] == child.data.tags["git_commit"]


def test_a_stage_started_by_hand_has_no_parent(repo):
    assert lineage.current() is None  # pytest is not run by dvc
    with tracking.stage_run("prepare", EXPERIMENT, {}, {}) as run:
        pass
    assert "mlflow.parentRunId" not in MlflowClient().get_run(run.info.run_id).data.tags


def _candidate(root: Path, name: str, score: float) -> registry.Candidate:
    code = root / "echo_model.py"
    code.write_text(PYFUNC)
    weights = root / f"{name}.pt"
    weights.write_bytes(name.encode())

    def log_model() -> str:
        return mlflow.pyfunc.log_model(name="echo", python_model=str(code)).model_uri

    return registry.Candidate(weights, {"fid": score}, log_model, description=f"candidate {name}")


def _register(root: Path, name: str, score: float) -> dict:
    with tracking.stage_run("register", EXPERIMENT, {}, {}):
        return registry.register("m", _candidate(root, name, score), primary="fid", lower_is_better=True)


def test_dvc_exp_run_records_candidates_and_never_moves_aliases(repo, monkeypatch):
    first = _register(repo, "a", 10.0)
    assert first["alias"] == registry.CHAMPION
    monkeypatch.setenv("DVC_EXP_NAME", "exp-1")
    better = _register(repo, "b", 1.0)  # would beat the champion in a plain `dvc repro`
    assert better["alias"] == registry.CANDIDATE and better["dvc_experiment"] == "exp-1"
    client = MlflowClient()
    assert int(client.get_model_version_by_alias("m", registry.CHAMPION).version) == first["version"]
    assert not client.get_registered_model("m").aliases.get(registry.CHALLENGER)
    version = client.get_model_version("m", str(better["version"]))
    assert version.tags[lineage.EXPERIMENT_TAG] == "exp-1" and version.description == "candidate b"
    monkeypatch.delenv("DVC_EXP_NAME")
    promoted = _register(repo, "b", 1.0)  # the same weights in the workspace: now the rule applies
    assert promoted["alias"] == registry.CHAMPION and promoted["version"] == better["version"]


def test_the_store_follows_a_moved_checkout(repo, tmp_path):
    with tracking.stage_run("prepare", EXPERIMENT, {}, {}) as run:
        (repo / "note.txt").write_text("hello")
        mlflow.log_artifact(str(repo / "note.txt"))
    run_id = run.info.run_id
    moved = tmp_path / "moved"
    shutil.move(repo, moved)
    mlflow.set_tracking_uri(f"sqlite:///{moved / 'mlflow.db'}")
    assert store.follow_checkout(moved) == str(repo / "mlartifacts")
    assert store.follow_checkout(moved) is None  # idempotent
    uri = MlflowClient().get_run(run_id).info.artifact_uri
    assert uri.startswith((moved / "mlartifacts").as_uri()), uri
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="note.txt", dst_path=str(tmp_path))
    assert Path(local).read_text() == "hello"


def test_model_training_url():
    assert store.model_training_url("7").endswith("/#/experiments/7/runs?workflowType=machine_learning")
