"""MLflow: runs, the champion/challenger registry, and the pyfunc models (logged as code)."""

from __future__ import annotations

from pathlib import Path


def pyfunc_code(name: str) -> Path:
    """The file of pyfunc module `tracking.<name>`, found without importing it: importing one defines
    its PythonModel and calls mlflow.models.set_model, which only MLflow's loader should do."""
    return Path(__file__).with_name(f"{name}.py")
