"""The `retrain` flow: ingest new images, reproduce the DVC pipeline stage by stage, promote, report.

    python -m pipeline.retrain --repo .          # one run now (ephemeral Prefect API unless
                                                  # PREFECT_API_URL points at a server)

DVC is the only definition of the DAG: the stages and their edges come from `dvc dag --dot`, and each
stage is one task running `dvc repro -s STAGE`, started once its upstream stages are done, `jobs` at a
time (`ganops.orchestration.parallel`, the scheduler of `ganops repro`), so a stage whose inputs did not
change is skipped by DVC itself. Every stage's MLflow run nests under one
parent run per flow run, named for it and keyed by its id (`ganops.tracking.lineage.pipeline_env` in the
environment of each `dvc repro -s`), as under one `dvc repro`. Promotion is each family's register
stage's champion/challenger rule (`ganops.tracking.registry`); this flow only reads their decisions and
the MLflow registry, checks that no worse model became champion, and writes the report artifact. One
run at a time per workspace (`ganops.core.workspace_lock`).
"""

from __future__ import annotations

import argparse
import subprocess
import time
import uuid
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from ganops.cli.warm import warm_env
from ganops.core.workspace_lock import workspace_lock
from ganops.orchestration import dag, parallel
from ganops.orchestration.dvc_cli import StageFailed, run_dvc, stop_on_signals
from ganops.tracking import lineage
from ganops.tracking.store import create_local_store
from pipeline import report as report_lib
from pipeline.ingest import ROUTES, has_files, ingest_incoming


def _retry_transient(task_, task_run, state) -> bool:
    exc = state.data if isinstance(state.data, BaseException) else None
    return bool(getattr(exc, "transient", False))


@task(name="list-stages", cache_policy=NO_CACHE)
def list_stages(root: Path) -> dag.StageGraph:
    """Every stage and its direct upstream stages, from `dvc dag --dot`."""
    return dag.stage_graph(root)


@task(name="dvc-status", cache_policy=NO_CACHE)
def changed_stages(root: Path) -> set[str] | None:
    """The stages whose own deps, params or outputs changed (`dag.changed_stages`); None if it cannot tell."""
    return dag.changed_stages(root)


def hand_over_to_dvc(root: Path, folder: str) -> None:
    """Untrack `folder` in git (files stay on disk) so `dvc add` can own it.

    A fresh checkout has `data/raw/` as an empty git-tracked folder (`.gitkeep`), so that `prepare`'s
    dependency exists in every clone and in `dvc exp run --temp` copies; the first ingest hands the
    folder from git to DVC.
    """
    tracked = subprocess.run(
        ["git", "ls-files", "--", folder], cwd=root, capture_output=True, text=True, check=False
    ).stdout.split()
    if tracked:
        subprocess.run(["git", "rm", "-r", "-q", "--cached", "--", folder], cwd=root, check=True)


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(root: Path) -> dict:
    """Validate and move `data/incoming/*` into `data/raw/` (and `data/incoming_translation/{A,B}/*` into
    `data/raw_translation/{A,B}/`: `ingest.ROUTES`), then `dvc add` each raw folder.

    `dvc add` runs whenever a raw folder holds files (a no-op when nothing changed), so its `.dvc` file
    also catches up after an earlier run that moved files but failed before adding them.
    """
    from ganops.config.params import ConfigError, DataConfig, load_params

    log = get_run_logger()
    try:
        max_pixels = load_params(root / "params.yaml").data.max_pixels
    except ConfigError as exc:  # the stage that reads the bad key fails with its own words later
        log.warning(f"params.yaml does not validate ({exc}); ingest uses the default pixel budget")
        max_pixels = DataConfig().max_pixels
    summary: dict[str, list] = {"ingested": [], "quarantined": [], "left": []}
    for route in ROUTES:
        result = ingest_incoming(
            root, route.incoming, route.raw, route.quarantine, max_pixels=max_pixels, dvc_folder=route.dvc_folder
        )
        for item in result.quarantined:
            log.warning(f"quarantined {item['source']} -> {item['dest']}: {item['reason']}")
        for key in summary:
            summary[key] += getattr(result, key)
    for folder in dict.fromkeys(route.dvc_folder for route in ROUTES):
        if has_files(root / folder):
            hand_over_to_dvc(root, folder)
            run_dvc(["add", folder], root, log.info, what=f"dvc add {folder}")
    log.info(f"ingested {len(summary['ingested'])} file(s), quarantined {len(summary['quarantined'])}")
    return summary


@task(
    name="dvc-repro",
    task_run_name="repro {stage}",
    retries=2,
    retry_delay_seconds=20,
    retry_condition_fn=_retry_transient,
    cache_policy=NO_CACHE,
)
def reproduce_stage(root: Path, stage: str, pipeline_env: dict[str, str] | None = None) -> parallel.StageResult:
    """`dvc repro -s STAGE`: runs the stage only if its deps/params changed (DVC decides).

    `pipeline_env` (`lineage.pipeline_env`): the stage's MLflow run nests under that execution's parent.
    """
    return parallel.reproduce_stage(root, stage, pipeline_env, log=get_run_logger().info)


def _summary(result: parallel.StageResult) -> dict:
    """A stage's line in the flow's result and report (its output is in the task's log)."""
    return {"stage": result.stage, "ran": result.ran, "restored": result.restored, "seconds": round(result.seconds, 1),
            **({"up_to_date": result.up_to_date} if result.up_to_date else {})}  # fmt: skip


@task(name="registry-snapshot", cache_policy=NO_CACHE)
def registry_snapshot(root: Path) -> dict:
    return report_lib.snapshot(root)


