"""`ganops` command: the thin entry points that DVC stages (and users) call.

Each command loads params.yaml once into typed objects, calls one library function, saves its
outputs atomically and logs the same numbers to MLflow. Library modules never import mlflow/dvc/
prefect; only the commands below do, lazily.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import typer

from ganops.cli.common import (
    DATA,
    PARAMS,
    VARIANT,
    choice,
    echo_written,
    load_stage_params,
    short,
    user_errors,
    variant_config,
)
from ganops.cli.detect import detect_app
from ganops.cli.repro import repro_app
from ganops.cli.translate import translate_app
from ganops.cli.video import video_app
from ganops.core.artifacts import GENERATOR

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])

EVALUATOR = typer.Option(Path("models/evaluator/evaluator.pt"), "--evaluator", help="domain feature network")
# `ganops rollback TARGET`: the registered models a person can roll back (names come from params.yaml).
ROLLBACK_TARGETS = ("generator", "detector", "translator", "video")


def _version(value: bool) -> None:
    if value:
        from ganops import __version__

        typer.echo(f"ganops {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the ganops version and exit"
    ),
) -> None:
    """Train, judge, register and police GANs: the thin entry points DVC stages (and users) call."""


@app.command()
def prepare(
    params: Path = PARAMS, out: Path = typer.Option(Path("data/prepared"), "--out", help="output folder")
) -> None:
    """Load the image source, validate it, split it into gan_train / detector_train / test."""
    cfg = load_stage_params(params)
    from ganops.stages import prepare as stage

    with user_errors():
        manifest = stage.run(cfg, out)
    counts = ", ".join(f"{k}={v}" for k, v in manifest["counts"].items())
    typer.echo(f"prepared {manifest['source']}: {counts}; skipped {manifest['skipped_count']} bad file(s)")
    for item in manifest["skipped"]:
        typer.echo(f"  skipped {item['path']}: {item['reason']}", err=True)


@app.command("train-evaluator")
def train_evaluator_cmd(
    params: Path = PARAMS,
    data: Path = DATA,
    out: Path = typer.Option(Path("models/evaluator/evaluator.pt"), "--out", help="evaluator weights"),
    metrics_out: Path = typer.Option(Path("metrics/evaluator.json"), "--metrics", help="its test metrics"),
) -> None:
    """Train the domain feature network (FID/IS features) on the real gan_train split."""
    cfg = load_stage_params(params)
    from ganops.stages import train_evaluator as stage

    with user_errors():
        metrics = stage.run(cfg, data, out, metrics_out)
    echo_written(f"evaluator -> {out}: {short(metrics)}", metrics_out)


@app.command("train-gan")
def train_gan_cmd(
    variant: str = VARIANT,
    params: Path = PARAMS,
    data: Path = DATA,
    evaluator: Path = EVALUATOR,
    out: Path = typer.Option(None, "--out", help="default models/gan/VARIANT"),
    checkpoints: Path = typer.Option(None, "--checkpoints", help="default checkpoints/VARIANT"),
) -> None:
    """Train one GAN variant from params.yaml (resumes from its last checkpoint if present).

    generator.pt is the checkpoint with the best probe FID (cheap FID/IS against gan_train images).
    Multi-GPU: `torchrun --nproc_per_node=N -m ganops.cli.main train-gan VARIANT`.
    """
    cfg = load_stage_params(params)
    variant_config(cfg, variant)
    from ganops.stages import train_gan as stage

    with user_errors():
        result = stage.run(cfg, variant, data, evaluator, out or Path("models/gan") / variant,
                           checkpoints or Path("checkpoints") / variant)  # fmt: skip
    if result is not None:
        typer.echo(
            f"{variant}: {result.steps} steps in {result.seconds:.1f}s "
            f"({result.images_per_second:.0f} img/s); exported best checkpoint, step {result.best_step} "
            f"(probe FID = {result.best_quality:.4g})"
        )


@app.command("evaluate-reference")
def evaluate_reference_cmd(
    params: Path = PARAMS,
    data: Path = DATA,
    evaluator: Path = EVALUATOR,
    out: Path = typer.Option(Path("metrics/reference.json"), "--out", help="reference metrics (DVC metrics)"),
) -> None:
    """Real-data floor/ceiling and a noise generator: where a model sits between the two."""
    cfg = load_stage_params(params)
    from ganops.stages import evaluate_reference as stage

    with user_errors():
        metrics = stage.run(cfg, data, evaluator, out)
    floors = [k for k in metrics if k.startswith(("fid_floor", "fid_noise"))]
    echo_written(f"reference floors/ceilings: {short(metrics, floors)}", out)


@app.command("evaluate-gan")
def evaluate_gan_cmd(
    variant: str = VARIANT,
    params: Path = PARAMS,
    data: Path = DATA,
    evaluator: Path = EVALUATOR,
    generator: Path = typer.Option(None, "--generator", help="default models/gan/VARIANT/generator.pt"),
    out: Path = typer.Option(None, "--out", help="default metrics/gan/VARIANT.json"),
) -> None:
    """FID/IS/KID of one variant's generator against the real test split, per `evaluate.networks`."""
    cfg = load_stage_params(params)
    variant_config(cfg, variant)
    from ganops.stages import evaluate_gan as stage

    generator = generator or Path("models/gan") / variant / GENERATOR
    out = out or Path("metrics/gan") / f"{variant}.json"
    with user_errors():
        metrics = stage.run(cfg, variant, data, evaluator, generator, out)
    echo_written(f"{variant}: {short(metrics, sorted(metrics, key=lambda k: not k.startswith('fid')))}", out)


