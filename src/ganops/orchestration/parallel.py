"""`dvc repro`, several independent stages at a time: each stage is one `dvc repro -s STAGE`, started
once every stage upstream of it is done, up to `jobs` at once.

DVC decides whether a stage runs (deps, params and outputs against `dvc.lock`), records it in
`dvc.lock` and caches its outputs, exactly as under one `dvc repro`; DVC documents this way of running
independent branches in parallel ("Parallel stage execution" in `dvc repro --help`'s docs) and
`--wait-for-lock` makes each call wait for the short moments another one holds the repo lock.
Why not plain `dvc repro`: it runs one stage at a time, and the GAN stages train on one CPU thread
(faster for these small models than two), so on a 2-core machine half of it sat idle.

Output is kept per stage and printed when the stage ends (like `make --output-sync`), so the log of
two stages running at once never interleaves. A failed stage stops new ones from starting; the ones
running finish (their outputs are recorded) and the failure is raised with that stage's error lines.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ganops.orchestration.dag import StageGraph, changed_stages, stage_graph
from ganops.orchestration.dvc_cli import run_dvc


@dataclass(frozen=True)
class StageResult:
    stage: str
    ran: bool  # DVC ran its command (False: DVC found it up to date)
    seconds: float  # wall time of its `dvc repro -s`, DVC's start-up included (0 when not asked)
    output: str = ""
    up_to_date: str = ""  # who said it is up to date without running it: "dvc status" | "dvc repro"
    restored: bool = False  # not run, but DVC checked its outputs out of its cache (they had changed)


class ReproFailed(RuntimeError):
    """A stage failed: which one, what finished before, and what was never started."""

    def __init__(self, stage: str, error: Exception, done: list[StageResult], not_started: list[str]):
        left = f"; not started: {', '.join(not_started)}" if not_started else ""
        super().__init__(f"{error}{left}")
        self.stage, self.error, self.done, self.not_started = stage, error, done, not_started


def reproduce_stage(
    root: Path, stage: str, env: dict[str, str] | None = None, log: Callable[[str], None] | None = None
) -> StageResult:
    """`dvc repro -s STAGE` (waiting for DVC's repo lock while another call holds it); `log` gets each
    output line as it comes."""
    start = time.monotonic()
    args = ["--wait-for-lock", "repro", "-s", stage]
    stdout, stderr = run_dvc(args, root, log, what=f"stage '{stage}'", env=env)
    ran = f"Running stage '{stage}'" in stdout
    unchanged = f"Stage '{stage}' didn't change" in stdout  # else DVC ran it or put outputs back from its cache
    seconds = time.monotonic() - start
    return StageResult(
        stage, ran, seconds, stdout + stderr, "dvc repro" if unchanged else "", not ran and not unchanged
    )


class _Schedule:
    """Which stages are left, running and done; the deepest ready stage starts first."""

    def __init__(self, graph: StageGraph, wanted: set[str], changed: set[str] | None):
        self.graph, self.changed = graph, changed
        self.pending = [n for n in graph.order() if n in wanted]
        self.upstream = {n: graph.upstream[n] & wanted for n in self.pending}
        self.done: dict[str, StageResult] = {}
        self.touched: set[str] = set()  # stages that ran or were restored: their downstream stages ask DVC

    def ready(self) -> list[str]:
        ready = [n for n in self.pending if self.upstream[n] <= self.done.keys()]
        return sorted(ready, key=lambda n: -self.graph.depth[n])  # stable: ties keep dvc.yaml order

    def known_up_to_date(self, stage: str) -> bool:
        return self.changed is not None and stage not in self.changed and not self.upstream[stage] & self.touched

    def finish(self, result: StageResult) -> None:
        self.done[result.stage] = result
        if result.ran or result.restored:
            self.touched.add(result.stage)


def reproduce(
    root: Path,
    jobs: int = 2,
    targets: list[str] | None = None,
    env: dict[str, str] | None = None,
    echo: Callable[[str], None] = print,
) -> list[StageResult]:
    """Bring `targets` (default: every stage) and their upstream stages up to date, `jobs` at a time.

    `env`: added to each stage's environment (e.g. `lineage.pipeline_env`: one parent MLflow run).
    Returns the stages in the order they ended; raises ReproFailed after the running ones end.
    """
    return run_schedule(
        stage_graph(root), changed_stages(root), lambda stage: reproduce_stage(root, stage, env), jobs, targets, echo
    )


def run_schedule(
    graph: StageGraph,
    changed: set[str] | None,
    run_stage: Callable[[str], StageResult],
    jobs: int = 2,
    targets: list[str] | None = None,
    echo: Callable[[str], None] = print,
    show_output: bool = True,
) -> list[StageResult]:
    """The scheduler under `reproduce`: `run_stage(name)` in worker threads, each started in a copy of
    the caller's context (a Prefect flow run's tasks then belong to it); `changed`: what `dvc status`
    listed (None: ask DVC about every stage). `show_output`: echo each stage's output when it ends."""
    if jobs < 1:
        raise ValueError(f"jobs = {jobs}: give 1 or more stages to run at a time")
    schedule = _Schedule(graph, graph.closure(targets) if targets else set(graph.names), changed)
    running: dict[Future, str] = {}
    failed: tuple[str, Exception] | None = None
    ended: list[StageResult] = []
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="dvc-repro") as pool:
        while schedule.pending or running:
            while failed is None and (up := [n for n in schedule.ready() if schedule.known_up_to_date(n)]):
                for name in up:  # nothing changed for it or upstream: DVC need not be asked
                    schedule.pending.remove(name)
                    schedule.finish(StageResult(name, False, 0.0, up_to_date="dvc status"))
                    ended.append(schedule.done[name])
            for name in schedule.ready()[: jobs - len(running)] if failed is None else []:
                schedule.pending.remove(name)
                running[pool.submit(contextvars.copy_context().run, run_stage, name)] = name
                others = sorted(n for n in running.values() if n != name)
                echo(f"started {name}" + (f" (also running: {', '.join(others)})" if others else ""))
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # StageFailed, or whatever stopped the caller's run_stage
                    failed = failed or (name, exc)
                    if show_output and getattr(exc, "output", "").strip():
                        echo(exc.output.rstrip())
                    echo(f"FAILED: {name}")
                    continue
                schedule.finish(result)
                ended.append(result)
                if show_output and result.output.strip():
                    echo(result.output.rstrip())
                state = "done" if result.ran else "restored from the DVC cache" if result.restored else "up to date"
                echo(f"{state}: {name} ({result.seconds:.1f} s)")
    if failed is not None:
        raise ReproFailed(failed[0], failed[1], ended, schedule.pending)
    return ended