@task(name="promote", cache_policy=NO_CACHE)
def promote(root: Path, before: dict, after: dict, started: float) -> list[dict]:
    """Read the register stages' decisions and check them against the registry (`after`: its snapshot).

    A decision file written since `started` (epoch seconds) is this run's; the champion may only have
    moved where such a decision says so (the register stage applied the better-metric rule).
    """
    decisions = report_lib.read_decisions(root)
    checked = []
    for name in sorted(set(after) | {d["model_name"] for d in decisions}):
        decision = next((d for d in decisions if d["model_name"] == name), None)
        was = (before.get(name) or {}).get(report_lib.CHAMPION)
        now = (after.get(name) or {}).get(report_lib.CHAMPION)
        fresh = decision is not None and decision["mtime"] >= started - 1.0  # coarse fs clocks
        if fresh and decision["alias"] == report_lib.CHAMPION:
            if not now or now["version"] != decision["version"]:
                raise RuntimeError(f"{name}: decision says v{decision['version']} is champion, registry says {now}")
        elif (was and now and was["version"] != now["version"]) or (was and not now):
            raise RuntimeError(
                f"{name}: champion moved from v{was['version']} to {now and now['version']} "
                "without a decision of this run"
            )
        checked.append({"model_name": name, "fresh": bool(fresh), "decision": decision, "before": was, "after": now})
    return checked


def restore_outputs(root: Path, stage: str) -> None:
    """`dvc checkout STAGE`: DVC removed the failed stage's outputs before running it; put back the
    versions `dvc.lock` records, so a failed run leaves the workspace as the last good run left it."""
    log = get_run_logger()
    try:
        run_dvc(["checkout", stage], root, log.info, what=f"dvc checkout {stage}")
    except StageFailed as exc:  # best effort: never hide the stage's own error
        log.warning(f"could not restore the outputs of {stage}: {exc}")


def _flow_run() -> tuple[str, str] | None:
    """(id, name) of the current flow run; None outside one (`retrain.fn(...)`)."""
    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return None
    return str(ctx.flow_run.id), ctx.flow_run.name


def pipeline_key_and_label() -> tuple[str, str, str]:
    """(parent-run key, parent-run name, report label) of this flow run: key = the flow run id.

    Outside a flow run the key is a fresh uuid, so the stages still share one parent run.
    """
    found = _flow_run()
    if found is None:
        key = f"retrain:{uuid.uuid4()}"
        return key, f"retrain {key.removeprefix('retrain:')[:8]}", ""
    flow_run_id, name = found
    return flow_run_id, f"retrain {name}", f"{name} ({flow_run_id})"


@flow(name="retrain")
def retrain(repo: str = ".", lock_wait_s: float = 0.0, ingest: bool = True, jobs: int = 2) -> dict:
    """Ingest `data/incoming/`, reproduce every DVC stage, promote only better models, report.

    `repo`: the workspace (a git + DVC checkout of ganops). `lock_wait_s`: how long to wait for
    another retrain run of the same workspace before failing. `ingest`: set False to skip ingestion.
    `jobs`: independent stages reproduced at the same time (as `ganops repro --jobs`).
    """
    root = Path(repo).expanduser().resolve()
    if not (root / "dvc.yaml").is_file():
        raise ValueError(f"repo {root}: no dvc.yaml; pass the ganops checkout as `repo`")
    log = get_run_logger()
    key, parent_name, label = pipeline_key_and_label()
    stage_env = lineage.pipeline_env(key, parent_name)  # one parent MLflow run for all the stage runs
    with workspace_lock(root, lock_wait_s, owner=label) as waited:
        started = time.time()
        if waited > 0.5:
            log.info(f"waited {waited:.1f}s for another retrain run to release the workspace lock")
        before = registry_snapshot(root)
        ingested: dict = {"ingested": [], "quarantined": [], "left": []}
        done: list[dict] = []
        failed = None  # the stage whose failure stopped the run (None: ingest, listing or promotion)
        try:
            if ingest:
                ingested = ingest_task(root)
            graph = list_stages(root)
            create_local_store(root)  # before stages start together on a fresh workspace
            try:
                with warm_env(stage_env) as warm_stage_env:  # stages forked from one pre-imported process
                    results = parallel.run_schedule(
                        graph, changed_stages(root), lambda stage: reproduce_stage(root, stage, warm_stage_env),
                        jobs, echo=log.info, show_output=False,
                    )  # fmt: skip
            except parallel.ReproFailed as exc:
                done, failed = [_summary(r) for r in exc.done], exc.stage
                raise exc.error from None
            done = [_summary(r) for r in results]
        except Exception as exc:
            if failed is not None:
                restore_outputs(root, failed)
            after, parent = report_lib.snapshot(root), report_lib.pipeline_run(root, key)
            markdown = report_lib.failure_markdown(label, ingested, done, failed, str(exc), before, after, root, parent)
            report_lib.publish(markdown)
            raise
        after, parent = report_lib.snapshot(root), report_lib.pipeline_run(root, key)
        checked = promote(root, before, after, started)
        report_lib.publish(report_lib.success_markdown(label, ingested, done, checked, after, root, parent))
    summary = {"waited_s": round(waited, 1), "ingest": ingested, "stages": done, "models": checked}
    return {**summary, "mlflow_parent_run": parent and parent["run_id"]}


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - console entry
    parser = argparse.ArgumentParser(description="Run the ganops retrain flow once.")
    parser.add_argument("--repo", default=".")
    parser.add_argument("--lock-wait-s", type=float, default=0.0)
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="independent stages reproduced at the same time")
    args = parser.parse_args(argv)
    stop_on_signals()
    retrain(repo=args.repo, lock_wait_s=args.lock_wait_s, ingest=not args.no_ingest, jobs=args.jobs)


if __name__ == "__main__":
    main()
