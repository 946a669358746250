"""Training checkpoints: one atomic `last.pt` holding everything needed to resume bit-exactly.

Contents are plain dicts of tensors, numbers, strings and lists (loadable with weights_only=True):
model and optimiser state dicts, step, data-order state, every RNG state (torch CPU, CUDA when present,
numpy, python `random`), the loss history and the run's config dict.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganops.core.atomic import save_torch

FORMAT = "ganops-checkpoint/1"


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()  # noqa: NPY002 (the legacy global state is what we must save)
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(np_state[0]),
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": [py_version, list(py_internal), py_gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write `payload` (+ format tag and RNG states) to `path` atomically: temp file, then os.replace."""
    payload = {"format": FORMAT, **payload, "rng": rng_state()}
    save_torch(path, payload)


def load_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"{path}: not a readable checkpoint ({exc.__class__.__name__}); delete it to start afresh"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a ganops training checkpoint; delete it to start afresh")
    return payload


def config_mismatch(
    saved: dict[str, Any], current: dict[str, Any], ignore: tuple[str, ...] = ()
) -> list[str]:
    """Keys (dotted, one level deep for nested dicts) whose values differ between two config dicts."""
    differing = []
    for key in sorted(set(saved) | set(current)):
        if key in ignore:
            continue
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            differing += [f"{key}.{k}" for k in config_mismatch(a, b, ignore)]
        elif a != b:
            differing.append(key)
    return differing
