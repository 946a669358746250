"""Module paths from before the package layout (ganops 0.1) still import, for registered models.

MLflow "models from code" copies the pyfunc file into each logged model, and the copies registered
before the restructure import e.g. `ganops.generator_io`. Keeping those names importable keeps every
registered version loadable, so `ganops rollback` to an old champion works. Only the names such
logged code imports are listed; new code uses the new paths (import-linter and the tests see those).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

MOVED = {
    "ganops.generator_io": "ganops.image.export",  # load_generator, sample_images
    "ganops.detector_io": "ganops.detection.io",  # load_detector
    "ganops.detector_training": "ganops._legacy.detector_training",  # check_images
    "ganops.image_files": "ganops._legacy.image_files",  # read_image
}


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old name to the already-importable new module (one module object, not a copy)."""

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        return importlib.machinery.ModuleSpec(name, self) if name in MOVED else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:  # the new module ran when it was imported
        return None


def install() -> None:
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
