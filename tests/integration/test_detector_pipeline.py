"""Abuse detection under the tiny `dvc repro`: fakes stored like reals, detector metrics, the registered
champion detector loaded in a fresh process, a real `mlflow models serve`, and `ganops scan`."""

import csv
import json
import math
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from conftest import BIN, run

pytestmark = pytest.mark.integration

MODEL = "ganops-detector"
DETECTORS = ("spectrum", "cnn")
VARIANTS = ("seed_mlp", "dcgan")
SERVE_START_S = 120  # bounded wait for `mlflow models serve` to answer /ping


def _env(repo) -> dict:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}",
    }


def _numbers(value, prefix=""):
    """Every (dotted key, number) leaf of a nested dict; bools are flags, not numbers."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _numbers(sub, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield prefix, value


def _save_png(image: np.ndarray, path) -> None:
    Image.fromarray(np.round(image[0] * 255).astype(np.uint8)).save(path)


# --- pipeline outputs ---


def test_fakes_are_stored_exactly_like_the_reals(tiny_repo):
    repo, _ = tiny_repo
    counts = json.loads((repo / "data/prepared/manifest.json").read_text())["counts"]
    real = np.load(repo / "data/prepared/detector_train_images.npy")
    for variant in VARIANTS:
        train = np.load(repo / f"data/fakes/{variant}/train_images.npy")
        test = np.load(repo / f"data/fakes/{variant}/test_images.npy")
        for fakes in (train, test):
            assert fakes.dtype == real.dtype == np.float32 and fakes.shape[1:] == real.shape[1:]
            assert fakes.min() >= 0.0 and fakes.max() <= 1.0
            np.testing.assert_allclose(fakes * 255, np.round(fakes * 255), atol=1e-3)  # 8-bit like the reals
        assert len(train) + len(test) == 120
        # train:test like the detectors' real training splits (detector.real_splits, default
        # detector_train + gan_train) to the real test split
        real_train = counts["detector_train"] + counts["gan_train"]
        assert abs(len(train) / 120 - real_train / (real_train + counts["test"])) < 0.01
        assert not np.array_equal(train[: len(test)], test)  # distinct seeds per part


def test_detector_metrics_are_finite_and_reported(tiny_repo):
    from ganops.detection.perturbations import PERTURBATIONS

    repo, _ = tiny_repo
    metrics = json.loads((repo / "metrics/detector.json").read_text())
    numbers = dict(_numbers(metrics))
    assert numbers and all(math.isfinite(v) for v in numbers.values()), numbers
    for name in DETECTORS:
        test = metrics[name]["test"]
        for key in ("auc", "tpr_at_fpr_1pct", "tpr_at_fpr_0p1pct", "balanced_accuracy", "brier", "ece_15bin"):
            assert 0.0 <= test[key] <= 1.0, (name, key, test[key])
        assert test["auc_ci95_low"] <= test["auc"] <= test["auc_ci95_high"]
        assert test["num_real"] == 120 and test["num_fake"] == 48  # 24 of 120 fakes per variant: 480 : 120 reals
        assert set(metrics[name]["leave_one_out_auc"]) == set(VARIANTS)
        assert set(metrics[name]["robustness_auc"]) == {"clean", *PERTURBATIONS}
        assert (repo / f"models/detector/{name}/detector.pt").stat().st_size > 0
        roc = np.loadtxt(repo / f"metrics/detector_roc/{name}.csv", delimiter=",", skiprows=1)  # fpr, tpr
        assert tuple(roc[0]) == (0.0, 0.0) and tuple(roc[-1]) == (1.0, 1.0) and (np.diff(roc, axis=0) >= 0).all()
    assert {"leak_auc", "leak_warning"} <= set(metrics["leakage"]["test"])
    report = (repo / "metrics/detector_report.md").read_text()
    for heading in ("## Targets", "## Detector × metric", "## Leave one generator out", "## Robustness"):
        assert heading in report
    fired = metrics["leakage"]["test"]["leak_warning"] or metrics["leakage"]["train"]["leak_warning"]
    assert ("WARNING: the leakage check fired" in report) == fired


def test_registry_has_the_best_detector_as_champion(tiny_repo):
    from mlflow import MlflowClient

    repo, _ = tiny_repo
    metrics = json.loads((repo / "metrics/detector.json").read_text())
    decision = json.loads((repo / "models/detector_registered.json").read_text())
    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert int(champion.version) == decision["version"] and decision["alias"] == "champion"
    best = max(DETECTORS, key=lambda n: (metrics[n]["test"]["tpr_at_fpr_1pct"], metrics[n]["test"]["auc"]))
    assert champion.tags["detector"] == decision["detector"] == best
    assert float(champion.tags["tpr_at_fpr_1pct"]) == metrics[best]["test"]["tpr_at_fpr_1pct"]
    assert champion.tags["weights_sha256"] and "git_commit" in champion.tags


FRESH_PROCESS = """
import json, sys
import mlflow, numpy as np
from mlflow.exceptions import MlflowException
model = mlflow.pyfunc.load_model("models:/ganops-detector@champion")
real = np.load("data/prepared/test_images.npy")[:5]
fake = np.load("data/fakes/dcgan/test_images.npy")[:5]
nchw = model.predict(np.concatenate([real, fake]))
nhw = model.predict(np.concatenate([real, fake])[:, 0].astype(np.float64))
errors = {}
for label, bad in {"shape": np.zeros((2, 3, 28, 28), np.float32), "range": real * 255}.items():
    try:
        model.predict(bad)
    except MlflowException as exc:
        errors[label] = [exc.error_code, exc.message]
