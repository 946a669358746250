"""A real DVC repo in a temp copy of this checkout, reproduced once per test session with tiny params."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

VIDEO_VARIANT = {"width": 8, "z_dim": 8, "motion_dim": 4, "batch_size": 8, "num_steps": 4, "checkpoint_every": 2,
                 "sample_clips": 4}  # fmt: skip
TINY = {
    "data": {"max_images": 600},
    "evaluator": {"epochs": 2, "batch_size": 64},
    "evaluate": {
        "num_images": 300,
        "probe_num_images": 200,
        "batch_size": 150,
        "kid_subsets": 10,
        "kid_subset_size": 50,
        "is_splits": 2,
    },
    "gan": {
        "variants": {
            "seed_mlp": {
                "arch": "mlp",
                "loss": "minimax",
                "width": 32,
                "batch_size": 32,
                "num_steps": 20,
                "checkpoint_every": 10,
            },
            "dcgan": {
                "arch": "dcgan",
                "loss": "non_saturating",
                "width": 8,
                "batch_size": 32,
                "num_steps": 20,
                "checkpoint_every": 10,
            },
        }
    },
    "detector": {
        "num_fakes": 120,
        "bootstrap_resamples": 20,
        "leave_one_out": True,
        "cnn": {"epochs": 2, "width": 8, "batch_size": 32},
    },
    # The style-transfer and video families at toy size: every integration repo runs them (the full DAG),
    # and their defaults cost minutes each.
    "translation": {
        "max_images": 240,
        "probe_num_images": 40,
        "kid_subsets": 5,
        "kid_subset_size": 40,
        "evaluator": {"epochs": 1, "batch_size": 64},
        "detector": {"detectors": ["spectrum"], "bootstrap_resamples": 10, "leave_one_out": True},
        "variants": {
            "pix2pix": {"ngf": 4, "ndf": 4, "batch_size": 8, "num_steps": 4, "checkpoint_every": 2,
                        "lr_constant_steps": 2, "lr_decay_steps": 2},
            "cyclegan": {"ngf": 4, "ndf": 4, "resnet_blocks": 1, "batch_size": 4, "num_steps": 4,
                         "checkpoint_every": 2, "lr_constant_steps": 2, "lr_decay_steps": 2},
        },
    },
    "video": {
        "frames": 8,
        "size": 16,
        "num_clips": 200,
        "moving_digits": {"digit_size": 8},
        "evaluator": {"steps": 10, "frame_epochs": 1, "frames_per_clip": 1},
        "evaluate": {"num_clips": 40, "probe_num_clips": 20, "kvd_subsets": 4, "kvd_subset_size": 20},
        "variants": {"mocogan": {"arch": "mocogan", **VIDEO_VARIANT}, "vgan": {"arch": "vgan", **VIDEO_VARIANT}},
        "detector": {"num_fakes": 40, "frames_per_clip": 2},
    },
}  # fmt: skip


def merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(base.get(key, {}), value) if isinstance(value, dict) and key != "variants" else value
    return out


def run(cmd: list[str], cwd: Path, timeout: int = 600, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def upstream(repo: Path, *targets: str) -> set[str]:
    """The stages `dvc repro TARGET...` would run in a fresh repo: the targets and their ancestors (`dvc dag`)."""
    names: set[str] = set()
    for target in targets:
        dot = run([str(BIN / "dvc"), "dag", "--dot", target], repo).stdout
        names |= set(re.findall(r'"([^"]+)"', dot))
    return names


def stages_run(result: subprocess.CompletedProcess) -> set[str]:
    """The stage names a `dvc repro` printed as run."""
    return {line.split("'")[1] for line in result.stdout.splitlines() if line.startswith("Running stage")}


def copy_checkout(dest: Path) -> None:
    """Tracked and new (not ignored) files of this checkout: what a clone holds, plus work in progress."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def make_repo(dest: Path, overrides: dict) -> Path:
    copy_checkout(dest)
    params = merge(yaml.safe_load((dest / "params.yaml").read_text()), overrides)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], dest)
    if not (dest / ".dvc").is_dir():
        run([str(BIN / "dvc"), "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"], dest)
    return dest


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    repo = make_repo(tmp_path_factory.mktemp("ganops") / "repo", TINY)
    # The whole DAG at toy size under plain `dvc repro` (timeout: a guard only), its stages forked warm
    # (`ganops warm`: ~4 s less start-up each; test_kill_stages and test_experiments run stages cold).
    # `make run`'s `ganops repro --jobs 2` is the retrain flow's scheduler, whose test runs the real DAG two
    # stages at a time; under two test workers the CPU is busy already, and its one `dvc repro -s` per stage
    # would only add start-ups.
    result = run([str(BIN / "ganops"), "warm", str(BIN / "dvc"), "repro"], repo, timeout=2400)
    return repo, result


def assert_candidates_and_champion(
    repo: Path, *, family: str, kind: str, weights: dict[str, Path], metrics_dir: str, primary: str,
    config_param: str, model_name: str, decision: str,
) -> dict:  # fmt: skip
    """Every variant of one family (weights: {variant: weights file}) is a LoggedModel named `KIND-VARIANT`
    (matched by the sha256 of its weights) created by its `train_FAMILY` run, with its variant config as params and
    the `primary` metric logged by its own `evaluate_FAMILY` run, equal to `metrics_dir/VARIANT.json`; the registered
    champion points at the chosen variant's LoggedModel and says why. Returns {variant: LoggedModel}."""
    import mlflow
    from mlflow import MlflowClient

    from ganops.data.dataset import file_sha256

    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    client = MlflowClient()
    experiment = client.get_experiment_by_name("ganops")
    sha = {f"{kind}-{v}": file_sha256(path) for v, path in weights.items()}
    found = mlflow.search_logged_models([experiment.experiment_id], output_format="list")
    by_name = {m.name: m for m in found if m.name in sha and m.tags["weights_sha256"] == sha[m.name]}
    models = {v: by_name[f"{kind}-{v}"] for v in weights}
    for variant, model in models.items():
        metrics = {m.key: m for m in model.metrics}
        written = json.loads((repo / metrics_dir / f"{variant}.json").read_text())
        assert metrics[primary].value == pytest.approx(written[primary]) and "best_step" in metrics, variant
        assert client.get_run(metrics[primary].run_id).info.run_name == f"evaluate_{family}/{variant}"
        assert model.params[config_param] == variant and model.tags["ganops.kind"] == kind
        assert client.get_run(model.source_run_id).info.run_name == f"train_{family}/{variant}"
    champion = client.get_model_version_by_alias(model_name, "champion")
    chosen = json.loads((repo / decision).read_text())["variant"]
    assert champion.source == f"models:/{models[chosen].model_id}"
    assert f"`{chosen}`" in champion.description and primary in champion.description
    assert primary in champion.tags and client.get_registered_model(model_name).description
    return models
