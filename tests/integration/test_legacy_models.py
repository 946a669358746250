"""Models registered before the package layout (ganops 0.1 module paths) still load and predict.

The pyfunc code files below are the 0.1 ones, verbatim from git (tests/fixtures/legacy_pyfunc): they
import `ganops.generator_io`, `ganops.detector_io`, `ganops.detector_training`, `ganops.image_files`.
Each model is logged and registered in a real SQLite MLflow store, then loaded from the registry by
`mlflow.pyfunc.load_model` in a fresh process running the current code.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ganops.config.params import DetectorConfig, VariantConfig
from ganops.detection.io import save_detector
from ganops.detection.training import train_detector
from ganops.image.architectures import build_generator
from ganops.image.export import export_generator

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy_pyfunc"

LOAD_AND_PREDICT = """
import json, sys
import mlflow, numpy as np, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
if sys.argv[2] == "generator":
    out = model.predict(pd.DataFrame({"seed": [0, 1, 2]}))
    print(json.dumps({"shape": list(np.asarray(out).shape), "min": float(out.min()), "max": float(out.max())}))
else:
    out = model.predict(np.full((4, 1, 16, 16), 0.5, np.float32))
    print(json.dumps({"rows": len(out), "columns": list(out.columns)}))
"""


@pytest.fixture()
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("legacy", artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_experiment("legacy")
    yield uri
    mlflow.set_tracking_uri(None)


def _register(code: Path, artifacts: dict, name: str) -> str:
    import mlflow

    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=str(code), artifacts=artifacts)
    version = mlflow.register_model(info.model_uri, name)
    return f"models:/{name}/{version.version}"


def _load_in_fresh_process(uri: str, kind: str, store: str) -> dict:
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    result = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, uri, kind], env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_generator_registered_with_the_0_1_module_paths_loads(tmp_path, store):
    cfg = VariantConfig(arch="dcgan", z_dim=8, width=8)
    torch.manual_seed(0)
    weights = tmp_path / "generator.pt"
    export_generator(weights, build_generator(cfg, (1, 28, 28), 0), cfg, (1, 28, 28), 0)
    uri = _register(LEGACY / "generator_pyfunc_0_1.py", {"generator": str(weights)}, "legacy-generator")
    out = _load_in_fresh_process(uri, "generator", store)
    assert out["shape"] == [3, 1, 28, 28] and 0.0 <= out["min"] <= out["max"] <= 1.0


def test_detector_registered_with_the_0_1_module_paths_loads(tmp_path, store):
    rng = np.random.default_rng(0)
    real = (np.round(rng.random((60, 1, 16, 16)) * 127) / 255).astype(np.float32)
    fake = np.clip(real[::-1] + 0.2, 0, 1).astype(np.float32)
    trained = train_detector("spectrum", real, fake, DetectorConfig(bootstrap_resamples=0), 0)
    save_detector(trained, tmp_path / "det")
    uri = _register(LEGACY / "detector_pyfunc_0_1.py", {"detector": str(tmp_path / "det/detector.pt")}, "legacy-det")
    out = _load_in_fresh_process(uri, "detector", store)
    assert out == {"rows": 4, "columns": ["p_fake", "verdict"]}
