"""The translator as an MLflow pyfunc model, logged with "models from code" (no cloudpickle).

MLflow copies this file into the model and runs it at load time; `set_model` below names the model.
The translator itself is the `translator` artifact (ganops.translation.translator_io: plain tensors).

Input, one image per row, in the source domain of the chosen direction (param `direction`: `a2b`,
the default, or `b2a` for translators that have it, i.e. CycleGAN):
- a NumPy float array (N, C, H, W) in [0, 1] (1-channel domains may leave out C), at the training
  size (REST: `{"inputs": [...], "params": {"direction": "a2b"}}`);
- or a DataFrame with a `path` column of image files, read and resized by ganops.data's image reader
  exactly as the prepare stage reads folder images.
Output: float32 array (N, C', H, W) in [0, 1] of the target domain.

Malformed input (the other domain's shape, wrong dtype or range, unreadable files, an unknown
direction) raises an MlflowException with INVALID_PARAMETER_VALUE, which `mlflow models serve`
answers with HTTP 400 and the one-line reason. The signature (no input schema, the `direction`
param) and the input example it is logged with live in tracking/translator_model.py.
"""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel

PATH_COLUMN = "path"
DIRECTION = "direction"
MAX_LISTED_ERRORS = 5


def read_paths(paths: list, image_shape: tuple[int, int, int]) -> np.ndarray:
    """Image files → float32 (N, C, H, W) for a model reading `image_shape`; ValueError naming bad files."""
    from ganops.data.images import read_for_model

    images, errors = [], []
    for path in paths:
        try:
            images.append(read_for_model(str(path), image_shape))
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        more = f" (and {len(errors) - MAX_LISTED_ERRORS} more)" if len(errors) > MAX_LISTED_ERRORS else ""
        raise ValueError(
            f"{len(errors)} of {len(paths)} file(s) unreadable: {'; '.join(errors[:MAX_LISTED_ERRORS])}{more}"
        )
    return np.stack(images) if images else np.zeros((0, *image_shape), np.float32)


class TranslatorModel(PythonModel):
    def load_context(self, context) -> None:
        from ganops.translation.translator_io import load_translator

        self.generators, self.meta = load_translator(context.artifacts["translator"], device="cpu")

    def source_shape(self, direction: str) -> tuple[int, int, int]:
        if direction not in self.generators:
            raise ValueError(
                f"direction {direction!r}: this {self.meta['family']} translator has "
                f"{', '.join(sorted(self.generators))}"
            )
        return tuple(self.meta["shape_a" if direction == "a2b" else "shape_b"])

    def images(self, model_input, shape: tuple[int, int, int], direction: str) -> np.ndarray:
        """model_input → float32 (N, C, H, W) in [0, 1] of the direction's source domain."""
        from ganops.data.validate import check_image_batch

        if hasattr(model_input, "columns"):  # pandas DataFrame
            if PATH_COLUMN not in model_input.columns:
                raise ValueError(
                    f"DataFrame input needs a `{PATH_COLUMN}` column of image files (got columns "
                    f"{list(model_input.columns)[:5]}); or send pixels as a float array "
                    f"(N, {', '.join(map(str, shape))})"
                )
            return read_paths(model_input[PATH_COLUMN].tolist(), shape)
        if isinstance(model_input, dict | list):
            model_input = np.asarray(model_input.get("inputs") if isinstance(model_input, dict) else model_input)
        source = "A" if direction == "a2b" else "B"
        return check_image_batch(model_input, shape, f"translator input (domain {source}, {direction})", min_count=1)

    def predict(self, context, model_input, params=None) -> np.ndarray:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from ganops.translation.translator_io import translate

        direction = str((params or {}).get(DIRECTION) or "a2b")
        try:
            shape = self.source_shape(direction)
            images = self.images(model_input, shape, direction)
        except ValueError as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
        if len(images) == 0:
            target = self.meta["shape_b" if direction == "a2b" else "shape_a"]
            return np.zeros((0, *target), np.float32)
        return translate(self.generators[direction], images)  # (N, C', H, W)


mlflow.models.set_model(TranslatorModel())
