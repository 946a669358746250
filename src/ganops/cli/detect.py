"""The detector commands of `ganops`: generate-fakes, train-detector, evaluate-detector,
register-detector (DVC stages) and scan (users).

Mounted on the main app by ganops.cli.main (`app.registered_commands += detect_app.registered_commands`).
This module imports nothing heavy and nothing from ganops.cli.main at import time (no import cycle); the
stage bodies live in ganops.stages (one module per DVC stage).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from ganops.cli.common import (
    DATA,
    PARAMS,
    VARIANT,
    load_stage_params,
    not_one_of,
    user_errors,
    variant_config,
)
from ganops.config.params import Params, load_params

detect_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Fake-image detectors.")

FAKES = typer.Option(Path("data/fakes"), "--fakes", help="generated fakes, one folder per variant")
DETECTORS_DIR = typer.Option(Path("models/detector"), "--models", help="trained detectors, one folder each")
METRICS = typer.Option(Path("metrics/detector.json"), "--metrics", help="detector metrics (DVC metrics)")
DEFAULT_MODEL = "models:/ganops-detector@champion"
MAX_LISTED_ERRORS = 20  # unreadable files echoed after a scan; all of them are in the CSV


def _device(cfg: Params) -> str:
    from ganops.core.devices import pick_device

    with user_errors():
        return pick_device(cfg.gan.device)


@detect_app.command("generate-fakes")
def generate_fakes_cmd(
    variant: str = VARIANT,
    params: Path = PARAMS,
    data: Path = DATA,
    generator: Path = typer.Option(None, "--generator", help="default models/gan/VARIANT/generator.pt"),
    out: Path = typer.Option(None, "--out", help="default data/fakes/VARIANT"),
) -> None:
    """Sample detector.num_fakes images from one variant's generator, split train/test like the reals."""
    cfg = load_stage_params(params)
    variant_config(cfg, variant)
    from ganops.stages import generate_fakes as stage

    generator = generator or Path("models/gan") / variant / "generator.pt"
    out = out or Path("data/fakes") / variant
    with user_errors():
        manifest = stage.run(cfg, variant, data, generator, out)
    counts = ", ".join(f"{part}={n}" for part, n in manifest["counts"].items())
    quantised = " (quantised to 8 bits like the reals)" if manifest["quantised_8bit"] else ""
    typer.echo(f"{variant}: {counts} fakes -> {out}{quantised}")


@detect_app.command("train-detector")
def train_detector_cmd(
    name: str = typer.Argument(..., metavar="DETECTOR", help="a detector listed in detector.detectors"),
    params: Path = PARAMS,
    data: Path = DATA,
    fakes: Path = FAKES,
    out: Path = typer.Option(None, "--out", help="default models/detector/NAME"),
) -> None:
    """Train one detector on detector_train reals vs every variant's train fakes; calibrate on validation."""
    cfg = load_stage_params(params)
    if name not in cfg.detector.detectors:
        raise not_one_of(name, cfg.detector.detectors, "the detectors in detector.detectors", "'DETECTOR'")
    device = _device(cfg)
    from ganops.stages import train_detector as stage

    out = out or Path("models/detector") / name
    with user_errors():
        trained = stage.run(cfg, name, data, fakes, out, device)
    val = trained.meta["validation"]
    typer.echo(
        f"{name}: threshold {trained.threshold:.4g}; validation AUC {val['auc']:.4f}, "
        f"TPR@1%FPR {val['tpr_at_fpr_1pct']:.4f} ({trained.meta['train_seconds']:.1f}s) -> {out}"
    )


@detect_app.command("evaluate-detector")
def evaluate_detector_cmd(
    params: Path = PARAMS,
    data: Path = DATA,
    fakes: Path = FAKES,
    models: Path = DETECTORS_DIR,
    metrics_out: Path = METRICS,
    details: Path = typer.Option(Path("metrics/detector_details.json"), "--details", help="every number"),
    report: Path = typer.Option(Path("metrics/detector_report.md"), "--report", help="markdown tables"),
    roc: Path = typer.Option(Path("metrics/detector_roc"), "--roc", help="ROC curves, one csv per detector"),
) -> None:
    """Test metrics with CIs, per generator, leave-one-generator-out, robustness, leakage, ROC curves."""
    cfg = load_stage_params(params)
    device = _device(cfg)
    from ganops.stages import evaluate_detector as stage

    with user_errors():
        stage.run(cfg, data, fakes, models, metrics_out, details, report, roc, device)
    typer.echo(f"wrote {metrics_out}, {report}, {roc}/")


