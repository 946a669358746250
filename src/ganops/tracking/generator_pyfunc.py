"""The generator as an MLflow pyfunc model, logged with "models from code" (no cloudpickle).

MLflow copies this file into the model and runs it at load time; `set_model` below names the model.
Input: a DataFrame with a `seed` column (one image per row, reproducible per seed) and an optional
`label` column for conditional generators. Output: float32 array (N, C, H, W) in [0, 1].
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel


class GeneratorModel(PythonModel):
    def load_context(self, context) -> None:
        from ganops.image.export import load_generator

        self.G, self.meta = load_generator(context.artifacts["generator"], device="cpu")

    def predict(self, context, model_input, params=None) -> np.ndarray:
        from ganops.image.export import sample_images

        if not hasattr(model_input, "columns") or "seed" not in model_input.columns:
            raise ValueError(
                "generator input must be a DataFrame with an integer `seed` column (one row per image)"
            )
        seeds = model_input["seed"].astype("int64").to_numpy()
        labels = model_input["label"].astype("int64").to_numpy() if "label" in model_input.columns else None
        images = [
            sample_images(
                self.G, self.meta, 1, seed=int(s), labels=None if labels is None else labels[i : i + 1]
            )
            for i, s in enumerate(seeds)
        ]
        return np.concatenate(images, axis=0)  # (N, C, H, W)


mlflow.models.set_model(GeneratorModel())
