"""Every file a DVC stage's code can import is covered by that stage's deps, so no edit goes unnoticed.

A stage `NAME` (or `NAME@item`) runs `ganops <command>`, a thin CLI wrapper (argument parsing and
printing only) around `ganops.stages.NAME.run`; the closure starts there.
"""

from pathlib import Path

import pytest
import yaml

from import_closure import SRC, import_closure

ROOT = SRC.parent
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _deps(stage: dict) -> list[str]:
    body = stage.get("do", stage)
    return [next(iter(d)) if isinstance(d, dict) else d for d in body.get("deps", [])]


def _covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == dep or rel.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_its_import_closure(name):
    module = f"ganops.stages.{name}"
    closure = import_closure(module)
    assert SRC / "ganops" / "stages" / f"{name}.py" in closure, f"{module}: no such stage module"
    missing = sorted(p.relative_to(ROOT).as_posix() for p in closure if not _covered(p, _deps(STAGES[name])))
    assert not missing, f"dvc.yaml stage {name!r} misses deps on {missing}"


def test_closure_follows_function_level_imports():
    closure = {p.relative_to(SRC).as_posix() for p in import_closure("ganops.image.architectures")}
    assert {"ganops/image/dcgan.py", "ganops/image/mlp.py", "ganops/__init__.py"} <= closure


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_output_of_a_stage_is_persistent(name):
    """DVC deletes a stage's outputs before running it unless `persist: true`: a failed or killed run would
    lose the last good ones (every stage writes to a temp path and renames, so persisting is safe)."""
    stage = STAGES[name].get("do", STAGES[name])
    entries = [entry for kind in ("outs", "metrics", "plots") for entry in stage.get(kind, [])]
    lost = [entry if isinstance(entry, str) else next(iter(entry)) for entry in entries
            if isinstance(entry, str) or not (next(iter(entry.values())) or {}).get("persist")]  # fmt: skip
    assert entries and not lost, f"dvc.yaml stage {name!r}: outputs without `persist: true`: {lost}"
