"""The DVC pipeline's DAG as DVC itself reports it: stages in order, upstream sets, what changed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ganops.orchestration.dvc_cli import StageFailed, run_dvc

_NODE = re.compile(r'^"([^"]+)";$', re.MULTILINE)
_EDGE = re.compile(r'"([^"]+)"\s*->\s*"([^"]+)"')


@dataclass(frozen=True)
class StageGraph:
    """Every stage (in `dvc.yaml` order, foreach items expanded) and each one's direct upstream stages."""

    names: tuple[str, ...]
    upstream: dict[str, frozenset[str]]

    @classmethod
    def from_dot(cls, dot: str) -> StageGraph:
        """Parse `dvc dag --dot`: its node lines list every stage in `dvc.yaml` order, then its edges.

        `.dvc` files (data that `dvc add` versions) are nodes too; they have no command to reproduce and
        are left out, as `dvc stage list` leaves them out."""
        edges = [(a, b) for a, b in _EDGE.findall(dot) if not a.endswith(".dvc") and not b.endswith(".dvc")]
        nodes = [n for n in _NODE.findall(dot) if not n.endswith(".dvc")]
        names = list(dict.fromkeys([*nodes, *(n for edge in edges for n in edge)]))
        return cls(tuple(names), {n: frozenset(a for a, b in edges if b == n) for n in names})

    def order(self) -> list[str]:
        """The stages ordered so every one follows its upstream stages; ties keep `dvc.yaml` order."""
        ordered: list[str] = []
        done: set[str] = set()
        while len(ordered) < len(self.names):
            ready = [n for n in self.names if n not in done and self.upstream[n] <= done]
            if not ready:
                raise StageFailed(f"dvc dag has a cycle among {sorted(set(self.names) - done)}")
            ordered.append(ready[0])
            done.add(ready[0])
        return ordered

    @cached_property
    def downstream(self) -> dict[str, frozenset[str]]:
        return {n: frozenset(b for b in self.names if n in self.upstream[b]) for n in self.names}

    @cached_property
    def depth(self) -> dict[str, int]:
        """Stages on the longest path from each stage to the end of the pipeline (itself included): a
        scheduler that starts the deepest ready stage first keeps the critical path moving."""
        depth: dict[str, int] = {}
        for name in reversed(self.order()):  # every downstream stage comes later in the order
            depth[name] = 1 + max((depth[b] for b in self.downstream[name]), default=0)
        return depth

    def closure(self, targets: list[str]) -> set[str]:
        """`targets` and every stage upstream of them."""
        unknown = [t for t in targets if t not in self.upstream]
        if unknown:
            raise StageFailed(f"no stage named {', '.join(unknown)} in dvc.yaml (see `dvc stage list`)")
        seen, todo = set(), list(targets)
        while todo:
            if (name := todo.pop()) not in seen:
                seen.add(name)
                todo.extend(self.upstream[name])
        return seen


def stage_graph(root: Path) -> StageGraph:
    """The DAG of the DVC project at `root`, from one `dvc dag --dot`."""
    return StageGraph.from_dot(run_dvc(["dag", "--dot"], root)[0])


def changed_stages(root: Path) -> set[str] | None:
    """The stages whose own deps, params or outputs changed (`dvc status --json`); None if it cannot tell.

    One DVC start-up (~4 s) instead of one per stage: a stage not listed here, none of whose upstream
    stages ran, is up to date, and asking `dvc repro -s` about it again would cost a start-up each.
    """
    try:
        listed = json.loads(run_dvc(["status", "--json"], root)[0] or "{}")
    except (StageFailed, ValueError):
        return None  # then every stage asks DVC itself
    return set(listed) if isinstance(listed, dict) else None
