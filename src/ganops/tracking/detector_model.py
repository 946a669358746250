"""How a detector candidate is logged as an MLflow model (`tracking.candidates.ModelCode`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganops.tracking import pyfunc_code
from ganops.tracking.candidates import ModelCode

EXAMPLE_ROWS = 2


def detector_example(weights: Path) -> np.ndarray:
    """Two mid-grey images at the detector's input size, (2, C, H, W) float32 in [0, 1]."""
    from ganops.detection.io import load_detector

    shape = load_detector(weights).image_shape
    return np.full((EXAMPLE_ROWS, *shape), 0.5, dtype=np.float32)


def detector_signature():
    """Outputs `p_fake`, `verdict`; inputs unchecked by MLflow (arrays or a `path` column: the model
    validates them itself and answers HTTP 400 with its own one-line reason)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    return ModelSignature(inputs=None, outputs=Schema([ColSpec("double", "p_fake"), ColSpec("string", "verdict")]))


DETECTOR = ModelCode(pyfunc_code("detector_pyfunc"), "detector", detector_example, detector_signature)
