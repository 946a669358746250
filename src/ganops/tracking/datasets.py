"""The data a run read, as MLflow dataset inputs (the Dataset column of the runs table).

Each split is logged with its name (`prepared/gan_train`), the sha256 of its images file as digest,
and tags for the split and the DVC md5 of the folder it came from (dvc.lock), so a run says which
data made it and `dvc` can fetch exactly that data again. Only metadata is logged, never the arrays.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np

from ganops.core.dvc_lock import locked_md5

DIGEST_CHARS = 32  # MLflow keeps at most 36 characters of a dataset digest


def log_split(
    name: str,
    images: np.ndarray,
    labels: np.ndarray | None,
    folder: Path,
    context: str,
    sha256: str | None = None,
):
    """Log one split read by the active run as an MLflow dataset input; returns the dataset.

    `name` e.g. `prepared/test`; `folder` the DVC output it was read from; `context` the split's role
    (`training`, `evaluation`, ...); `sha256` the images file's hash from the folder's manifest.
    """
    from mlflow.data.sources import LocalArtifactDatasetSource

    root, where = Path.cwd(), Path(folder).resolve()  # DVC runs stages in the workspace (or its exp copy)
    rel = where.relative_to(root) if where.is_relative_to(root) else Path(folder)
    digest = (sha256 or "")[:DIGEST_CHARS] or None
    dataset = mlflow.data.from_numpy(  # schema, shape and digest are logged; the arrays stay with DVC
        images,
        targets=labels,
        source=LocalArtifactDatasetSource(str(rel)),
        name=name,
        digest=digest,
    )
    tags = {"split": name.rsplit("/", 1)[-1], "num_rows": str(len(images))}
    if (md5 := locked_md5(root or Path.cwd(), rel.as_posix())) is not None:
        tags["dvc_md5"] = md5
    mlflow.log_input(dataset, context=context, tags=tags)
    return dataset


def log_prepared(data_dir: Path, split: str, images: np.ndarray, labels: np.ndarray | None, context: str):
    """`log_split` for a split of data/prepared (digest from its manifest)."""
    from ganops.data.dataset import load_manifest

    sha = load_manifest(data_dir).get("sha256", {}).get(f"{split}_images.npy")
    return log_split(f"prepared/{split}", images, labels, data_dir, context, sha)
