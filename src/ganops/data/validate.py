"""One validator for image batches handed to ganops: shape, dtype and value range, one line on failure.

Used at every edge where arrays come in (detector and evaluator inputs, served models, fakes), so the
same mistake gets the same message everywhere. Any number of leading axes is allowed in front of the
item shape: images (N, C, H, W) and video clips (N, T, C, H, W) are both batches of (C, H, W) items.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RANGE_SLACK = 1e-4  # float round-off of generators that map tanh output to [0, 1]


def describe_array(array: np.ndarray) -> str:
    """`(3, 32, 32) float64 in [0, 255]`: the shape, dtype and range of what was received."""
    text = f"{tuple(array.shape)} {array.dtype}"
    if array.size and np.issubdtype(array.dtype, np.number):
        if not np.isfinite(array).all():
            return text + " containing NaN or inf"
        text += f" in [{array.min():g}, {array.max():g}]"
    return text


def _as_numpy(images: Any) -> np.ndarray:
    if hasattr(images, "detach"):  # torch.Tensor; bfloat16/float16 widened, other dtypes kept
        images = images.detach().cpu()
        images = (images.float() if images.is_floating_point() else images).numpy()
    return np.asarray(images)


def _expected(item_shape: tuple[int, ...], lead: str, squeeze: bool) -> str:
    full = f"({lead}, {', '.join(map(str, item_shape))})"
    if squeeze:
        return f"({lead}, {', '.join(map(str, item_shape[1:]))}) or {full}"
    return full


def check_image_batch(
    images: Any,
    item_shape: tuple[int, ...],
    what: str = "images",
    *,
    leading_dims: int | None = 1,
    float32_only: bool = False,
    slack: float = RANGE_SLACK,
    min_count: int = 0,
    allow_missing_channel: bool = True,
) -> np.ndarray:
    """Validate a batch of images against the item shape a model expects; return float32 in [0, 1].

    images: numpy array or torch tensor, shape (*leading, *item_shape). `leading_dims` fixes how many
    leading axes there are (None: one or more). For 1-channel items (1, H, W) the channel axis may be
    left out when `leading_dims` is fixed and `allow_missing_channel`. Values may overshoot [0, 1] by
    `slack` (then clipped).
    Raises ValueError naming `what`, the expected layout and what was received.
    """
    array = _as_numpy(images)
    item_shape = tuple(int(s) for s in item_shape)
    lead = "N" if leading_dims in (1, None) else ", ".join(f"N{i}" for i in range(leading_dims))
    squeeze = allow_missing_channel and leading_dims is not None and len(item_shape) == 3
    squeeze = squeeze and item_shape[0] == 1
    if squeeze and array.ndim == leading_dims + 2 and array.shape[leading_dims:] == item_shape[1:]:
        array = array.reshape(*array.shape[:leading_dims], *item_shape)  # (N, H, W) -> (N, 1, H, W)
    n_lead = array.ndim - len(item_shape)
    shape_ok = array.shape[n_lead:] == item_shape and (
        n_lead == leading_dims if leading_dims is not None else n_lead >= 1
    )
    dtype_ok = array.dtype == np.float32 if float32_only else np.issubdtype(array.dtype, np.floating)
    range_ok = dtype_ok and (
        array.size == 0 or (np.isfinite(array).all() and array.min() >= -slack and array.max() <= 1 + slack)
    )
    if not (shape_ok and range_ok):
        hint = ""
        if array.size and np.issubdtype(array.dtype, np.number) and np.isfinite(array).all():
            if array.max() > 1:
                hint = " (divide 8-bit pixels by 255)"
            elif array.min() < 0:
                hint = " (map tanh outputs with (x + 1) / 2)"
        kind = "float32" if float32_only else "float"
        raise ValueError(
            f"{what}: expected {kind} array {_expected(item_shape, lead, squeeze)} with values in [0, 1], "
            f"got {describe_array(array)}{hint}"
        )
    count = int(np.prod(array.shape[:n_lead]))
    if count < min_count:
        raise ValueError(f"{what}: need at least {min_count} images, got {count}")
    return np.clip(array, 0.0, 1.0).astype(np.float32, copy=False)
