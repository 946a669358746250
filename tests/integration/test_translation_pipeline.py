"""The translation stages under the session's real `dvc repro` (conftest.TINY) with the real SQLite MLflow registry;
the registered translator served from a fresh process; the translate and rollback commands."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import BIN, assert_candidates_and_champion, run, stages_run, upstream

pytestmark = pytest.mark.integration

STAGES = ["register_translator", "detect_translation"]
TRANSLATION_STAGES = {"prepare_translation", "train_translation_evaluator", "train_translator@pix2pix",
                      "train_translator@cyclegan", "evaluate_translator@pix2pix", "evaluate_translator@cyclegan",
                      "register_translator", "detect_translation"}  # fmt: skip


@pytest.fixture(scope="module")
def translation_repo(tiny_repo):
    """The session's tiny repo (conftest.TINY shrinks the translation family too): one `dvc repro` for all."""
    return tiny_repo


def test_translation_stages_need_only_each_other_and_wrote_their_outputs(translation_repo):
    repo, result = translation_repo
    assert upstream(repo, *STAGES) == TRANSLATION_STAGES  # `dvc repro register_translator` runs nothing else
    assert stages_run(result) >= TRANSLATION_STAGES
    for variant in ("pix2pix", "cyclegan"):
        out = repo / "models/translation" / variant
        assert (out / "translator.pt").stat().st_size > 0 and (out / "samples.png").stat().st_size > 0
        assert (out / "quality.csv").read_text().splitlines()[0] == "step,label_preservation_probe"
        metrics = json.loads((repo / f"metrics/translation/{variant}.json").read_text())
        for key in ("label_preservation", "label_preservation_ceiling_real_b", "label_preservation_floor_untranslated_a",  # noqa: E501
                    "fid_domain_b", "fid_domain_b_floor_real_b", "fid_domain_b_untranslated_a", "ssim_to_target",
                    "ssim_to_target_best_possible", "distinct_output_share"):  # fmt: skip
            assert math.isfinite(metrics[key]), (variant, key)
    assert "cycle_l1" in json.loads((repo / "metrics/translation/cyclegan.json").read_text())
    report = (repo / "metrics/translation_report.md").read_text()
    assert "_best possible: average B given the digit_" in report and "(registered)" in report
    detection = json.loads((repo / "metrics/detector_translation.json").read_text())["detectors"]["spectrum"]
    assert set(detection["same_source"]) == set(detection["left_out"]) == {"pix2pix", "cyclegan"}
    status = run([str(BIN / "dvc"), "status", *STAGES], repo)
    assert "changed" not in status.stdout, status.stdout


def test_each_translator_is_a_logged_model_with_its_params_and_own_metrics(translation_repo):
    repo, _ = translation_repo
    models = assert_candidates_and_champion(
        repo, family="translator", kind="translator", primary="label_preservation",
        weights={v: repo / f"models/translation/{v}/translator.pt" for v in ("pix2pix", "cyclegan")},
        metrics_dir="metrics/translation", config_param="variant.family", model_name="ganops-translator",
        decision="models/translator_registered.json",
    )  # fmt: skip
    for variant, model in models.items():
        written = json.loads((repo / f"metrics/translation/{variant}.json").read_text())
        fid = next(m for m in model.metrics if m.key == "fid_domain_b")
        assert fid.value == pytest.approx(written["fid_domain_b"]), variant
    chosen = json.loads((repo / "models/translator_registered.json").read_text())["variant"]
    model_dir = repo / "mlartifacts/ganops/models" / models[chosen].model_id / "artifacts"
    signature = yaml.safe_load((model_dir / "MLmodel").read_text())["signature"]
    assert '"direction"' in signature["params"] and (model_dir / "input_example.json").is_file()
    assert (model_dir / "requirements.txt").read_text().splitlines()[0] == "torch==2.13.0"


def test_registered_translator_serves_from_a_fresh_process(translation_repo):
    repo, _ = translation_repo
    code = f"""
import json, numpy as np, mlflow
from mlflow.exceptions import MlflowException
mlflow.set_tracking_uri("sqlite:///{repo / "mlflow.db"}")
model = mlflow.pyfunc.load_model("models:/ganops-translator@champion")
out = model.predict(np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32))
try:
    model.predict(np.zeros((2, 3, 28, 28), np.float32))  # domain B's shape, sent as A
    refused = None
except MlflowException as exc:
    refused = [exc.error_code, exc.message]
print(json.dumps({{"shape": list(out.shape), "lo": float(out.min()), "hi": float(out.max()), "refused": refused}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=repo)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["shape"] == [2, 3, 28, 28] and 0 <= answer["lo"] <= answer["hi"] <= 1
    code_name, message = answer["refused"]
    assert code_name == "INVALID_PARAMETER_VALUE" and "(N, 1, 28, 28)" in message and "\n" not in message


def test_translate_command_writes_pngs_and_rollback_needs_a_previous_champion(translation_repo, tmp_path):
    repo, _ = translation_repo
    for i in range(3):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(tmp_path / f"digit{i}.png")
    (tmp_path / "broken.png").write_bytes(b"nope")
    result = run([str(BIN / "ganops"), "translate", str(tmp_path), "--out", str(tmp_path / "out"), "--no-progress"],
                 repo, check=False)  # fmt: skip
    assert result.returncode == 1 and "translated 3 image(s)" in result.stdout, result.stdout + result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["digit0.png", "digit1.png", "digit2.png"]
    assert Image.open(tmp_path / "out" / "digit0.png").mode == "RGB"
    result = run([str(BIN / "ganops"), "rollback", "translator"], repo, check=False)
    assert result.returncode == 1 and "no 'previous-champion' alias" in result.stderr, result.stderr
