"""How a video-generator candidate is logged as an MLflow model (`tracking.candidates.ModelCode`).

Its own module, apart from the image generator's, so a stage that logs video generators depends on the
video family only (the dvc.yaml deps follow each stage's import closure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ganops.tracking import pyfunc_code, seed_label_signature
from ganops.tracking.candidates import ModelCode

EXAMPLE_ROWS = 2


def video_example(weights: Path) -> pd.DataFrame:
    """Two rows of the generator's input: a `seed` per clip, and a `label` for conditional generators."""
    from ganops.video.export import load_video_generator

    _, meta = load_video_generator(weights)
    example = {"seed": np.arange(EXAMPLE_ROWS, dtype=np.int64)}
    if meta.get("num_classes"):
        example["label"] = np.arange(EXAMPLE_ROWS, dtype=np.int64) % int(meta["num_classes"])
    return pd.DataFrame(example)


VIDEO_GENERATOR = ModelCode(pyfunc_code("video_pyfunc"), "generator", video_example, seed_label_signature)
