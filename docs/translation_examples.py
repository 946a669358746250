"""The README's style-transfer picture: test A | pix2pix | CycleGAN | paired target, one row per digit.

    .venv/bin/python docs/translation_examples.py [--repo .] [--out docs/translation_examples.png]

Reads a reproduced repo's data/translation (test split) and models/translation/*/translator.pt; the
first test image of each class, each cell enlarged 3x (nearest), 4 px black gaps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from PIL import Image

from ganops.translation.prepared import load_translation_split
from ganops.translation.translator_io import load_translator, translate

SCALE, GAP = 3, 4


def _rgb(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (N, H, W, 3) uint8."""
    rgb = np.repeat(images, 3 // images.shape[1], axis=1).transpose(0, 2, 3, 1)
    return (rgb * 255).round().clip(0, 255).astype(np.uint8)


def main(
    repo: Path = typer.Option(Path("."), help="a repo after `make run`"),
    out: Path = typer.Option(Path("docs/translation_examples.png"), help="PNG to write"),
) -> None:
    test = load_translation_split(repo / "data/translation", "test")
    first = [int(np.flatnonzero(test.labels_a == k)[0]) for k in range(len(test.class_names))]
    a, b = test.a[first], test.b[first]
    columns = [a]
    for variant in ("pix2pix", "cyclegan"):
        generators, _ = load_translator(repo / "models/translation" / variant / "translator.pt")
        columns.append(translate(generators["a2b"], a))
    columns.append(b)
    cells = [_rgb(c) for c in columns]  # 4 x (K, H, W, 3)
    k, h, w, _ = cells[0].shape
    side_h, side_w = h * SCALE, w * SCALE
    canvas = np.zeros((k * side_h + (k - 1) * GAP, len(cells) * side_w + (len(cells) - 1) * GAP, 3), np.uint8)
    for j, column in enumerate(cells):
        for i, image in enumerate(column):
            big = image.repeat(SCALE, axis=0).repeat(SCALE, axis=1)
            y, x = i * (side_h + GAP), j * (side_w + GAP)
            canvas[y : y + side_h, x : x + side_w] = big
    Image.fromarray(canvas).save(out)
    typer.echo(f"wrote {out} ({canvas.shape[1]}x{canvas.shape[0]})")


if __name__ == "__main__":
    typer.run(main)
