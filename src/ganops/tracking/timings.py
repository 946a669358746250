"""Per-stage wall time of the latest pipeline run, read back from the MLflow runs the stages logged.

Every stage body runs inside `tracking.runs.stage_run`, so MLflow records each stage's start and end
time; this module lines them up so the slow stage is found in one look (`ganops timings`).
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow

ITEM_TAGS = ("variant", "detector", "translator", "video_variant")  # the `@item` of a foreach stage


@dataclass(frozen=True)
class StageTime:
    stage: str  # e.g. train_gan@dcgan
    status: str  # FINISHED | FAILED | KILLED | RUNNING
    seconds: float | None  # None while running
    start_ms: int


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
        item = next((tags[t] for t in ITEM_TAGS if tags.get(t) and tags.get(t) != stage), None)
        name = f"{stage}@{item}" if item and stage not in ("register", "register_detector") else stage
        if name in latest:
            continue
        info = run.info
        seconds = (info.end_time - info.start_time) / 1000 if info.end_time else None
        latest[name] = StageTime(name, info.status, seconds, info.start_time)
    return sorted(latest.values(), key=lambda t: t.start_ms)


def timings_markdown(times: list[StageTime]) -> str:
    """A markdown table, slowest stage marked, with the total of the finished stages."""
    if not times:
        return "No stage runs recorded yet: run `dvc repro` first.\n"
    finished = [t.seconds for t in times if t.seconds is not None]
    slowest = max(finished) if finished else None
    lines = ["| stage | status | wall time (s) |", "|---|---|---:|"]
    for t in times:
        wall = "running" if t.seconds is None else f"{t.seconds:.1f}"
        if t.seconds is not None and t.seconds == slowest:
            wall = f"**{wall}** (slowest)"
        lines.append(f"| `{t.stage}` | {t.status} | {wall} |")
    lines.append(f"| total of finished stages | | {sum(finished):.1f} |")
    return "\n".join(lines) + "\n"