@app.command()
def register(
    params: Path = PARAMS,
    metrics_dir: Path = typer.Option(Path("metrics/gan"), "--metrics-dir", help="evaluate_gan outputs"),
    models_dir: Path = typer.Option(Path("models/gan"), "--models-dir", help="train_gan outputs"),
    out: Path = typer.Option(Path("models/registered.json"), "--out", help="the registry decision"),
    reference: Path = typer.Option(Path("metrics/reference.json"), "--reference", help="floors/ceilings"),
    report: Path = typer.Option(Path("metrics/report.md"), "--report", help="markdown report"),
) -> None:
    """Register the best variant's generator as `ganops-generator`; champion only if its FID is better."""
    cfg = load_stage_params(params)
    from ganops.stages import register as stage

    with user_errors():
        decision = stage.run(cfg, metrics_dir, models_dir, out, reference, report)
    typer.echo(f"{decision['model_name']} v{decision['version']} -> {decision['alias']}: {decision['reason']}")


@app.command()
def rollback(
    which: str = typer.Argument(
        ...,
        metavar="TARGET",
        callback=choice(ROLLBACK_TARGETS, "registered models that can be rolled back", "'TARGET'"),
        help="which registered model: " + " | ".join(ROLLBACK_TARGETS),
    ),
    params: Path = PARAMS,
) -> None:
    """Restore the previous champion of `ganops-generator`, `ganops-detector`, `ganops-translator` or
    `ganops-video-generator`."""
    cfg = load_stage_params(params)
    from ganops.tracking import registry
    from ganops.tracking import runs as tracking

    names = {
        "generator": cfg.registry.model_name,
        "detector": cfg.detector.model_name,
        "translator": cfg.translation.model_name,
        "video": cfg.video.model_name,
    }
    with user_errors():
        if which not in names:
            raise ValueError(f"rollback: expected 'generator', 'detector', 'translator' or 'video', got {which!r}")
        tracking.setup(cfg.registry.experiment)
        from ganops.core.paths import repo_root
        from ganops.core.workspace_lock import workspace_lock

        root = repo_root()
        # In a workspace never move aliases under a running retrain; outside one (e.g. a remote
        # MLFLOW_TRACKING_URI) there is nothing local to guard.
        in_workspace = (root / ".dvc").is_dir()
        guard = workspace_lock(root, owner=f"ganops rollback {which}", hint="") if in_workspace else None
        with guard or contextlib.nullcontext():
            result = registry.rollback(names[which])
    typer.echo(f"{result['model_name']}: champion is v{result['champion']} again")


@app.command()
def ui(
    params: Path = PARAMS,
    host: str = typer.Option("127.0.0.1", "--host", help="address the MLflow UI listens on"),
    port: int = typer.Option(5000, "--port", min=1, max=65535, help="port of the MLflow UI"),
    open_browser: bool = typer.Option(False, "--open/--no-open", help="open the page in a web browser"),
) -> None:
    """The MLflow UI on the repo's store, opened at the experiment's model-training view."""
    import subprocess
    import threading
    import webbrowser

    cfg = load_stage_params(params)
    from mlflow import MlflowClient

    from ganops.core import paths
    from ganops.tracking.lineage import mark_model_training
    from ganops.tracking.store import follow_checkout, model_training_url

    root = paths.repo_root()
    uri = paths.tracking_uri(root)
    with user_errors():
        moved = follow_checkout(root)
        if moved:
            typer.echo(f"store moved with the checkout: artifact locations under {moved} now point here")
        experiment = None
        if not uri.startswith("sqlite:///") or Path(uri.removeprefix("sqlite:///")).is_file():
            experiment = MlflowClient(tracking_uri=uri).get_experiment_by_name(cfg.registry.experiment)
        if experiment is not None:
            import mlflow

            mlflow.set_tracking_uri(uri)
            mark_model_training(experiment.experiment_id)
    url = model_training_url(experiment and experiment.experiment_id, host, port)
    typer.echo(f"MLflow UI (model training view): {url}")
    if experiment is None:
        typer.echo(f"(no experiment {cfg.registry.experiment!r} in {uri} yet: run `dvc repro` first)")
    if open_browser:
        threading.Timer(3.0, webbrowser.open, args=(url,)).start()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow_bin), "server", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    raise typer.Exit(subprocess.call(cmd))


@app.command()
def timings(params: Path = PARAMS) -> None:
    """Wall time of each stage's latest run (from MLflow), to find the slow stage in one look."""
    cfg = load_stage_params(params)
    from ganops.tracking import runs as tracking
    from ganops.tracking.timings import latest_stage_times, timings_markdown

    with user_errors():
        tracking.setup(cfg.registry.experiment)
        typer.echo(timings_markdown(latest_stage_times(cfg.registry.experiment)), nl=False)


# Abuse-detection commands (generate-fakes, train-detector, evaluate-detector, register-detector, scan).
app.registered_commands += detect_app.registered_commands
app.registered_commands += translate_app.registered_commands  # prepare-translation ... translate
app.registered_commands += video_app.registered_commands  # prepare-video ... generate-video
app.registered_commands += repro_app.registered_commands  # repro: parallel dvc repro (make run)


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())


if __name__ == "__main__":  # `python -m ganops.cli.main`
    main()
