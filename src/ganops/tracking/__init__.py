"""MLflow: runs, the champion/challenger registry, and the pyfunc models (logged as code)."""

from __future__ import annotations

from pathlib import Path


def pyfunc_code(name: str) -> Path:
    """The file of pyfunc module `tracking.<name>`, found without importing it: importing one defines
    its PythonModel and calls mlflow.models.set_model, which only MLflow's loader should do."""
    return Path(__file__).with_name(f"{name}.py")


def seed_label_signature():
    """Generator pyfunc input: `seed` (required) and `label` (optional), both integers.

    Declared rather than inferred from the example: an example with a label column made `label`
    required, so `predict(DataFrame({"seed": ...}))` on a conditional generator failed; and MLflow drops
    columns its schema does not name, so a `seed`-only schema would silently ignore a label sent to an
    unconditional generator instead of letting the model decide."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    return ModelSignature(inputs=Schema([ColSpec("long", "seed"), ColSpec("long", "label", required=False)]))
