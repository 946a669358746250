"""Save and load a TrainedDetector as one `detector.pt` of plain tensors, numbers and strings.

The file loads with `torch.load(..., weights_only=True)`: no pickled classes, so a detector file
from anywhere cannot run code. The CNN is stored as its state_dict, the logistic regression as its
coefficient arrays; Platt scaling, the threshold, the expected image shape and the training meta
(as JSON-like values) travel with it. `detector.json` beside it is a human-readable summary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganops.core.atomic import save_torch, write_json
from ganops.detection.calibration import PlattScaling
from ganops.detection.detectors import DETECTORS
from ganops.detection.training import TrainedDetector

DETECTOR_FILE = "detector.pt"
SUMMARY_FILE = "detector.json"
FORMAT = "ganops-detector"
FORMAT_VERSION = 1


def _builtin(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy / torch scalars and arrays
        return value.tolist()
    raise TypeError(f"detector meta holds a {type(value).__name__}; use numbers, strings, lists, dicts")


def save_detector(trained: TrainedDetector, out_dir: str | Path) -> Path:
    """Write `out_dir/detector.pt` (and `detector.json`) atomically; return the .pt path."""

    out_dir = Path(out_dir)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": trained.name,
        "model_state": trained.model.state(),
        "platt_coef": float(trained.platt.coef),
        "platt_intercept": float(trained.platt.intercept),
        "threshold": float(trained.threshold),
        "image_shape": [int(s) for s in trained.image_shape],
        # JSON round trip: plain types only, so the file stays weights_only-loadable.
        "meta": json.loads(json.dumps(trained.meta, default=_builtin)),
    }
    path = out_dir / DETECTOR_FILE
    save_torch(path, payload)
    summary = {k: v for k, v in payload.items() if k != "model_state"}
    write_json(out_dir / SUMMARY_FILE, summary)
    return path


def load_detector(path: str | Path, device: str = "cpu") -> TrainedDetector:
    """Load a detector saved by `save_detector`; `path` is the .pt file or the folder holding it."""
    import torch

    path = Path(path)
    if path.is_dir():
        path = path / DETECTOR_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no detector file here (train one first, or pass the right path)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for bad files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a ganops detector file ({first_line})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a ganops detector file (no '{FORMAT}' format marker)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: detector format version {payload.get('format_version')!r}, this ganops reads "
            f"{FORMAT_VERSION}; retrain the detector"
        )
    name = payload["name"]
    if name not in DETECTORS:
        raise ValueError(f"{path}: unknown detector {name!r}; this ganops knows {', '.join(sorted(DETECTORS))}")
    model = DETECTORS[name].from_state(payload["model_state"], device)
    platt = PlattScaling(float(payload["platt_coef"]), float(payload["platt_intercept"]))
    shape = tuple(int(s) for s in payload["image_shape"])
    return TrainedDetector(name, model, platt, float(payload["threshold"]), shape, payload["meta"])
