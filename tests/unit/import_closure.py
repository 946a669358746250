"""Static import closure of a ganops module: every ganops file it can import, at any depth.

Read from the source with `ast` (nothing is imported), counting imports inside functions and under
TYPE_CHECKING too, and every package `__init__.py` on the way: a conservative superset of what runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def import_closure(module: str) -> set[Path]:
    todo, seen = [module], set()
    while todo:
        name = todo.pop()
        path = module_file(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages' __init__
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names if alias.name.split(".")[0] == "ganops"]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("ganops"):
                todo += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return seen
