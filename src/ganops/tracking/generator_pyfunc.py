"""The generator as an MLflow pyfunc model, logged with "models from code" (no cloudpickle).

MLflow copies this file into the model and runs it at load time; `set_model` below names the model.
Input: a DataFrame with a `seed` column (one image per row, reproducible per seed) and an optional
`label` column for conditional generators (without it a conditional generator draws class
seed % num_classes, so seeds 0..9 give one image of each class). Output: float32 array (N, C, H, W) in [0, 1].
Rows per request are capped at serve time (GANOPS_SERVE_MAX_IMAGES, ganops.tracking.serving_limits);
bad input is an MlflowException with INVALID_PARAMETER_VALUE: HTTP 400 with a one-line reason.
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel


class GeneratorModel(PythonModel):
    def load_context(self, context) -> None:
        from ganops.image.export import load_generator
        from ganops.tracking.serving_limits import ServingLimits

        self.G, self.meta = load_generator(context.artifacts["generator"], device="cpu")
        self.limits = ServingLimits.from_env()

    def _columns(self, model_input) -> tuple[np.ndarray, np.ndarray | None]:
        from ganops.image.export import conditional_classes

        if not hasattr(model_input, "columns") or "seed" not in model_input.columns:
            raise ValueError("generator input must be a DataFrame with an integer `seed` column (one row per image)")
        self.limits.check_count(len(model_input))
        try:
            seeds = model_input["seed"].astype("int64").to_numpy()
            labels = model_input["label"].astype("int64").to_numpy() if "label" in model_input else None
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"`seed` and `label` must be integers ({str(exc).splitlines()[0]})") from None
        if len(seeds) == 0 or (seeds < 0).any():
            raise ValueError("`seed` must hold at least one integer, all >= 0")
        num_classes = conditional_classes(self.meta)
        if labels is None and num_classes:
            labels = seeds % num_classes  # one image per row: the label must come from the row, not its index
        return seeds, labels

    def predict(self, context, model_input, params=None) -> np.ndarray:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from ganops.image.export import sample_images

        try:
            seeds, labels = self._columns(model_input)
            images = [
                sample_images(self.G, self.meta, 1, seed=int(s), labels=None if labels is None else labels[i : i + 1])
                for i, s in enumerate(seeds)
            ]
        except ValueError as exc:
            raise MlflowException(str(exc).splitlines()[0], error_code=INVALID_PARAMETER_VALUE) from None
        return np.concatenate(images, axis=0)  # (N, C, H, W)


mlflow.models.set_model(GeneratorModel())
