"""A real `dvc exp run` never moves the registry's production aliases; its candidates are recorded."""

import pytest
import yaml

from conftest import BIN, run

pytestmark = pytest.mark.integration

MODEL = "ganops-generator"


def test_dvc_exp_run_records_candidates_and_leaves_the_aliases(tiny_repo):
    from mlflow import MlflowClient

    repo, _ = tiny_repo
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    champion = client.get_model_version_by_alias(MODEL, "champion")
    primary = next(k for k in champion.tags if k.startswith("fid_") and k.endswith("_domain"))
    # make any new candidate "better": a plain `dvc repro` would now promote it
    client.set_model_version_tag(MODEL, champion.version, primary, "1e9")
    aliases_before = dict(client.get_registered_model(MODEL).aliases)
    variants = yaml.safe_load((repo / "params.yaml").read_text())["gan"]["variants"]
    sets = [a for v in variants for a in ("-S", f"gan.variants.{v}.num_steps=10")]  # new weights for each variant
    # `--temp` copies what git knows (tracked and staged files): stage the pipeline's untracked outputs (its
    # `cache: false` metrics and plots), as a user commits a run before experimenting, or the copy lacks them
    # and DVC reruns the stages that wrote them (train_evaluator, evaluate_reference) for nothing.
    run(["git", "add", "-A"], repo)
    try:
        # under `ganops warm`: the forked stages still find their `dvc exp run` (lineage via the launcher)
        exp_run = [str(BIN / "dvc"), "exp", "run", "--temp", "-n", "lr-probe", *sets, "register"]
        result = run([str(BIN / "ganops"), "warm", *exp_run], repo)
        assert "Running stage 'register'" in result.stdout, result.stdout[-2000:]
        assert "Running stage 'train_evaluator'" not in result.stdout  # only what the -S changes reached
        assert dict(client.get_registered_model(MODEL).aliases) == aliases_before
        recorded = client.search_model_versions(f"name='{MODEL}' and tags.dvc_experiment='lr-probe'")
        assert recorded and all(v.version != champion.version for v in recorded)
        shown = run([str(BIN / "dvc"), "exp", "show", "--json"], repo).stdout
        assert "lr-probe" in shown
        # every run of the experiment sits under one parent named after it
        experiment = client.get_experiment_by_name("ganops")
        runs = client.search_runs([experiment.experiment_id], "tags.dvc_experiment = 'lr-probe'", max_results=100)
        parents = [r for r in runs if "ganops.pipeline_key" in r.data.tags]
        assert len(parents) == 1 and parents[0].info.run_name == "dvc exp run lr-probe"
        children = [r for r in runs if r.data.tags.get("ganops.stage")]
        assert {"train_gan/dcgan", "register"} <= {r.info.run_name for r in children}
        assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in children)
    finally:
        client.set_model_version_tag(MODEL, champion.version, primary, champion.tags[primary])
    status = run([str(BIN / "dvc"), "status"], repo)  # the workspace was not touched (--temp)
    assert "up to date" in status.stdout.lower(), status.stdout
