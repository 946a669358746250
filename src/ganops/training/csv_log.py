"""losses.csv / quality.csv: header plus one row per logged step, rewritten atomically on resume."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from ganops.core.atomic import atomic_path


def write_csv(path: Path, rows: list[list[float]], columns: Sequence[str]) -> None:
    """Header plus the rows logged so far (the checkpoint's history on resume), written atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", *columns])
        writer.writerows(rows)


def append_row(path: Path, row: list[float]) -> None:
    with path.open("a", newline="") as f:
        csv.writer(f).writerow(row)
