"""The video generator as an MLflow pyfunc model, logged with "models from code" (no cloudpickle).

Input: a DataFrame with an integer `seed` column (one clip per row, reproducible per seed) and, for
class-conditional generators, an optional `label` column. Output: float32 (N, T, C, H, W) in [0, 1].
A label the generator does not have (or any label for an unconditional one) is a one-line ValueError,
which `mlflow models serve` answers with HTTP 400. The signature (`seed`, optional `label`) and the
input example it is logged with live in tracking/video_model.py.
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel


class VideoGeneratorModel(PythonModel):
    def load_context(self, context) -> None:
        from ganops.video.export import load_video_generator

        self.G, self.meta = load_video_generator(context.artifacts["generator"], device="cpu")

    def predict(self, context, model_input, params=None) -> np.ndarray:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from ganops.video.export import sample_clips

        if not hasattr(model_input, "columns") or "seed" not in model_input.columns:
            raise MlflowException(
                "video generator input must be a DataFrame with an integer `seed` column (one row per clip)",
                error_code=INVALID_PARAMETER_VALUE,
            )
        seeds = model_input["seed"].astype("int64").to_numpy()
        labels = model_input["label"].astype("int64").to_numpy() if "label" in model_input.columns else None
        try:
            clips = [
                sample_clips(self.G, self.meta, 1, seed=int(s), label=None if labels is None else int(labels[i]))
                for i, s in enumerate(seeds)
            ]
        except ValueError as error:  # unknown label: a client error, not a server fault
            raise MlflowException(str(error).splitlines()[0], error_code=INVALID_PARAMETER_VALUE) from None
        return np.concatenate(clips, axis=0)  # (N, T, C, H, W)


mlflow.models.set_model(VideoGeneratorModel())
