"""`ganops.image_files.read_image` of 0.1, with today's limits: the pixel budget, and paths only
inside the root named by GANOPS_SERVE_PATH_ROOT (off when unset, as for new models)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ganops.data.images import read_for_model

PATH_ROOT_ENV = "GANOPS_SERVE_PATH_ROOT"


def read_image(path: str | Path, image_shape: tuple[int, int, int]) -> np.ndarray:
    root = os.environ.get(PATH_ROOT_ENV)
    if not root:
        raise ValueError(f"the `path` input is off on this server (set {PATH_ROOT_ENV} to allow one folder)")
    return read_for_model(path, image_shape, root=root)