print(json.dumps({"nchw": nchw.to_dict("list"), "nhw": nhw.to_dict("list"), "errors": errors}))
"""


def test_pyfunc_from_the_registry_scores_arrays_in_a_fresh_process(tiny_repo):
    repo, _ = tiny_repo
    result = subprocess.run(
        [str(BIN / "python"), "-c", FRESH_PROCESS],
        cwd=repo,
        env=_env(repo),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    p_fake = np.array(out["nchw"]["p_fake"])
    assert p_fake.shape == (10,) and ((p_fake >= 0) & (p_fake <= 1)).all()
    assert set(out["nchw"]["verdict"]) <= {"real", "fake"}
    np.testing.assert_allclose(out["nhw"]["p_fake"], p_fake, atol=1e-6)  # (N, H, W) == (N, 1, H, W)
    assert p_fake[5:].mean() > p_fake[:5].mean()  # fakes score higher than reals
    assert out["errors"]["shape"][0] == "INVALID_PARAMETER_VALUE" and "(N, 28, 28)" in out["errors"]["shape"][1]
    assert "values in [0, 1]" in out["errors"]["range"][1] and "255" in out["errors"]["range"][1]


# --- REST serving ---


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tiny_repo, tmp_path_factory):
    """`mlflow models serve -m models:/ganops-detector@champion` on a free local port; always stopped."""
    repo, _ = tiny_repo
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    cmd = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        f"models:/{MODEL}@champion",
        "--env-manager",
        "local",
    ]
    cmd += ["-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    (repo / "uploads").mkdir(exist_ok=True)  # the one folder the `path` input may read (off by default)
    env = {**_env(repo), "GANOPS_SERVE_PATH_ROOT": str(repo / "uploads")}
    with open(log, "w") as handle:
        proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_START_S
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
                pytest.fail(f"mlflow models serve did not answer in {SERVE_START_S}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its uvicorn worker: our own process group
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
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_answers_a_valid_request_with_p_fake(served, tiny_repo, tmp_path):
    repo, _ = tiny_repo
    real = np.load(repo / "data/prepared/test_images.npy")[:2]
    fake = np.load(repo / "data/fakes/seed_mlp/test_images.npy")[:2]
    status, body = _post(served, {"inputs": np.concatenate([real, fake]).tolist()})
    assert status == 200, body
    rows = body["predictions"]
    assert len(rows) == 4 and all(0.0 <= row["p_fake"] <= 1.0 for row in rows)
    assert {row["verdict"] for row in rows} <= {"real", "fake"}
    image = repo / "uploads" / "one.png"
    _save_png(fake[0], image)
    status, body = _post(served, {"dataframe_split": {"columns": ["path"], "data": [[str(image)]]}})
    assert status == 200, body
    assert body["predictions"][0]["p_fake"] == pytest.approx(rows[2]["p_fake"], abs=1e-9)  # 8-bit fakes


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"inputs": np.zeros((1, 3, 28, 28)).tolist()}, "(N, 28, 28) or (N, 1, 28, 28)"),
        ({"inputs": np.full((1, 28, 28), 255.0).tolist()}, "values in [0, 1]"),
        ({"inputs": [["not", "pixels"]]}, "expected float array"),
        ({"dataframe_split": {"columns": ["path"], "data": [["/no/such/file.png"]]}}, "unreadable"),
        ({"dataframe_split": {"columns": ["pixels"], "data": [[0.5]]}}, "`path` column"),
    ],
    ids=["wrong-shape", "out-of-range", "strings", "missing-file", "no-path-column"],
)
def test_serve_rejects_malformed_input_with_a_clear_4xx(served, body, expected):
    status, answer = _post(served, body)
    assert 400 <= status < 500, (status, answer)
    assert expected in answer["message"], answer["message"][-500:]


# --- scan ---


def test_scan_scores_a_folder_and_lists_unreadable_files(tiny_repo, tmp_path):
    repo, _ = tiny_repo
    folder = tmp_path / "uploads"
    folder.mkdir()
    for i, image in enumerate(np.load(repo / "data/prepared/test_images.npy")[:3]):
        _save_png(image, folder / f"real_{i}.png")
    for i, image in enumerate(np.load(repo / "data/fakes/dcgan/test_images.npy")[:3]):
        _save_png(image, folder / f"fake_{i}.png")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "scores.csv"
    result = run([str(BIN / "ganops"), "scan", str(folder), "--out", str(out)], repo)
    assert "1 error" in result.stdout, result.stdout
    rows = {row["path"].rsplit("/", 1)[-1]: row for row in csv.DictReader(out.open())}
    assert len(rows) == 7
    assert rows["corrupt.png"]["verdict"] == "error" and rows["corrupt.png"]["p_fake"] == ""
    assert "corrupt.png" in rows["corrupt.png"]["error"]
    scored = [row for name, row in rows.items() if name != "corrupt.png"]
    assert all(0.0 <= float(row["p_fake"]) <= 1.0 and row["verdict"] in ("real", "fake") for row in scored)

    # a local detector folder, an explicit threshold, CSV on stdout
    local = run([str(BIN / "ganops"), "scan", str(folder), "--model", "models/detector/cnn", "--threshold", "0"], repo)
    lines = list(csv.DictReader(local.stdout.splitlines()))
    assert len(lines) == 7 and sum(row["verdict"] == "fake" for row in lines) == 6  # threshold 0 flags all
    bad = run(
        [str(BIN / "ganops"), "scan", str(folder), "--model", "models:/no-such-model@champion"],
        repo,
        check=False,
    )
    assert bad.returncode == 1 and "no-such-model" in bad.stderr
