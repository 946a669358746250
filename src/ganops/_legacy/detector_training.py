"""`ganops.detector_training.check_images` of 0.1: now data.validate.check_image_batch."""

from __future__ import annotations

from typing import Any

import numpy as np

from ganops.data.validate import check_image_batch


def check_images(images: Any, image_shape: tuple[int, int, int], what: str = "images") -> np.ndarray:
    return check_image_batch(images, image_shape, what)
