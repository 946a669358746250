"""Which pipeline execution a stage run belongs to: run names `stage/item` and one parent run per execution.

DVC runs each stage as its own process, so the parent run of one `dvc repro` (or `dvc exp run`, or
retrain flow) cannot be held open by anyone; instead every stage run finds it by a key and creates it
when it is the first. The key, first match wins:

1. `GANOPS_PIPELINE_RUN` — set by whoever drives DVC stage by stage (the retrain flow: its flow run id;
   `pipeline_env()` builds it), so all its `dvc repro -s STAGE` calls share one parent;
2. `PREFECT__FLOW_RUN_ID` — a served or deployed Prefect flow run that did not set the above;
3. the nearest `dvc` ancestor process (pid + kernel start time), i.e. one `dvc repro` or `dvc exp run`.
   Under `dvc exp run` DVC also sets `DVC_EXP_NAME` / `DVC_EXP_BASELINE_REV`, which name the parent
   and are tagged on it and on every child run.

A stage started by hand (`ganops train-gan dcgan`) has no parent. The parent is marked FINISHED (or
FAILED) each time one of its stages ends, so its end time is that of the last stage.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from ganops.core.flock import flocked
from ganops.core.paths import repo_root
from ganops.core.processes import launcher_pid

PIPELINE_RUN_ENV = "GANOPS_PIPELINE_RUN"  # an opaque key shared by all stages of one execution
PIPELINE_LABEL_ENV = "GANOPS_PIPELINE_LABEL"  # the parent run's name (optional)
PIPELINE_KIND_ENV = "GANOPS_PIPELINE_KIND"  # retrain | dvc repro | ... (optional)
KEY_TAG = "ganops.pipeline_key"
KIND_TAG = "ganops.pipeline"
EXPERIMENT_TAG = "dvc_experiment"  # DVC_EXP_NAME, on the parent and on every run of a `dvc exp run`
BASELINE_TAG = "dvc_baseline_rev"
GIT_COMMIT_TAG = "mlflow.source.git.commit"  # what the MLflow UI shows as the run's source version
ITEM_TAGS = ("variant", "detector", "translator", "video_variant")  # the `@item` of a foreach stage
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"  # the UI opens an experiment in the view this names
MODEL_TRAINING_KIND = "custom_model_development"  # the model-training view (not GenAI traces)
_ANCESTOR_DEPTH = 12


@dataclass(frozen=True)
class Execution:
    """One pipeline execution: what groups stage runs under a parent run."""

    key: str
    kind: str  # "dvc repro" | "dvc exp run" | "retrain"
    label: str  # the parent run's name
    dvc_experiment: str | None = None
    baseline_rev: str | None = None


def dvc_experiment() -> str | None:
    """The experiment name when running under `dvc exp run` (DVC sets DVC_EXP_NAME), else None."""
    return os.environ.get("DVC_EXP_NAME") or None


def pipeline_env(key: str, label: str, kind: str = "retrain") -> dict[str, str]:
    """Environment for the `dvc repro -s STAGE` subprocesses of one flow run: they share one parent run."""
    return {PIPELINE_RUN_ENV: key, PIPELINE_LABEL_ENV: label, PIPELINE_KIND_ENV: kind}


def _proc(pid: int) -> tuple[int, str, list[str]] | None:
    """(parent pid, start ticks, argv) of a process, from /proc (None where /proc is not there)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return None
    return int(stat[1]), stat[19], [a.decode(errors="replace") for a in argv if a]


def dvc_ancestor() -> tuple[int, str, list[str]] | None:
    """(pid, start ticks, argv) of the nearest ancestor process that runs `dvc`, or None.

    A stage forked by the warm-start server (ganops.cli.warm) looks from its launcher, the `ganops`
    process DVC started, not from the server."""
    pid = (_proc(launcher_pid()) or (0,))[0]  # its parent
    for _ in range(_ANCESTOR_DEPTH):
        if pid <= 1 or (found := _proc(pid)) is None:
            return None
        ppid, start, argv = found
        if any(Path(arg).name == "dvc" for arg in argv[:2]) or argv[1:3] == ["-m", "dvc"]:
            return pid, start, argv
        pid = ppid
    return None


def current(commit: str = "unknown") -> Execution | None:
    """The pipeline execution this process belongs to (see the module docstring), or None."""
    exp, baseline = dvc_experiment(), os.environ.get("DVC_EXP_BASELINE_REV") or None
    short = commit[:8]
    if key := os.environ.get(PIPELINE_RUN_ENV):
        kind = os.environ.get(PIPELINE_KIND_ENV, "retrain")
        return Execution(key, kind, os.environ.get(PIPELINE_LABEL_ENV) or f"{kind} {short}", exp, baseline)
    if flow_run := os.environ.get("PREFECT__FLOW_RUN_ID"):
        return Execution(f"prefect:{flow_run}", "retrain", f"retrain {flow_run[:8]}", exp, baseline)
    ancestor = dvc_ancestor()
    if ancestor is None:
        return None
    pid, start, argv = ancestor
    key = f"dvc:{socket.gethostname()}:{pid}:{start}"
    if exp:
        return Execution(key, "dvc exp run", f"dvc exp run {exp}", exp, baseline)
    command = next((a for a in argv[1:4] if a in ("repro", "exp", "queue")), "repro")
    return Execution(key, f"dvc {command}", f"dvc {command} @ {short}", exp, baseline)


