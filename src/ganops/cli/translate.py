"""The translation commands of `ganops`: prepare-translation, train-translation-evaluator,
train-translator, evaluate-translator, register-translator, detect-translation (DVC stages) and
translate (users).

Mounted on the main app by ganops.cli.main (`app.registered_commands += translate_app.registered_commands`);
nothing heavy is imported at import time, the stage bodies live in ganops.stages.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from ganops.cli.common import PARAMS, load_stage_params, user_errors
from ganops.config.params import ConfigError, Params, TranslatorConfig, load_params

translate_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Image-to-image translators.")

TDATA = typer.Option(Path("data/translation"), "--data", help="prepared translation folder")
TEVALUATOR = typer.Option(Path("models/translation_evaluator/evaluator.pt"), "--evaluator", help="domain-B classifier")
TVARIANT = typer.Argument(..., metavar="VARIANT", help="a translator named under translation.variants in params.yaml")
DEFAULT_MODEL = "models:/ganops-translator@champion"
MAX_LISTED_ERRORS = 20


def translator_config(cfg: Params, variant: str) -> TranslatorConfig:
    """`translation.variants.VARIANT`; an undefined name is a params error (exit 2)."""
    with user_errors():
        if variant not in cfg.translation.variants:
            raise ConfigError(
                f"translation.variants: no variant {variant!r} (defined: {', '.join(cfg.translation.variants)})"
            )
    return cfg.translation.variants[variant]


@translate_app.command("prepare-translation")
def prepare_translation_cmd(
    params: Path = PARAMS, out: Path = typer.Option(Path("data/translation"), "--out", help="output folder")
) -> None:
    """Load domain A and B images (translation.source), split them, write data/translation."""
    cfg = load_stage_params(params)
    from ganops.stages import prepare_translation as stage

    with user_errors():
        manifest = stage.run(cfg, out)
    counts = ", ".join(f"{k}={v['a']}+{v['b']}" for k, v in manifest["counts"].items())
    kind = "paired" if manifest["paired"] else "unpaired"
    typer.echo(f"prepared {manifest['source']} ({kind}): A+B {counts}; skipped {manifest['skipped_count']} file(s)")
    for key in ("skipped_a", "skipped_b", "skipped_pairs"):
        for item in manifest.get(key, []):
            typer.echo(f"  skipped {item['path']}: {item['reason']}", err=True)


@translate_app.command("train-translation-evaluator")
def train_translation_evaluator_cmd(
    params: Path = PARAMS, data: Path = TDATA,
    out: Path = typer.Option(Path("models/translation_evaluator/evaluator.pt"), "--out", help="classifier weights"),
    metrics_out: Path = typer.Option(Path("metrics/translation_evaluator.json"), "--metrics", help="its test metrics"),
) -> None:  # fmt: skip
    """Train the domain-B classifier (label preservation, FID features) on real B images."""
    cfg = load_stage_params(params)
    from ganops.stages import train_translation_evaluator as stage

    with user_errors():
        metrics = stage.run(cfg, data, out, metrics_out)
    typer.echo(
        f"translation evaluator: test accuracy {metrics['evaluator_test_accuracy']:.4f} ({metrics['evaluator_task']})"
    )


@translate_app.command("train-translator")
def train_translator_cmd(
    variant: str = TVARIANT, params: Path = PARAMS, data: Path = TDATA, evaluator: Path = TEVALUATOR,
    out: Path = typer.Option(None, "--out", help="default models/translation/VARIANT"),
    checkpoints: Path = typer.Option(None, "--checkpoints", help="default checkpoints/translation/VARIANT"),
) -> None:  # fmt: skip
    """Train one translator (resumes from its last checkpoint); translator.pt is the best probed checkpoint."""
    cfg = load_stage_params(params)
    translator_config(cfg, variant)
    from ganops.stages import train_translator as stage

    with user_errors():
        result = stage.run(cfg, variant, data, evaluator, out or Path("models/translation") / variant,
                           checkpoints or Path("checkpoints/translation") / variant)  # fmt: skip
    typer.echo(f"{variant}: {result.steps} steps in {result.seconds:.1f}s; exported step {result.best_step} "
               f"(probe {result.best_quality if result.best_quality is None else round(result.best_quality, 4)})")  # fmt: skip  # noqa: E501


@translate_app.command("evaluate-translator")
def evaluate_translator_cmd(
    variant: str = TVARIANT, params: Path = PARAMS, data: Path = TDATA, evaluator: Path = TEVALUATOR,
    translator: Path = typer.Option(None, "--translator", help="default models/translation/VARIANT/translator.pt"),
    out: Path = typer.Option(None, "--out", help="default metrics/translation/VARIANT.json"),
) -> None:  # fmt: skip
    """Label preservation, FID/KID, paired L1/PSNR/SSIM, cycle error of one translator on the test split."""
    cfg = load_stage_params(params)
    translator_config(cfg, variant)
    from ganops.stages import evaluate_translator as stage

    translator = translator or Path("models/translation") / variant / "translator.pt"
    with user_errors():
        metrics = stage.run(
            cfg, variant, data, evaluator, translator, out or Path("metrics/translation") / f"{variant}.json"
        )
    shown = {
        k: round(v, 4) for k, v in metrics.items() if k in ("label_preservation", "fid_domain_b", "ssim_to_target")
    }
    typer.echo(f"{variant}: {shown}")


@translate_app.command("register-translator")
def register_translator_cmd(
    params: Path = PARAMS,
    metrics_dir: Path = typer.Option(Path("metrics/translation"), "--metrics-dir", help="VARIANT.json test metrics"),
    models_dir: Path = typer.Option(Path("models/translation"), "--models-dir", help="VARIANT/translator.pt"),
    out: Path = typer.Option(Path("models/translator_registered.json"), "--out", help="the registry decision"),
    report: Path = typer.Option(Path("metrics/translation_report.md"), "--report", help="side-by-side table"),
) -> None:
    """Register the best translator as `ganops-translator`; champion only if its label preservation is better."""
    cfg = load_stage_params(params)
    from ganops.stages import register_translator as stage

    with user_errors():
        d = stage.run(cfg, metrics_dir, models_dir, out, report)
    typer.echo(f"{d['model_name']} v{d['version']} ({d['variant']}) -> {d['alias']}: {d['reason']}")


@translate_app.command("detect-translation")
def detect_translation_cmd(
    params: Path = PARAMS, data: Path = TDATA,
    models_dir: Path = typer.Option(Path("models/translation"), "--models-dir", help="VARIANT/translator.pt"),
    metrics_out: Path = typer.Option(Path("metrics/detector_translation.json"), "--metrics", help="detector metrics"),
    report: Path = typer.Option(Path("metrics/detector_translation.md"), "--report", help="markdown table"),
) -> None:  # fmt: skip
    """Real-vs-fake detectors on translated fakes vs real B images (same-source and left-out rows)."""
    cfg = load_stage_params(params)
    from ganops.stages import detect_translation as stage

    with user_errors():
        metrics = stage.run(cfg, data, models_dir, metrics_out, report)
    for name, result in metrics["detectors"].items():
        typer.echo(f"{name}: AUC {result['all_translators']['auc']:.4f} on all translators' fakes")


def resolve_translator(model: str, params_path: Path):
    """({direction: G}, meta) from a local translator.pt / folder, or an MLflow model URI."""
    import tempfile

    from ganops.translation.translator_io import TRANSLATOR, load_translator

    local = Path(model).expanduser()
    if local.exists():
        return load_translator(local / TRANSLATOR if local.is_dir() else local)
    if ":/" not in model:
        raise ValueError(f"--model {model}: no such file or folder, and not a model URI like {DEFAULT_MODEL}")
    import mlflow
    from mlflow.exceptions import MlflowException

    from ganops.core import paths
    from ganops.tracking import runs as tracking

    uri = paths.tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ValueError(f"--model {model}: no MLflow store at {uri.removeprefix('sqlite:///')}; run `dvc repro` "
                         "first, or pass --model models/translation/<variant>")  # fmt: skip
    cfg = load_params(params_path) if params_path.is_file() else Params()
    tracking.setup(cfg.registry.experiment)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            found = Path(mlflow.artifacts.download_artifacts(artifact_uri=model, dst_path=tmp))
            weights = next(iter(sorted(found.rglob(TRANSLATOR))), None)
            if weights is None:
                raise ValueError(f"--model {model}: holds no {TRANSLATOR}; is it a ganops translator?")
            return load_translator(weights)
    except MlflowException as exc:
        first = str(exc.message).strip().splitlines()[0] if exc.message else type(exc).__name__
        raise ValueError(f"--model {model}: not found in the MLflow registry at {uri} ({first})") from None


@translate_app.command("translate")
def translate_cmd(
    paths_in: list[Path] = typer.Argument(..., metavar="PATH...", help="image files and/or folders"),
    out: Path = typer.Option(..., "--out", help="folder for the translated PNGs"),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="MLflow model URI, or a translator folder / .pt"),
    direction: str = typer.Option("a2b", "--direction", help="a2b | b2a (b2a: CycleGAN only)"),
    params: Path = PARAMS,
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bar on stderr"),
) -> None:
    """Translate images with the champion translator (or --model) and write one PNG per input."""
    from tqdm import tqdm

    from ganops.translation.translate_files import translate_files

    with user_errors():
        if direction not in ("a2b", "b2a"):
            raise ValueError(f"--direction: expected a2b or b2a, got {direction!r}")
        generators, meta = resolve_translator(model, params)
        if direction not in generators:
            raise ValueError(
                f"--direction {direction}: this {meta['family']} translator has only {', '.join(generators)}"
            )
        shape = tuple(meta["shape_a" if direction == "a2b" else "shape_b"])
        errors, written = [], 0
        results = translate_files(paths_in, generators[direction], shape, out)
        for _path, _target, error in tqdm(results, desc="translate", unit="img", file=sys.stderr, disable=not progress):
            if error:
                errors.append(error)
            else:
                written += 1
    for error in errors[:MAX_LISTED_ERRORS]:
        typer.echo(f"  skipped {error}", err=True)
    typer.echo(f"translated {written} image(s) ({meta['family']}, {direction}) -> {out}; {len(errors)} unreadable")
    if errors:
        raise typer.Exit(1)
