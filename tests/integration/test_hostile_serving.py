"""The served detector under hostile requests: a real `mlflow models serve` of a tiny detector pyfunc.

Every refusal is an HTTP 400 with a one-line reason (never a 504 after a long decode): a 13000x13000 PNG
by `path`, too many images, a path outside the serving root (answered exactly like a missing file).
Without GANOPS_SERVE_PATH_ROOT the `path` input is off.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
SERVE_START_S = 180  # bounded wait for the server to answer /ping
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_hostile_input import png_bomb  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    import mlflow
    from sklearn.datasets import load_digits

    from ganops.config.params import DetectorConfig
    from ganops.detection.io import save_detector
    from ganops.detection.perturbations import checkerboard_fakes
    from ganops.detection.training import train_detector
    from ganops.tracking import detector_pyfunc

    digits = np.repeat(np.repeat(load_digits().images[:200] / 16.0, 2, 1), 2, 2)[:, None]  # (N, 1, 16, 16)
    real = digits.astype(np.float32)
    trained = train_detector("spectrum", real[:100], checkerboard_fakes(real[100:], seed=1), DetectorConfig(), 0)
    base = tmp_path_factory.mktemp("model")
    weights = save_detector(trained, base / "weights")
    out = base / "pyfunc"
    mlflow.pyfunc.save_model(path=str(out), python_model=detector_pyfunc.__file__, artifacts={"detector": str(weights)})
    return out


@pytest.fixture(scope="module")
def serving_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("uploads")
    Image.new("L", (16, 16), 90).save(root / "ok.png")
    png_bomb(root / "bomb.png")
    return root


@pytest.fixture(scope="module")
def served(model_dir, serving_root, tmp_path_factory):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "GANOPS_SERVE_PATH_ROOT": str(serving_root), "GANOPS_SERVE_MAX_IMAGES": "4"}
    cmd = [str(BIN / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local"]
    with open(log, "w") as handle:
        proc = subprocess.Popen(
            [*cmd, "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
            env={**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_START_S  # a bound on a failure, not a speed assertion
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow models serve exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow models serve did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/invocations", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _reason(body: dict) -> str:
    """Our one-line reason; MLflow's scoring server puts `Failed to predict data '<the input>'.` before it."""
    return body["message"].rsplit("\nError: ", 1)[-1]


def _paths(*paths) -> dict:
    return {"dataframe_split": {"columns": ["path"], "data": [[str(p)] for p in paths]}}


def test_a_file_inside_the_root_is_scored(served, serving_root):
    status, body = _post(served, _paths(serving_root / "ok.png"))
    assert status == 200, body
    assert 0.0 <= body["predictions"][0]["p_fake"] <= 1.0


def test_a_decompression_bomb_is_a_400_naming_the_budget(served, serving_root):
    status, body = _post(served, _paths(serving_root / "bomb.png"))
    assert status == 400, body
    assert "13000x13000" in _reason(body) and "pixel budget" in _reason(body) and "\n" not in _reason(body)


def test_outside_the_root_is_answered_exactly_like_a_missing_file(served, serving_root, tmp_path):
    Image.new("L", (16, 16), 90).save(tmp_path / "elsewhere.png")
    answers = {}
    for name, path in {
        "outside": tmp_path / "elsewhere.png",
        "shadow": Path("/etc/shadow"),
        "dotdot": serving_root / ".." / tmp_path.name / "elsewhere.png",
        "missing": serving_root / "missing.png",
    }.items():
        status, body = _post(served, _paths(path))
        assert status == 400, body
        answers[name] = _reason(body).replace(str(path), "<path>")
    assert len(set(answers.values())) == 1, answers
    assert answers["missing"] == (
        "1 of 1 file(s) unreadable: <path>: no readable image file there inside the allowed folder"
    )


def test_too_many_images_per_request_are_refused(served, serving_root):
    status, body = _post(served, _paths(*[serving_root / "ok.png"] * 5))
    assert status == 400 and "at most 4" in body["message"], body
    status, body = _post(served, {"inputs": np.zeros((5, 16, 16)).tolist()})
    assert status == 400 and "at most 4" in body["message"], body


def test_path_input_is_off_without_a_serving_root(model_dir, serving_root, monkeypatch):
    import mlflow
    import pandas as pd
    from mlflow.exceptions import MlflowException

    monkeypatch.delenv("GANOPS_SERVE_PATH_ROOT", raising=False)
    model = mlflow.pyfunc.load_model(str(model_dir))
    with pytest.raises(MlflowException, match="`path` input is off on this server"):
        model.predict(pd.DataFrame({"path": [str(serving_root / "ok.png")]}))
