"""The whole spine under real `dvc repro`, with a real SQLite MLflow registry."""

import json
import math
import re

import numpy as np
import pytest

from conftest import BIN, run, stages_run

pytestmark = pytest.mark.integration


def test_outputs_have_the_documented_layout(tiny_repo):
    repo, _ = tiny_repo
    manifest = json.loads((repo / "data/prepared/manifest.json").read_text())
    assert sum(manifest["counts"].values()) == 600
    for split in ("gan_train", "detector_train", "test"):
        images = np.load(repo / f"data/prepared/{split}_images.npy")
        assert images.dtype == np.float32 and images.shape[1:] == (1, 28, 28)
        assert images.min() >= 0.0 and images.max() <= 1.0
    for variant in ("seed_mlp", "dcgan"):
        assert (repo / f"models/gan/{variant}/generator.pt").stat().st_size > 0
        assert (repo / f"models/gan/{variant}/samples.png").stat().st_size > 0
        assert (repo / f"models/gan/{variant}/interpolation.gif").read_bytes()[:6] == b"GIF89a"
        quality = (repo / f"models/gan/{variant}/quality.csv").read_text().splitlines()
        assert quality[0].startswith("step,fid_200_domain_train") and len(quality) == 3, quality
    # detector.real_splits (default: detector_train + gan_train) are the detectors' reals; test never is
    meta = json.loads((repo / "models/detector/cnn/detector.json").read_text())["meta"]
    counts = manifest["counts"]
    assert meta["num_fit_real"] + meta["num_val_real"] == counts["detector_train"] + counts["gan_train"]


def test_metrics_are_finite_and_name_their_network(tiny_repo):
    repo, _ = tiny_repo
    for variant in ("seed_mlp", "dcgan"):
        metrics = json.loads((repo / f"metrics/gan/{variant}.json").read_text())
        for key in ("fid_300_domain", "is_300_domain", "kid_300_domain"):
            assert math.isfinite(metrics[key]), (variant, key, metrics)
    reference = json.loads((repo / "metrics/reference.json").read_text())
    assert reference["fid_floor_real_domain"] < reference["fid_noise_domain"]
    report = (repo / "metrics/report.md").read_text()
    assert "| _real floor / ceiling_ |" in report and "(registered)" in report


def test_registry_has_a_champion_and_is_idempotent(tiny_repo):
    from mlflow import MlflowClient

    repo, _ = tiny_repo
    assert (repo / "mlflow.db").is_file(), "MLflow store must be anchored at the repo root"
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("ganops-generator", "champion")
    assert champion.tags["weights_sha256"]
    assert "git_commit" in champion.tags and "fid_300_domain" in champion.tags
    # identical weights registered again: no second version (a `dvc exp run` test may add others)
    run([str(BIN / "dvc"), "repro", "-f", "-s", "register"], repo)
    sha = champion.tags["weights_sha256"]
    versions = client.search_model_versions(f"name='ganops-generator' and tags.weights_sha256='{sha}'")
    assert len(versions) == 1


def test_second_repro_runs_nothing(tiny_repo):
    repo, _ = tiny_repo
    result = run([str(BIN / "dvc"), "repro"], repo)
    assert "Running stage" not in result.stdout, result.stdout
    status = run([str(BIN / "dvc"), "status"], repo)
    assert "up to date" in status.stdout.lower(), status.stdout


def _client(repo):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    return MlflowClient(), mlflow