def run_name(stage: str, tags: dict[str, str]) -> str:
    """`train_gan/dcgan` for a foreach stage item, `register` for a plain stage.

    Under DVC the stage's own address (DVC_STAGE, e.g. `train_gan@dcgan`) decides; by hand, the item
    tag does, except for register stages, whose `variant` tag names the chosen candidate, not an item.
    """
    address = os.environ.get("DVC_STAGE", "")
    if address.split("@")[0].split(":")[-1] == stage:
        return address.split(":")[-1].replace("@", "/")
    item = next((tags[t] for t in ITEM_TAGS if tags.get(t)), None)
    return f"{stage}/{item}" if item and not stage.startswith("register") else stage


def find_parent(client: MlflowClient, key: str, experiment_ids: list[str]) -> mlflow.entities.Run | None:
    """The parent run of the execution with pipeline key `key` in these experiments (the oldest wins), or None."""
    query = f"tags.`{KEY_TAG}` = '{key}'"
    found = client.search_runs(experiment_ids, query, max_results=1, order_by=["attributes.start_time ASC"])
    return found[0] if found else None


@contextlib.contextmanager
def _one_parent_creator() -> Iterator[None]:
    """Stages of one execution that start at the same moment (`ganops repro --jobs 2`) take turns to
    find-or-create its parent, so exactly one creates it: an exclusive `flock` on a file in `.dvc/tmp/`
    (held for one search and at most one insert; the kernel drops it if the process dies)."""
    dvc_dir = repo_root() / ".dvc"
    if not dvc_dir.is_dir():  # a stage started by hand outside a DVC project: nothing runs beside it
        yield
        return
    (dvc_dir / "tmp").mkdir(exist_ok=True)
    with open(dvc_dir / "tmp" / "ganops-parent-run.lock", "a") as handle, flocked(handle):
        yield


def _find_or_create_parent(client: MlflowClient, experiment_id: str, execution: Execution, tags: dict) -> str:
    with _one_parent_creator():
        if (found := find_parent(client, execution.key, [experiment_id])) is not None:
            return found.info.run_id
        return _create_parent(client, experiment_id, execution, tags)


def _create_parent(client: MlflowClient, experiment_id: str, execution: Execution, tags: dict) -> str:
    parent_tags = {
        KEY_TAG: execution.key,
        KIND_TAG: execution.kind,
        "mlflow.runName": execution.label,
        "mlflow.note.content": f"All stage runs of one `{execution.kind}`; each child is `stage/item`.",
        **{k: v for k, v in tags.items() if k in ("git_commit", GIT_COMMIT_TAG, "dvc_data_md5")},
    }
    if execution.dvc_experiment:
        parent_tags[EXPERIMENT_TAG] = execution.dvc_experiment
    if execution.baseline_rev:
        parent_tags[BASELINE_TAG] = execution.baseline_rev
    run = client.create_run(experiment_id, tags=parent_tags, run_name=execution.label)
    return run.info.run_id


def mark_model_training(experiment_id: str) -> None:
    """Tag the experiment so the MLflow UI opens it in the model-training view, not the GenAI one."""
    client = MlflowClient()
    if client.get_experiment(experiment_id).tags.get(EXPERIMENT_KIND_TAG) != MODEL_TRAINING_KIND:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)


@contextlib.contextmanager
def start_stage_run(stage: str, experiment: str, tags: dict[str, str]) -> Iterator[mlflow.ActiveRun]:
    """`mlflow.start_run` for one stage: named `stage/item`, nested under its execution's parent run.

    `tags` are the run's tags (with `git_commit`); `experiment` must exist (`runs.setup`).
    """
    from ganops.tracking.store import follow_checkout

    follow_checkout()  # a moved checkout: artifact locations follow it before anything is written
    client = MlflowClient()
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    mark_model_training(experiment_id)
    commit = tags.get("git_commit", "unknown")
    all_tags = {GIT_COMMIT_TAG: commit, **tags}
    execution = current(commit)
    parent = None
    if execution is not None:
        if execution.dvc_experiment:
            all_tags[EXPERIMENT_TAG] = execution.dvc_experiment
        parent = _find_or_create_parent(client, experiment_id, execution, all_tags)
        client.update_run(parent, status="RUNNING")
        if "dvc_data_md5" in all_tags:
            client.set_tag(parent, "dvc_data_md5", all_tags["dvc_data_md5"])
    status = "FAILED"
    try:
        with mlflow.start_run(run_name=run_name(stage, tags), tags=all_tags, parent_run_id=parent) as run:
            yield run
        status = "FINISHED"
    finally:
        if parent is not None:
            with contextlib.suppress(Exception):  # never hide the stage's own error
                client.set_terminated(parent, status=status, end_time=int(time.time() * 1000))
