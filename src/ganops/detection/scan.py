"""Score image files and folders with a trained detector: one row per file, errors included.

Unreadable or missing files, files above the pixel budget (`data.max_pixels`, read from the header
before decoding) and names that are not valid UTF-8 (shown with backslash escapes) become rows with
an `error` and no score; they never stop the scan. Verdicts use the detector's own threshold (chosen
on validation data) unless one is given.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ganops.core.atomic import atomic_path
from ganops.data.images import DEFAULT_MAX_PIXELS, display_name, expand_paths, read_for_model
from ganops.detection.training import TrainedDetector

SCAN_COLUMNS = ("path", "p_fake", "verdict", "error")
FAKE, REAL, ERROR = "fake", "real", "error"


def scan_paths(
    paths: Iterable[str | Path],
    detector: TrainedDetector,
    threshold: float | None = None,
    batch_size: int = 256,
    progress: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[dict]:
    """Rows {path, p_fake, verdict, error} for every file in `paths` (folders expanded recursively)."""
    from tqdm import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    threshold = detector.threshold if threshold is None else float(threshold)
    if not 0.0 <= threshold <= 1.0 + 1e-9:
        raise ValueError(f"threshold is a probability in [0, 1] (got {threshold})")
    files = expand_paths(paths)
    rows: list[dict] = []
    pending: list[tuple[dict, np.ndarray]] = []  # rows waiting for a score, with their (C, H, W) image

    def flush() -> None:
        if pending:
            p_fake = detector.score(np.stack([image for _, image in pending]))  # (B,)
            for (row, _), p in zip(pending, p_fake, strict=True):
                row["p_fake"] = float(p)
                row["verdict"] = FAKE if p >= threshold else REAL
            pending.clear()

    for path in tqdm(files, desc="scan", unit="img", disable=not progress):
        row = {"path": display_name(path), "p_fake": None, "verdict": ERROR, "error": ""}
        rows.append(row)
        try:
            pending.append((row, read_for_model(path, detector.image_shape, max_pixels)))
        except ValueError as exc:
            row["error"] = str(exc)
            continue
        if len(pending) >= batch_size:
            flush()
    flush()
    return rows


def scan_summary(rows: list[dict]) -> dict[str, int]:
    """Counts of each verdict (fake, real, error) and the total."""
    counts = {verdict: sum(row["verdict"] == verdict for row in rows) for verdict in (FAKE, REAL, ERROR)}
    return {**counts, "total": len(rows)}


def write_scan_csv(rows: list[dict], path: str | Path) -> None:
    """CSV with columns path, p_fake (empty on error), verdict, error; written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SCAN_COLUMNS)
        writer.writeheader()
        for row in rows:
            p_fake = row.get("p_fake")
            writer.writerow(
                {
                    **{k: row.get(k, "") for k in SCAN_COLUMNS},
                    "p_fake": "" if p_fake is None else f"{p_fake:.6g}",
                }
            )
