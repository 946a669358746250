"""`ganops repro`: `dvc repro`, independent stages at the same time (what `make run` calls).

Mounted on the main app by ganops.cli.main (`app.registered_commands += repro_app.registered_commands`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
    warm_start: bool = typer.Option(True, "--warm/--cold", help="fork stages from one pre-imported process"),
) -> None:
    """Reproduce the DVC pipeline, up to JOBS independent stages at a time (each one `dvc repro -s`).

    DVC decides what runs and records it in dvc.lock, as under `dvc repro`; every stage's MLflow run
    nests under one parent run. Stop with Ctrl-C: the running stages stop with it. `--warm` (default):
    each stage's `ganops` process is forked from one that imported torch and MLflow once
    (ganops.cli.warm), ~4 s less start-up per stage; `--cold` starts every stage from scratch.
    """
    from ganops.cli.warm import warm_env
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
        with warm_env(env if warm_start else None) as stage_env:
            results = reproduce(root, jobs=jobs, targets=targets or None, env=stage_env, echo=typer.echo)
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


@repro_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def warm(ctx: typer.Context) -> None:
    """Run a command (e.g. `dvc repro`, `dvc exp run ...`) with a warm-start server: every `ganops`
    stage it starts is forked from one process that imported torch and MLflow once (ganops.cli.warm).

    Example: `ganops warm dvc exp run -S gan.variants.dcgan.num_steps=2000`. Exits with the command's code.
    """
    if not ctx.args:
        raise typer.BadParameter("give the command to run, e.g. `ganops warm dvc repro`", param_hint="COMMAND")
    from ganops.cli.warm import warm_env
    from ganops.orchestration.dvc_cli import env_with_bin

    with warm_env({}) as extra:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to handle, as in a shell
        try:
            code = subprocess.call(ctx.args, env=env_with_bin(extra))
        finally:
            signal.signal(signal.SIGINT, previous)
    sys.exit(code if code >= 0 else 128 - code)
