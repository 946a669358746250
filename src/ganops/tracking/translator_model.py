"""How a translator candidate is logged as an MLflow model (`tracking.candidates.ModelCode`).

Its own module, apart from the generator's and the detector's, so a stage that logs translators depends
on the translation family only (the dvc.yaml deps follow each stage's import closure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganops.tracking import pyfunc_code
from ganops.tracking.candidates import ModelCode

EXAMPLE_ROWS = 2
DIRECTION = "direction"  # the pyfunc's one param (tracking/translator_pyfunc.py): a2b (default) or b2a


def translator_example(weights: Path) -> np.ndarray:
    """Two mid-grey domain-A images at the translator's training size, (2, C, H, W) float32 in [0, 1]."""
    from ganops.translation.translator_io import load_translator

    _, meta = load_translator(weights)
    return np.full((EXAMPLE_ROWS, *meta["shape_a"]), 0.5, dtype=np.float32)


def translator_signature():
    """One optional `direction` param; inputs unchecked by MLflow (arrays of either domain, or a `path`
    column: the model validates them itself and answers HTTP 400 with its own one-line reason)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ParamSchema, ParamSpec

    return ModelSignature(inputs=None, params=ParamSchema([ParamSpec(DIRECTION, "string", "a2b")]))


TRANSLATOR = ModelCode(pyfunc_code("translator_pyfunc"), "translator", translator_example, translator_signature)
