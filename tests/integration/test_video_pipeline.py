"""The video stages for real, in the session's tiny repo (one `dvc repro` of the whole DAG, conftest.TINY): the
MLflow registry they fill, the pyfunc loaded in a fresh process, and `ganops generate-video` / `rollback video`."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import BIN, assert_candidates_and_champion, run, stages_run, upstream

STAGES = ["register_video", "detect_video"]
VIDEO_STAGES = {"prepare_video", "train_video_evaluator", "evaluate_video_reference", "train_video@mocogan",
                "train_video@vgan", "evaluate_video@mocogan", "evaluate_video@vgan", "register_video",
                "detect_video"}  # fmt: skip


@pytest.fixture(scope="module")
def video_repo(tiny_repo):
    """The session's tiny repo (conftest.TINY shrinks the video family too): one `dvc repro` for all."""
    return tiny_repo


def test_video_stages_need_only_each_other_and_wrote_their_outputs(video_repo):
    repo, result = video_repo
    assert upstream(repo, *STAGES) == VIDEO_STAGES  # `dvc repro register_video detect_video` runs nothing else
    assert stages_run(result) >= VIDEO_STAGES
    manifest = json.loads((repo / "data/video/manifest.json").read_text())
    assert manifest["clip_shape"] == [8, 1, 16, 16] and sum(manifest["counts"].values()) == 200
    for variant in ("mocogan", "vgan"):
        out = repo / "models/video" / variant
        for name in ("generator.pt", "samples.gif", "export.gif", "export.mp4", "losses.csv", "quality.csv"):
            assert (out / name).stat().st_size > 0, (variant, name)
        assert len(list((out / "samples").glob("step_*.gif"))) == 2  # one GIF grid per checkpoint
        metrics = json.loads((repo / "metrics/video" / f"{variant}.json").read_text())
        assert metrics["fvd_domain"] >= 0 and 0 <= metrics["temporal_consistency"] <= 1
    reference = json.loads((repo / "metrics/video_reference.json").read_text())
    assert set(reference) == {"floor_real", "static", "shuffled", "noise"}  # ordering: tests/video (real sizes)
    assert reference["floor_real"]["fvd_domain"] < reference["noise"]["fvd_domain"]
    decision = json.loads((repo / "models/video_registered.json").read_text())
    assert decision["model_name"] == "ganops-video-generator" and decision["alias"] == "champion"
    assert "shuffled real frames" in (repo / "metrics/video_report.md").read_text()
    detection = json.loads((repo / "metrics/detector_video.json").read_text())
    assert set(detection["spectrum"]["test"]) == {"pooled", "temporal"}
    assert set(detection["spectrum"]["leave_one_out"]) == {"mocogan", "vgan"}
    status = run([str(BIN / "dvc"), "status", *STAGES], repo)
    assert "changed" not in status.stdout  # reproduced: nothing left to run


def test_each_video_generator_is_a_logged_model_with_its_params_and_own_metrics(video_repo):
    repo, _ = video_repo
    models = assert_candidates_and_champion(
        repo, family="video", kind="video_generator", primary="fvd_domain",
        weights={v: repo / f"models/video/{v}/generator.pt" for v in ("mocogan", "vgan")},
        metrics_dir="metrics/video", config_param="variant.arch", model_name="ganops-video-generator",
        decision="models/video_registered.json",
    )  # fmt: skip
    chosen = json.loads((repo / "models/video_registered.json").read_text())["variant"]
    model_dir = repo / "mlartifacts/ganops/models" / models[chosen].model_id / "artifacts"
    inputs = json.loads(yaml.safe_load((model_dir / "MLmodel").read_text())["signature"]["inputs"])
    assert {(c["name"], c["required"]) for c in inputs} == {("seed", True), ("label", False)}
    assert (model_dir / "input_example.json").is_file()


def test_pyfunc_in_a_fresh_process_gives_clips_and_refuses_an_unknown_label(video_repo):
    repo, _ = video_repo
    script = (
        "import mlflow, pandas as pd, sys\n"
        "from ganops.core import paths\n"
        "mlflow.set_tracking_uri(paths.tracking_uri(paths.repo_root()))  # cwd: the repo\n"
        "G = mlflow.pyfunc.load_model('models:/ganops-video-generator@champion')\n"
        "clips = G.predict(pd.DataFrame({'seed': [0, 1, 0]}))\n"
        "assert clips.shape == (3, 8, 1, 16, 16) and clips.dtype.name == 'float32', clips.shape\n"
        "assert 0 <= clips.min() and clips.max() <= 1 and (clips[0] == clips[2]).all()\n"
        "try:\n"
        "    G.predict(pd.DataFrame({'seed': [0], 'label': [7]}))\n"
        "except Exception as error:\n"
        "    print('refused:', str(error).splitlines()[0])\n"
        "else:\n"
        "    sys.exit('label 7 was accepted by an unconditional generator')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the repo's own store, by its cwd
    result = subprocess.run([sys.executable, "-c", script], cwd=repo, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused: label 7: this video generator is unconditional" in result.stdout


def test_generate_video_cli_writes_a_gif_and_names_a_bad_label(video_repo):
    repo, _ = video_repo
    ganops = str(BIN / "ganops")
    result = run([ganops, "generate-video", "--num", "4", "--out", "clips.gif"], repo)
    assert (repo / "clips.gif").stat().st_size > 0 and "4 clips (8, 1, 16, 16)" in result.stdout
    bad = run([ganops, "generate-video", "--num", "2", "--out", "x.gif", "--label", "3"], repo, check=False)
    errors = [line for line in bad.stderr.splitlines() if line.startswith("error:")]
    assert bad.returncode == 1 and errors == ["error: label 3: this video generator is unconditional (omit label)"]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["video"]["model_name"] == "ganops-video-generator"
    no_previous = run([ganops, "rollback", "video"], repo, check=False)  # one version: nothing to roll back to
    assert no_previous.returncode == 1 and "previous-champion" in no_previous.stderr
