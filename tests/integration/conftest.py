"""A real DVC repo in a temp copy of this checkout, reproduced once per test session with tiny params."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

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
}


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
    result = run([str(BIN / "dvc"), "repro"], repo, timeout=900)
    return repo, result
