"""`ganops repro`: `dvc repro`, independent stages at the same time (what `make run` calls).

Mounted on the main app by ganops.cli.main (`app.registered_commands += repro_app.registered_commands`).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import typer

repro_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Parallel dvc repro.")


def _label(root: Path) -> str:
    """The parent MLflow run's name, as a plain `dvc repro` names it: `dvc repro @ <commit>`."""
    found = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=root, capture_output=True, text=True)
    return f"dvc repro @ {found.stdout.strip() if found.returncode == 0 else 'unknown'}"


@repro_app.command()
def repro(
    targets: list[str] = typer.Argument(None, help="stages to bring up to date (default: all) with their upstream"),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="stages run at the same time"),
    repo: Path = typer.Option(Path("."), "--repo", help="the DVC project (a ganops checkout)"),
) -> None:
    """Reproduce the DVC pipeline, up to JOBS independent stages at a time (each one `dvc repro -s`).

    DVC decides what runs and records it in dvc.lock, as under `dvc repro`; every stage's MLflow run
    nests under one parent run. Stop with Ctrl-C: the running stages stop with it.
    """
    from ganops.orchestration.dvc_cli import StageFailed, stop_on_signals
    from ganops.orchestration.parallel import ReproFailed, reproduce
    from ganops.tracking.lineage import pipeline_env
    from ganops.tracking.store import create_local_store

    root = repo.expanduser().resolve()
    if not (root / "dvc.yaml").is_file():
        raise typer.BadParameter(
            f"{root} has no dvc.yaml: run it in a ganops checkout or pass --repo", param_hint="--repo"
        )
    os.chdir(root)  # as if started there: the store's default locations and DVC's paths are the checkout's
    create_local_store(root)
    env = pipeline_env(f"repro:{uuid.uuid4().hex}", _label(root), kind="dvc repro")
    env = {k: v for k, v in env.items() if k not in os.environ}  # an outer driver (a flow run) keeps its parent
    stop_on_signals()
    try:
        results = reproduce(root, jobs=jobs, targets=targets or None, env=env, echo=typer.echo)
    except ReproFailed as exc:
        typer.echo(f"error: stage '{exc.stage}' failed:\n{exc.error}", err=True)
        if exc.not_started:
            typer.echo(f"not started (their upstream did not finish): {', '.join(exc.not_started)}", err=True)
        raise typer.Exit(1) from None
    except StageFailed as exc:  # DVC itself: no dvc.yaml stage of that name, a broken dvc.yaml, ...
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    ran, restored = sum(r.ran for r in results), sum(r.restored for r in results)
    if not ran and not restored:
        typer.echo("Data and pipelines are up to date.")
    else:
        typer.echo(
            f"{ran} stage(s) ran, {restored} restored from the DVC cache, {len(results) - ran - restored} up to date"
        )
