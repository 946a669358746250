"""Stored fakes: data/fakes/VARIANT/{train,test}_images.npy plus a manifest with their sha256.

Fakes are stored exactly like the real images: float32 (N, C, H, W) in [0, 1] in `.npy` files, and
quantised to 8 bits when the real images are (a PNG save would do the same), so no detector can tell
the classes apart by how they were stored rather than by what the generator drew.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ganops.core.artifacts import MANIFEST as FAKES_MANIFEST
from ganops.data.dataset import file_sha256

FAKE_PARTS = ("train", "test")  # data/fakes/<variant>/{part}_images.npy, like the real splits


def load_fakes(fakes_dir: Path, variants: list[str], part: str) -> dict[str, np.ndarray]:
    """{variant: float32 (N, C, H, W)} of one part (train | test), checked against each manifest."""
    out = {}
    for variant in variants:
        path = Path(fakes_dir) / variant / f"{part}_images.npy"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no fakes for variant {variant!r}; run `dvc repro generate_fakes`")
        manifest = json.loads((path.parent / FAKES_MANIFEST).read_text())
        if manifest["sha256"].get(path.name) != file_sha256(path):
            raise ValueError(f"{path}: sha256 differs from its manifest; run `dvc repro generate_fakes` again")
        out[variant] = np.load(path, allow_pickle=False)
    return out
