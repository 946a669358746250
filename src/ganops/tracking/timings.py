"""Per-stage wall time of the latest pipeline run, read back from the MLflow runs the stages logged.

Every stage body runs inside `tracking.runs.stage_run`, so MLflow records each stage's start and end
time; this module lines them up so the slow stage is found in one look (`ganops timings`). Beside it,
each stage process's start-up (interpreter, torch/MLflow imports, params, store: `process_startup_seconds`,
logged by `stage_run`), which the run's own wall time does not include.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow

from ganops.tracking.runs import STARTUP_METRIC


@dataclass(frozen=True)
class StageTime:
    stage: str  # e.g. train_gan@dcgan
    status: str  # FINISHED | FAILED | KILLED | RUNNING
    seconds: float | None  # None while running
    start_ms: int
    startup: float | None = None  # seconds from the stage process's start to its run's start


def latest_stage_times(experiment: str, max_runs: int = 500) -> list[StageTime]:
    """The most recent run of every stage (and foreach item) in `experiment`, in start order."""
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = mlflow.search_runs([found.experiment_id], max_results=max_runs, order_by=["start_time DESC"],
                              output_format="list")  # fmt: skip
    latest: dict[str, StageTime] = {}
    for run in runs:
        tags = run.data.tags
        stage = tags.get("ganops.stage")
        if not stage:
            continue
        # the run name is the stage's address with `/` for `@` (lineage.run_name): `train_gan/dcgan`, `register`
        run_name = run.info.run_name or ""
        name = run_name.replace("/", "@", 1) if run_name.split("/")[0] == stage else stage
        if name in latest:
            continue
        info = run.info
        seconds = (info.end_time - info.start_time) / 1000 if info.end_time else None
        latest[name] = StageTime(name, info.status, seconds, info.start_time, run.data.metrics.get(STARTUP_METRIC))
    return sorted(latest.values(), key=lambda t: t.start_ms)


def timings_markdown(times: list[StageTime]) -> str:
    """A markdown table, slowest stage marked, with the totals of the finished stages."""
    if not times:
        return "No stage runs recorded yet: run `dvc repro` first.\n"
    finished = [t.seconds for t in times if t.seconds is not None]
    startups = [t.startup for t in times if t.startup is not None]
    slowest = max(finished) if finished else None
    lines = ["| stage | status | process start-up (s) | wall time (s) |", "|---|---|---:|---:|"]
    for t in times:
        wall = "running" if t.seconds is None else f"{t.seconds:.1f}"
        if t.seconds is not None and t.seconds == slowest:
            wall = f"**{wall}** (slowest)"
        startup = "" if t.startup is None else f"{t.startup:.1f}"
        lines.append(f"| `{t.stage}` | {t.status} | {startup} | {wall} |")
    lines.append(f"| total of finished stages | | {sum(startups):.1f} | {sum(finished):.1f} |")
    return "\n".join(lines) + "\n"