def test_each_candidate_is_a_logged_model_with_its_params_and_own_metrics(tiny_repo):
    repo, _ = tiny_repo
    client, mlflow = _client(repo)
    experiment = client.get_experiment_by_name("ganops")
    from ganops.data.dataset import file_sha256

    found = mlflow.search_logged_models([experiment.experiment_id], output_format="list")
    weights = {f"generator-{v}": repo / f"models/gan/{v}/generator.pt" for v in ("seed_mlp", "dcgan")}
    weights |= {f"detector-{d}": repo / f"models/detector/{d}/detector.pt" for d in ("spectrum", "cnn")}
    # the workspace's candidates (a `dvc exp run` test may have logged others under the same names)
    models = {
        m.name: m for m in found if m.name in weights and m.tags["weights_sha256"] == file_sha256(weights[m.name])
    }
    for variant in ("seed_mlp", "dcgan"):
        model = models[f"generator-{variant}"]
        metrics = {m.key: m.value for m in model.metrics}
        written = json.loads((repo / f"metrics/gan/{variant}.json").read_text())
        assert metrics["fid_300_domain"] == pytest.approx(written["fid_300_domain"]), variant
        assert model.params["variant.arch"] in ("mlp", "dcgan") and "best_step" in metrics
        assert client.get_run(model.source_run_id).info.run_name == f"train_gan/{variant}"
    for name in ("spectrum", "cnn"):
        metrics = {m.key for m in models[f"detector-{name}"].metrics}
        assert {"test.auc", "test.tpr_at_fpr_1pct", "validation.auc"} <= metrics, (name, metrics)
        # validation metrics name the reals the detector learnt from: both real_splits together
        validation = {m.dataset_name for m in models[f"detector-{name}"].metrics if m.key.startswith("validation.")}
        assert validation == {"prepared/detector_train+gan_train"}, (name, validation)
    champion = client.get_model_version_by_alias("ganops-generator", "champion")
    chosen = json.loads((repo / "models/registered.json").read_text())["variant"]
    assert champion.source == f"models:/{models[f'generator-{chosen}'].model_id}"
    assert champion.description and chosen in champion.description
    model_dir = repo / "mlartifacts/ganops/models" / models[f"generator-{chosen}"].model_id / "artifacts"
    assert (model_dir / "requirements.txt").read_text().splitlines()[0] == "torch==2.13.0"
    assert (model_dir / "input_example.json").is_file() and "signature:" in (model_dir / "MLmodel").read_text()


def test_runs_are_named_stage_slash_item_under_one_parent_per_repro(tiny_repo):
    repo, _ = tiny_repo
    client, _ = _client(repo)
    experiment = client.get_experiment_by_name("ganops")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    names = {r.info.run_name for r in runs}
    assert {"train_gan/dcgan", "evaluate_gan/seed_mlp", "train_detector/cnn", "register", "prepare"} <= names
    parents = {r.info.run_id: r for r in runs if "ganops.pipeline_key" in r.data.tags}
    first = min(parents.values(), key=lambda r: r.info.start_time)
    assert first.info.run_name.startswith("dvc repro") and first.data.tags["git_commit"] != "unknown"
    stage_runs = [r for r in runs if r.data.tags.get("ganops.stage") and r.info.start_time < _second(parents)]
    assert stage_runs and all(r.data.tags.get("mlflow.parentRunId") == first.info.run_id for r in stage_runs)
    train = next(r for r in runs if r.info.run_name == "train_gan/dcgan")
    assert train.data.tags["mlflow.source.git.commit"] == first.data.tags["git_commit"]
    assert [d.dataset.name for d in train.inputs.dataset_inputs] == ["prepared/gan_train"]
    reference = next(r for r in runs if r.info.run_name == "evaluate_reference")
    assert "fid_floor_real_domain" in reference.data.metrics


def test_every_stage_that_ran_has_a_finished_run_for_ganops_timings(tiny_repo):
    """`ganops timings` finds the slow stage in one look only if every stage logs its run."""
    import mlflow

    from ganops.tracking.timings import latest_stage_times

    repo, result = tiny_repo
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    times = {t.stage: t for t in latest_stage_times("ganops")}
    ran = stages_run(result)
    assert ran and ran <= times.keys(), sorted(ran - times.keys())
    assert all(times[s].status == "FINISHED" and times[s].seconds >= 0 and times[s].startup >= 0 for s in ran)


def _second(parents: dict) -> int:
    starts = sorted(r.info.start_time for r in parents.values())
    return starts[1] if len(starts) > 1 else 2**63


def test_plots_overlay_every_variant_with_the_declared_y(tiny_repo):
    repo, _ = tiny_repo
    data = json.loads(run([str(BIN / "dvc"), "plots", "show", "--json"], repo).stdout)["data"]
    for plot_id, field in (("gan_loss_g", "loss_g"), ("gan_loss_d", "loss_d"), ("gan_probe_fid", "fid"),
                           ("gan_probe_is", "is"), ("detector_roc", "tpr")):  # fmt: skip
        content = data[plot_id][0]["content"]
        spec = json.dumps({k: v for k, v in content.items() if k != "data"})
        assert field in re.findall(r'"field": "([^"]+)"', spec), (plot_id, spec[:300])
        files = {row["filename"] for row in content["data"]["values"]}
        assert len(files) == 2, (plot_id, files)  # both tiny variants (or both detectors) in one chart