@detect_app.command("register-detector")
def register_detector_cmd(
    params: Path = PARAMS,
    metrics: Path = METRICS,
    models: Path = DETECTORS_DIR,
    out: Path = typer.Option(Path("models/detector_registered.json"), "--out", help="the registry decision"),
) -> None:
    """Register the best detector (test TPR at 1% FPR) as a pyfunc; champion only if it beats the champion."""
    cfg = load_stage_params(params)
    from ganops.stages import register_detector as stage

    with user_errors():
        decision = stage.run(cfg, metrics, models, out)
    typer.echo(
        f"{decision['model_name']} v{decision['version']} ({decision['detector']}) -> "
        f"{decision['alias']}: {decision['reason']}"
    )


def resolve_detector(model: str, params_path: Path):
    """A TrainedDetector from a local detector folder / .pt file, or an MLflow model URI."""
    import tempfile

    from ganops.detection.io import DETECTOR_FILE, load_detector

    local = Path(model).expanduser()
    if local.exists():
        return load_detector(local), str(local)
    if ":/" not in model:
        raise ValueError(f"--model {model}: no such file or folder, and not a model URI like {DEFAULT_MODEL}")
    import mlflow
    from mlflow.exceptions import MlflowException

    from ganops.core import paths
    from ganops.tracking import runs as tracking

    uri = paths.tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ValueError(
            f"--model {model}: no MLflow store at {uri.removeprefix('sqlite:///')}; run `dvc repro` in the "
            "repo (or set MLFLOW_TRACKING_URI), or pass --model models/detector/<name>"
        )
    from ganops.tracking.store import follow_checkout

    cfg = load_params(params_path) if params_path.is_file() else Params()
    tracking.setup(cfg.registry.experiment)
    follow_checkout()  # a moved checkout: the store's artifact paths follow it
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # the scan has its own bar
    try:
        with tempfile.TemporaryDirectory() as tmp:
            found = Path(mlflow.artifacts.download_artifacts(artifact_uri=model, dst_path=tmp))
            weights = next(iter(sorted(found.rglob(DETECTOR_FILE))), None)
            if weights is None:
                raise ValueError(f"--model {model}: holds no {DETECTOR_FILE}; is it a ganops detector?")
            return load_detector(weights), model
    except MlflowException as exc:
        first = str(exc.message).strip().splitlines()[0] if exc.message else type(exc).__name__
        raise ValueError(
            f"--model {model}: not found in the MLflow registry at {uri} ({first}); run "
            "`dvc repro register_detector`, or pass --model models/detector/<name>"
        ) from None


@detect_app.command("scan")
def scan_cmd(
    paths_in: list[Path] = typer.Argument(..., metavar="PATH...", help="image files and/or folders"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="MLflow model URI, or a detector folder / .pt"),
    threshold: float = typer.Option(None, "--threshold", help="flag as fake at p_fake >= T (default: model's)"),
    out: Path = typer.Option(None, "--out", help="CSV path (path, p_fake, verdict, error); default stdout"),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="images scored per forward pass"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bar on stderr"),
    params: Path = PARAMS,
) -> None:
    """Score image files and folders with a detector; unreadable files are rows with an error."""
    from ganops.detection.scan import scan_paths, scan_summary, write_scan_csv

    with user_errors():
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"--threshold {threshold}: a probability in [0, 1]")
        detector, source = resolve_detector(model, params)
        max_pixels = (load_params(params) if params.is_file() else Params()).data.max_pixels
        rows = scan_paths(
            paths_in, detector, threshold=threshold, batch_size=batch_size, progress=progress, max_pixels=max_pixels
        )
        if not rows:
            raise ValueError(f"no image files found in {', '.join(map(str, paths_in))}")
        if out is not None:
            write_scan_csv(rows, out)
        else:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                write_scan_csv(rows, Path(tmp) / "scores.csv")
                sys.stdout.write((Path(tmp) / "scores.csv").read_text())
    summary = scan_summary(rows)
    used = detector.threshold if threshold is None else threshold
    typer.echo(
        f"scanned {summary['total']} file(s) with {detector.name} ({source}) at threshold {used:.4g}: "
        f"{summary['fake']} fake, {summary['real']} real, {summary['error']} error(s)"
        + (f" -> {out}" if out is not None else ""),
        err=out is None,
    )
    errors = [row["error"] for row in rows if row["error"]]
    for error in errors[:MAX_LISTED_ERRORS]:
        typer.echo(f"  error: {error}", err=True)
    if len(errors) > MAX_LISTED_ERRORS:
        typer.echo(f"  ... and {len(errors) - MAX_LISTED_ERRORS} more (see the error column)", err=True)
