"""Seeding and deterministic algorithms for a training run."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seed the legacy global RNG for third-party code)
    torch.manual_seed(seed)


class Deterministic:
    """torch.use_deterministic_algorithms for the duration of a run, restored afterwards."""

    def __init__(self, on: bool, device: str) -> None:
        self.on, self.device, self.previous = on, device, torch.are_deterministic_algorithms_enabled()

    def __enter__(self) -> None:
        if self.on and not self.previous:
            if self.device.startswith("cuda"):
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)

    def __exit__(self, *exc: object) -> None:
        if torch.are_deterministic_algorithms_enabled() != self.previous:
            torch.use_deterministic_algorithms(self.previous)
