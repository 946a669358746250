"""MLflow plumbing shared by the stage entry points (imported by the CLI only, never by core modules).

Hard stops: every stage run is tagged with the pid and host that run it, so the next attempt of the
same stage ends a run whose process is gone (kill -9, OOM killer, power loss) as KILLED instead of
leaving it RUNNING forever. Calls to a tracking server time out: unless the environment says
otherwise, one request waits at most HTTP_TIMEOUT_S seconds and is retried HTTP_RETRIES times, and an
unreachable server is one line (RuntimeError, exit 1 in the CLI), never a silent hang.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow

from ganops.core import paths
from ganops.core.dvc_lock import locked_md5
from ganops.core.processes import launcher_pid, pid_alive, process_age, start_ticks
from ganops.tracking import lineage

HTTP_TIMEOUT_S = "20"  # MLflow's own default: 120 s per request
HTTP_RETRIES = "2"  # MLflow's own default: 7, with exponential backoff (minutes when the host is gone)
PID_TAG, HOST_TAG, START_TAG = "ganops.pid", "ganops.host", "ganops.pid_start"
STARTUP_METRIC = "process_startup_seconds"  # from the stage process's start to its MLflow run's start


def _http_limits() -> None:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", HTTP_TIMEOUT_S)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", HTTP_RETRIES)


def setup(experiment: str, root: Path | None = None) -> None:
    """Point MLflow at the repo-root store and make sure the experiment exists with our artifact root.

    Raises RuntimeError (one line) when the tracking store does not answer within the time limits.
    """
    root = root or paths.repo_root()
    uri = paths.tracking_uri(root)
    _http_limits()
    mlflow.set_tracking_uri(uri)
    try:
        if mlflow.get_experiment_by_name(experiment) is None:
            with contextlib.suppress(mlflow.exceptions.MlflowException):  # created concurrently
                mlflow.create_experiment(experiment, artifact_location=f"{paths.artifact_root(root)}/{experiment}")
        mlflow.set_experiment(experiment)
    except Exception as exc:  # MlflowException, requests' ConnectionError / Timeout, ...
        if not uri.startswith(("http://", "https://")):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise RuntimeError(
            f"MLflow tracking server {uri} did not answer (timeout "
            f"{os.environ['MLFLOW_HTTP_REQUEST_TIMEOUT']}s, {os.environ['MLFLOW_HTTP_REQUEST_MAX_RETRIES']} "
            f"retries): {first}; check MLFLOW_TRACKING_URI"
        ) from None


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Nested params → flat dotted keys, the form MLflow compares in its UI."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(flatten(f"{prefix}.{key}" if prefix else str(key), sub))
        return out
    return {prefix: value}


def log_manifest(manifest: dict, suffix: str = "") -> None:
    """A prepare stage's split sizes (`num_SPLIT` + suffix; `num_SPLIT_DOMAIN` for per-domain counts) and
    its skipped files, as metrics of the active run."""
    sizes = flatten("num", manifest["counts"])
    mlflow.log_metrics({key.replace(".", "_") + suffix: float(n) for key, n in sizes.items()})
    mlflow.log_metric("num_skipped_files", float(manifest["skipped_count"]))


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (subprocess.SubprocessError, FileNotFoundError):
        return "unknown"


def provenance_tags(root: Path) -> dict[str, str]:
    """Where a run's inputs came from: the git commit and, once dvc.lock exists, the prepared-data md5."""
    tags = {"git_commit": git_commit(root)}
    if (lock_md5 := locked_md5(root, "data/prepared")) is not None:
        tags["dvc_data_md5"] = lock_md5
    return tags


def _alive(pid: int, start: str) -> bool:
    """Alive, and the same process (its start time), not a later one that reused the pid."""
    return pid_alive(pid) and (not start or start_ticks(pid) in ("", start))


def end_stale_runs(stage: str, experiment: str, tags: dict[str, str]) -> list[str]:
    """End as KILLED the RUNNING runs of this stage (same variant) whose process on this host is gone, and
    their parent run (the killed `dvc repro` / flow run) if it is still RUNNING: a parent is RUNNING while
    a stage of its execution runs, and a retried stage of the same execution sets it RUNNING again.

    Runs started on another host, or whose process still lives, are left alone. Returns the run ids.
    """
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return []
    query = f"attributes.status = 'RUNNING' and tags.`ganops.stage` = '{stage}'"
    if "variant" in tags:
        query += f" and tags.variant = '{tags['variant']}'"
    client = mlflow.MlflowClient()
    ended = []
    for run in client.search_runs([found.experiment_id], query, max_results=200):
        run_tags = run.data.tags
        if run_tags.get(HOST_TAG) != socket.gethostname() or not run_tags.get(PID_TAG, "").isdigit():
            continue
        if _alive(int(run_tags[PID_TAG]), run_tags.get(START_TAG, "")):
            continue
        client.set_terminated(run.info.run_id, status="KILLED")
        ended.append(run.info.run_id)
        parent = run_tags.get("mlflow.parentRunId")
        if parent and client.get_run(parent).info.status == "RUNNING":
            client.set_terminated(parent, status="KILLED")
    return ended


@contextlib.contextmanager
def stage_run(stage: str, experiment: str, params: dict[str, Any], tags: dict[str, str]) -> Iterator[Any]:
    """An MLflow run for one stage: logs the params it used and provenance tags; FAILED on error.

    Stale RUNNING runs of the same stage left by a killed earlier attempt are ended as KILLED first.
    """
    root = paths.repo_root()
    setup(experiment, root)
    end_stale_runs(stage, experiment, tags)
    pid = os.getpid()
    mine = {PID_TAG: str(pid), HOST_TAG: socket.gethostname(), START_TAG: start_ticks(pid)}
    all_tags = {"ganops.stage": stage, **provenance_tags(root), **mine, **tags}
    with lineage.start_stage_run(stage, experiment, all_tags) as run:  # `stage/item`, under its parent run
        mlflow.log_params({k: str(v)[:500] for k, v in flatten("", params).items()})
        if (age := process_age(launcher_pid())) is not None:  # interpreter, imports, params, store: before the body
            mlflow.log_metric(STARTUP_METRIC, round(age, 2))
        yield run
