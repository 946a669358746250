"""The whole spine under real `dvc repro`, with a real SQLite MLflow registry."""

import json
import math

import numpy as np
import pytest

from conftest import BIN, run

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
    # identical weights registered again: no second version
    run([str(BIN / "dvc"), "repro", "-f", "-s", "register"], repo)
    versions = client.search_model_versions("name='ganops-generator'")
    assert len(versions) == 1


def test_second_repro_runs_nothing(tiny_repo):
    repo, _ = tiny_repo
    result = run([str(BIN / "dvc"), "repro"], repo)
    assert "Running stage" not in result.stdout, result.stdout
    status = run([str(BIN / "dvc"), "status"], repo)
    assert "up to date" in status.stdout.lower(), status.stdout
