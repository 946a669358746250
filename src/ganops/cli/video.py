"""The video commands of `ganops`: the video DVC stages and `generate-video` for users.

Mounted on the main app by ganops.cli.main (`app.registered_commands += video_app.registered_commands`).
Nothing heavy is imported at module level; each command imports its stage module (ganops.stages.*).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import typer

from ganops.cli.common import PARAMS, load_stage_params, user_errors
from ganops.config.params import ConfigError, Params

video_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Video GANs.")

VIDEO_DATA = typer.Option(Path("data/video"), "--data", help="prepared clips folder")
VIDEO_EVALUATOR = typer.Option(Path("models/video_evaluator"), "--evaluator", help="clip + frame nets")
VIDEO_VARIANT = typer.Argument(..., metavar="VARIANT", help="a video GAN named under video.variants in params.yaml")
DEFAULT_MODEL = "models:/ganops-video-generator@champion"


def _variant(cfg: Params, variant: str) -> None:
    with user_errors():
        if variant not in cfg.video.variants:
            raise ConfigError(f"video.variants: no variant {variant!r} (defined: {', '.join(cfg.video.variants)})")


@video_app.command("prepare-video")
def prepare_video_cmd(
    params: Path = PARAMS, out: Path = typer.Option(Path("data/video"), "--out", help="output folder")
) -> None:
    """Render moving digits (or read a folder of videos) into three disjoint splits of clips."""
    cfg = load_stage_params(params)
    from ganops.stages import prepare_video as stage

    with user_errors():
        manifest = stage.run(cfg, out)
    counts = ", ".join(f"{k}={v}" for k, v in manifest["counts"].items())
    typer.echo(
        f"prepared {manifest['source']} clips {manifest['clip_shape']}: {counts}; skipped {manifest['skipped_count']}"
    )
    for item in manifest["skipped"]:
        typer.echo(f"  skipped {item['path']}: {item['reason']}", err=True)


@video_app.command("train-video-evaluator")
def train_video_evaluator_cmd(
    params: Path = PARAMS,
    data: Path = VIDEO_DATA,
    out: Path = typer.Option(Path("models/video_evaluator"), "--out", help="folder for the clip + frame nets"),
    metrics_out: Path = typer.Option(Path("metrics/video_evaluator.json"), "--metrics", help="their test metrics"),
) -> None:
    """Train the clip feature net (FVD_domain) and the frame classifier on real gan_train clips."""
    cfg = load_stage_params(params)
    from ganops.stages import train_video_evaluator as stage

    with user_errors():
        metrics = stage.run(cfg, data, out, metrics_out)
    typer.echo(f"video evaluator: {metrics}")


@video_app.command("evaluate-video-reference")
def evaluate_video_reference_cmd(
    params: Path = PARAMS,
    data: Path = VIDEO_DATA,
    evaluator: Path = VIDEO_EVALUATOR,
    out: Path = typer.Option(Path("metrics/video_reference.json"), "--out", help="reference rows (JSON)"),
) -> None:
    """Reference rows: real floor, static, shuffled and noise clips."""
    cfg = load_stage_params(params)
    from ganops.stages import evaluate_video_reference as stage

    with user_errors():
        rows = stage.run(cfg, data, evaluator, out)
    typer.echo("video reference: " + ", ".join(f"{row} FVD {m['fvd_domain']:.3g}" for row, m in rows.items()))


@video_app.command("train-video")
def train_video_cmd(
    variant: str = VIDEO_VARIANT,
    params: Path = PARAMS,
    data: Path = VIDEO_DATA,
    evaluator: Path = VIDEO_EVALUATOR,
    out: Path = typer.Option(None, "--out", help="default models/video/VARIANT"),
    checkpoints: Path = typer.Option(None, "--checkpoints", help="default checkpoints/video/VARIANT"),
) -> None:
    """Train one video GAN variant (resumes from its last checkpoint if present)."""
    cfg = load_stage_params(params)
    _variant(cfg, variant)
    from ganops.stages import train_video as stage

    with user_errors():
        result = stage.run(cfg, variant, data, evaluator, out or Path("models/video") / variant,
                           checkpoints or Path("checkpoints/video") / variant)  # fmt: skip
    typer.echo(
        f"{variant}: {result.steps} steps in {result.seconds:.1f}s; exported step {result.best_step} "
        f"(probe FVD_domain = {result.best_quality:.4g})"
    )


@video_app.command("evaluate-video")
def evaluate_video_cmd(
    variant: str = VIDEO_VARIANT,
    params: Path = PARAMS,
    data: Path = VIDEO_DATA,
    evaluator: Path = VIDEO_EVALUATOR,
    generator: Path = typer.Option(None, "--generator", help="default models/video/VARIANT/generator.pt"),
    out: Path = typer.Option(None, "--out", help="default metrics/video/VARIANT.json"),
) -> None:
    """FVD_domain, KVD, frame FID, temporal consistency and motion of one video generator."""
    cfg = load_stage_params(params)
    _variant(cfg, variant)
    from ganops.stages import evaluate_video as stage

    generator = generator or Path("models/video") / variant / "generator.pt"
    with user_errors():
        metrics = stage.run(cfg, variant, data, evaluator, generator, out or Path("metrics/video") / f"{variant}.json")
    typer.echo(f"{variant}: {metrics}")


@video_app.command("register-video")
def register_video_cmd(
    params: Path = PARAMS,
    metrics_dir: Path = typer.Option(Path("metrics/video"), "--metrics-dir", help="VARIANT.json test metrics"),
    models_dir: Path = typer.Option(Path("models/video"), "--models-dir", help="VARIANT/generator.pt"),
    reference: Path = typer.Option(Path("metrics/video_reference.json"), "--reference", help="reference rows"),
    out: Path = typer.Option(Path("models/video_registered.json"), "--out", help="the registry decision"),
    report: Path = typer.Option(Path("metrics/video_report.md"), "--report", help="side-by-side table"),
) -> None:
    """Register the lowest-FVD_domain variant as ganops-video-generator (champion rule)."""
    cfg = load_stage_params(params)
    from ganops.stages import register_video as stage

    with user_errors():
        decision = stage.run(cfg, metrics_dir, models_dir, reference, out, report)
    typer.echo(f"{decision['model_name']} v{decision['version']} -> {decision['alias']}: {decision['reason']}")


@video_app.command("detect-video")
def detect_video_cmd(
    params: Path = PARAMS,
    data: Path = VIDEO_DATA,
    models: Path = typer.Option(Path("models/video"), "--models", help="VARIANT/generator.pt"),
    metrics_out: Path = typer.Option(Path("metrics/detector_video.json"), "--metrics", help="detector metrics"),
    report: Path = typer.Option(Path("metrics/detector_video.md"), "--report", help="markdown table"),
) -> None:
    """Train the detectors on real vs generated clips; AUC / TPR@1%FPR, left-out-generator rows."""
    cfg = load_stage_params(params)
    from ganops.stages import detect_video as stage

    with user_errors():
        results = stage.run(cfg, data, models, metrics_out, report)
    for name, result in results.items():
        for pooling, m in result["test"].items():
            typer.echo(f"{name} ({pooling}): AUC {m['auc']:.4f}, TPR@1%FPR {m['tpr_at_fpr_1pct']:.3f}")


@video_app.command("generate-video")
def generate_video_cmd(
    num: int = typer.Option(16, "--num", help="number of clips"),
    out: Path = typer.Option(Path("clips.gif"), "--out", help=".gif (a grid), .mp4 (a grid) or .npy (N, T, C, H, W)"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="models:/ URI, a run's model URI, or a generator.pt"),
    label: int = typer.Option(None, "--label", help="class of every clip (conditional generators)"),
    seed: int = typer.Option(0, "--seed", help="random seed (the same seed gives the same clips)"),
    params: Path = PARAMS,
) -> None:
    """Sample clips from the registered video generator (or a local generator.pt) into a GIF/MP4/npy."""
    with user_errors():
        if out.suffix.lower() not in (".gif", ".mp4", ".npy"):
            raise ValueError(f"--out {out}: must end in .gif, .mp4 or .npy")
        clips = _sample(model, num, label, seed, params)
        from ganops.video.video_io import save_gif_grid, save_mp4

        if out.suffix.lower() == ".npy":
            import numpy as np

            np.save(out, clips, allow_pickle=False)
        else:
            (save_gif_grid if out.suffix.lower() == ".gif" else save_mp4)(out, clips)
    typer.echo(f"{num} clips {tuple(clips.shape[1:])} -> {out}")


def _sample(model: str, num: int, label: int | None, seed: int, params: Path):
    if num < 1:
        raise ValueError(f"--num: must be at least 1 (got {num})")
    if model.endswith(".pt") and Path(model).is_file():
        from ganops.video.export import load_video_generator, sample_clips

        G, meta = load_video_generator(model)
        return sample_clips(G, meta, num, seed=seed, label=label)
    import mlflow
    import pandas as pd

    from ganops.tracking import runs as tracking

    cfg = load_stage_params(params)
    tracking.setup(cfg.registry.experiment)
    try:
        with warnings.catch_warnings():  # MLflow's type-hint advice at load: not for a CLI user
            warnings.simplefilter("ignore", UserWarning)
            G = mlflow.pyfunc.load_model(model)
    except mlflow.exceptions.MlflowException as error:
        raise ValueError(f"--model {model}: {str(error).splitlines()[0]}") from None
    frame = pd.DataFrame({"seed": range(seed, seed + num)} | ({"label": [label] * num} if label is not None else {}))
    try:
        with warnings.catch_warnings():  # MLflow's type-hint advice: not for a CLI user
            warnings.simplefilter("ignore", UserWarning)
            return G.predict(frame)
    except mlflow.exceptions.MlflowException as error:
        raise ValueError(str(error).splitlines()[0]) from None
