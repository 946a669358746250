"""The MLflow store is anchored at the outermost DVC repo, so `dvc exp run --temp` logs to the real one."""

from ganops.core import paths


def test_temp_experiment_copy_resolves_to_the_real_repo(tmp_path, monkeypatch):
    (tmp_path / ".dvc").mkdir()
    temp_copy = tmp_path / ".dvc" / "tmp" / "exps" / "run" / "tmpabc123"
    (temp_copy / ".dvc").mkdir(parents=True)
    (temp_copy / "dvc.yaml").write_text("stages: {}\n")
    stage_dir = temp_copy / "src"
    stage_dir.mkdir()
    assert paths.repo_root(stage_dir) == tmp_path
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(temp_copy)
    assert paths.tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert paths.artifact_root() == (tmp_path / "mlartifacts").as_uri()


def test_environment_overrides_the_store(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert paths.tracking_uri(tmp_path) == "http://127.0.0.1:5000"


def test_outside_any_repo_the_cwd_is_the_root(tmp_path):
    assert paths.repo_root(tmp_path) == tmp_path.resolve()
