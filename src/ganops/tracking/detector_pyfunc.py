"""The real-vs-fake detector as an MLflow pyfunc model, logged with "models from code" (no cloudpickle).

MLflow copies this file into the model and runs it at load time; `set_model` below names the model.
The detector itself is the `detector.pt` artifact (ganops.detection.io: plain tensors, no pickle).

Input, one image per row:
- a NumPy float array (N, H, W) (1-channel models) or (N, C, H, W), values in [0, 1], at the training
  image size (REST: `{"inputs": [[[...]]]}`);
- or a DataFrame with a `path` column of image files, read and resized exactly as the scan command
  and the prepare stage read folder images (REST: `{"dataframe_split": {"columns": ["path"], ...}}`).
  Off unless the server was started with GANOPS_SERVE_PATH_ROOT=<folder>; then only files inside that
  folder are read, and a file outside it, missing or unreadable gets one identical refusal.
Per-request limits (images, bytes, pixels per image) are set at serve time: ganops.tracking.serving_limits.
Output: a DataFrame with `p_fake` (calibrated probability that the image is generated) and
`verdict` (`fake` when p_fake >= the threshold chosen on validation data, else `real`).

Malformed input (wrong shape, dtype or value range, unreadable files, no `path` column, over a
limit) raises an MlflowException with INVALID_PARAMETER_VALUE, which `mlflow models serve` answers
with HTTP 400 and the one-line message, not a 500 with a stack trace nor a 504 after a long decode.
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel

PATH_COLUMN = "path"
MAX_LISTED_ERRORS = 5


class DetectorModel(PythonModel):
    def load_context(self, context) -> None:
        from ganops.detection.io import load_detector
        from ganops.tracking.serving_limits import ServingLimits

        self.detector = load_detector(context.artifacts["detector"], device="cpu")
        self.limits = ServingLimits.from_env()  # the server's policy, read where it is served

    def _read_paths(self, paths: list) -> np.ndarray:
        """Image files under the serving root -> float32 (N, C, H, W); ValueError listing bad files."""
        from ganops.data.images import read_for_model
        from ganops.tracking.serving_limits import PATH_ROOT_ENV

        limits, shape = self.limits, self.detector.image_shape
        if limits.path_root is None:
            raise ValueError(
                f"the `{PATH_COLUMN}` input is off on this server; send pixels as a float array, or start "
                f"the server with {PATH_ROOT_ENV}=<folder> to score image files inside that folder"
            )
        limits.check_count(len(paths))
        images, errors = [], []
        for path in paths:
            try:
                images.append(read_for_model(str(path), shape, limits.max_pixels, limits.path_root, limits.max_bytes))
            except ValueError as exc:
                errors.append(str(exc))
        if errors:
            listed = "; ".join(errors[:MAX_LISTED_ERRORS])
            more = f" (and {len(errors) - MAX_LISTED_ERRORS} more)" if len(errors) > MAX_LISTED_ERRORS else ""
            raise ValueError(f"{len(errors)} of {len(paths)} file(s) unreadable: {listed}{more}")
        return np.stack(images) if images else np.zeros((0, *shape), np.float32)

    def _images(self, model_input) -> np.ndarray:
        """model_input -> float32 (N, C, H, W) in [0, 1]; ValueError naming the problem otherwise."""
        from ganops.data.validate import check_image_batch

        c, h, w = self.detector.image_shape
        expected = f"(N, {h}, {w}) or (N, 1, {h}, {w})" if c == 1 else f"(N, {c}, {h}, {w})"
        if hasattr(model_input, "columns"):  # pandas DataFrame
            if PATH_COLUMN not in model_input.columns:
                raise ValueError(
                    f"DataFrame input needs a `{PATH_COLUMN}` column of image files (got columns "
                    f"{list(model_input.columns)[:5]}); send pixels as a float array {expected} instead"
                )
            return self._read_paths(model_input[PATH_COLUMN].tolist())
        if isinstance(model_input, dict):
            raise ValueError(
                f"expected one float array {expected} in [0, 1] or a DataFrame with a `{PATH_COLUMN}` "
                f"column, got named inputs {sorted(model_input)[:5]}"
            )
        if isinstance(model_input, list):
            self.limits.check_count(len(model_input))
            try:
                model_input = np.asarray(model_input)
            except ValueError as exc:  # ragged nested lists
                raise ValueError(f"expected a float array {expected}, got ragged nested lists ({exc})") from None
        array = np.asarray(model_input)
        self.limits.check_count(len(array) if array.ndim else 1)
        self.limits.check_bytes(array.nbytes)
        return check_image_batch(array, self.detector.image_shape, "detector input")

    def predict(self, context, model_input, params=None):
        import pandas as pd
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        try:
            p_fake = self.detector.score(self._images(model_input))  # (N,)
        except ValueError as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
        verdict = np.where(p_fake >= self.detector.threshold, "fake", "real")
        return pd.DataFrame({"p_fake": p_fake.astype(np.float64), "verdict": verdict})


mlflow.models.set_model(DetectorModel())
