"""`ganops` command: the thin entry points that DVC stages (and users) call.

Each command loads params.yaml once into typed objects, calls one library function, saves its
outputs atomically and logs the same numbers to MLflow. Library modules never import mlflow/dvc/
prefect; only the commands below do, lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sys
from pathlib import Path

import typer

from ganops.cli.common import DATA, PARAMS, load_stage_params, user_errors, variant_config
from ganops.cli.detect import detect_app
from ganops.config.params import EvaluateConfig

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])

EVALUATOR = typer.Option(Path("models/evaluator/evaluator.pt"), "--evaluator", help="domain feature network")


@app.command()
def prepare(params: Path = PARAMS, out: Path = typer.Option(Path("data/prepared"), "--out")) -> None:
    """Load the image source, validate it, split it into gan_train / detector_train / test."""
    cfg = load_stage_params(params)
    from ganops.core import paths
    from ganops.data.prepare import prepare_dataset

    with user_errors():
        manifest = prepare_dataset(cfg.data, cfg.seed, out, paths.repo_root())
    counts = ", ".join(f"{k}={v}" for k, v in manifest["counts"].items())
    typer.echo(f"prepared {manifest['source']}: {counts}; skipped {manifest['skipped_count']} bad file(s)")
    for item in manifest["skipped"]:
        typer.echo(f"  skipped {item['path']}: {item['reason']}", err=True)


@app.command("train-evaluator")
def train_evaluator_cmd(
    params: Path = PARAMS,
    data: Path = DATA,
    out: Path = typer.Option(Path("models/evaluator/evaluator.pt"), "--out"),
    metrics_out: Path = typer.Option(Path("metrics/evaluator.json"), "--metrics"),
) -> None:
    """Train the domain feature network (FID/IS features) on the real gan_train split."""
    cfg = load_stage_params(params)
    import mlflow

    from ganops.core import atomic
    from ganops.core.devices import pick_device
    from ganops.data.dataset import load_manifest, load_split
    from ganops.evaluation.evaluator import save_evaluator, train_evaluator
    from ganops.tracking import runs as tracking

    with user_errors():
        manifest = load_manifest(data)
        train_x, train_y = load_split(data, "gan_train")
        test_x, test_y = load_split(data, "test")
    params_used = {"seed": cfg.seed, "evaluator": cfg.evaluator.model_dump()}
    with tracking.stage_run("train_evaluator", cfg.registry.experiment, params_used, {}):
        model, metrics = train_evaluator(
            cfg.evaluator, train_x, train_y, test_x, test_y, cfg.seed, device=pick_device(cfg.gan.device)
        )
        save_evaluator(model, out, {"class_names": manifest.get("class_names", [])})
        atomic.write_json(metrics_out, metrics)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, int | float)})
    typer.echo(f"evaluator: {metrics}")


@app.command("train-gan")
def train_gan_cmd(
    variant: str,
    params: Path = PARAMS,
    data: Path = DATA,
    evaluator: Path = EVALUATOR,
    out: Path = typer.Option(None, "--out", help="default models/gan/VARIANT"),
    checkpoints: Path = typer.Option(None, "--checkpoints", help="default checkpoints/VARIANT"),
) -> None:
    """Train one GAN variant from params.yaml (resumes from its last checkpoint if present).

    Each checkpoint is scored with a cheap FID/IS against gan_train images (curves in quality.csv and
    MLflow); generator.pt is the checkpoint with the best probe FID.

    Multi-GPU: `torchrun --nproc_per_node=N -m ganops.cli.main train-gan VARIANT` trains with DDP, one
    process per GPU (batch_size per GPU); rank 0 alone logs to MLflow and writes the outputs.
    """
    cfg = load_stage_params(params)
    vcfg = variant_config(cfg, variant)
    out = out or Path("models/gan") / variant
    checkpoints = checkpoints or Path("checkpoints") / variant
    import mlflow

    from ganops.core import distributed
    from ganops.core.devices import pick_device
    from ganops.data.dataset import dataset_hash, load_manifest, load_split
    from ganops.evaluation.evaluator import load_evaluator
    from ganops.evaluation.quality import make_quality_probe
    from ganops.image.export import load_generator, save_interpolation_gif
    from ganops.image.family import train_gan
    from ganops.tracking import runs as tracking

    with user_errors():
        dist = distributed.init_from_env(cfg.gan.device)  # single process unless under torchrun
        manifest = load_manifest(data)
        images, labels = load_split(data, "gan_train")
        # the probe scores against gan_train images, never the test split that evaluate_gan reports on
        net = load_evaluator(evaluator, device=dist.device or pick_device(cfg.gan.device))
        probe = make_quality_probe(net, images, cfg.evaluate.probe_num_images, cfg.seed)
    params_used = {
        "seed": cfg.seed,
        "variant": vcfg.model_dump(),
        "gan": cfg.gan.model_dump(exclude={"variants"}),
        "probe_num_images": cfg.evaluate.probe_num_images,
    }
    tags = {"variant": variant, "data_sha256": dataset_hash(manifest)}
    # Checkpoints live in a folder keyed by everything that defines the run, so a params change
    # starts afresh while a killed run with the same params resumes; it is removed once training ends.
    run_key = hashlib.sha256(json.dumps({**params_used, **tags}, sort_keys=True).encode()).hexdigest()[:12]
    run_checkpoints = checkpoints / run_key
    if not dist.is_main:  # other ranks train in step with rank 0 and write nothing
        with user_errors():
            train_gan(variant, vcfg, cfg.gan, images, labels, out, run_checkpoints, cfg.seed,
                      quality=probe, quality_key=probe.fid_key, dist=dist)  # fmt: skip
        distributed.shutdown()
        return
    with tracking.stage_run("train_gan", cfg.registry.experiment, params_used, tags), user_errors():

        def log(step: int, values: dict[str, float]) -> None:
            mlflow.log_metrics(values, step=step)

        result = train_gan(
            variant,
            vcfg,
            cfg.gan,
            images,
            labels,
            out,
            run_checkpoints,
            cfg.seed,
            log=log,
            class_names=manifest.get("class_names"),
            quality=probe,
            quality_key=probe.fid_key,
            dist=dist,
        )
        shutil.rmtree(run_checkpoints, ignore_errors=True)
        checkpoints.mkdir(parents=True, exist_ok=True)  # DVC's persistent output must exist
        mlflow.log_metric("images_per_second", result.images_per_second)
        mlflow.log_metric("quality_seconds", result.quality_seconds)
        if result.best_step is not None:
            mlflow.log_metrics({"best_step": result.best_step, f"best_{probe.fid_key}": result.best_quality})
            mlflow.set_tag("best_step", str(result.best_step))
        G, meta = load_generator(out / "generator.pt")
        save_interpolation_gif(out / "interpolation.gif", G, meta, seed=cfg.seed)
        for name in ("samples.png", "interpolation.gif", "losses.csv", "quality.csv"):
            if (out / name).is_file():
                mlflow.log_artifact(str(out / name))
    distributed.shutdown()
    typer.echo(
        f"{variant}: {result.steps} steps in {result.seconds:.1f}s ({result.images_per_second:.0f} img/s); "
        f"exported best checkpoint, step {result.best_step} ({probe.fid_key} = {result.best_quality:.4g})"
    )


def _feature_networks(cfg: EvaluateConfig, evaluator: Path) -> list:
    """The networks named in `evaluate.networks`, in order: the domain evaluator and/or FID Inception.

    Inception takes the domain evaluator's image shape; missing weights raise FileNotFoundError saying
    where to put the file, a wrong file ValueError (both exit 1 under `user_errors`).
    """
    from ganops.evaluation.evaluator import load_evaluator
    from ganops.evaluation.inception import load_inception

    domain = load_evaluator(evaluator)
    return [
        domain if name == "domain" else load_inception(domain.image_shape, cfg.inception_weights)
        for name in cfg.networks
    ]


@app.command("evaluate-reference")
def evaluate_reference_cmd(
    params: Path = PARAMS,
    data: Path = DATA,
    evaluator: Path = EVALUATOR,
    out: Path = typer.Option(Path("metrics/reference.json"), "--out"),
) -> None:
    """Real-data floor/ceiling and a noise generator: where a model sits between the two.

    One set of keys per feature network in `evaluate.networks` (`fid_floor_real_domain`, ...).
    """
    cfg = load_stage_params(params)
    from ganops.core import atomic
    from ganops.data.dataset import load_split
    from ganops.evaluation.metrics import reference_metrics

    with user_errors():
        real_a, _ = load_split(data, "detector_train")
        real_b, _ = load_split(data, "test")
        metrics: dict[str, float] = {}
        for net in _feature_networks(cfg.evaluate, evaluator):
            metrics |= reference_metrics(net, real_a, real_b, cfg.evaluate, cfg.seed)
    atomic.write_json(out, metrics)
    typer.echo(f"reference: {metrics}")


@app.command("evaluate-gan")
def evaluate_gan_cmd(
    variant: str,
    params: Path = PARAMS,
    data: Path = DATA,
    evaluator: Path = EVALUATOR,
    generator: Path = typer.Option(None, "--generator", help="default models/gan/VARIANT/generator.pt"),
    out: Path = typer.Option(None, "--out", help="default metrics/gan/VARIANT.json"),
) -> None:
    """FID/IS/KID of one variant's generator against the real test split, per `evaluate.networks`."""
    cfg = load_stage_params(params)
    generator = generator or Path("models/gan") / variant / "generator.pt"
    out = out or Path("metrics/gan") / f"{variant}.json"
    import mlflow

    from ganops.core import atomic
    from ganops.data.dataset import load_split
    from ganops.evaluation.metrics import generation_metrics
    from ganops.image.export import load_generator, sample_images
    from ganops.tracking import runs as tracking

    with user_errors():
        G, meta = load_generator(generator)
        real, _ = load_split(data, "test")
        nets = _feature_networks(cfg.evaluate, evaluator)
    params_used = {"seed": cfg.seed, "evaluate": cfg.evaluate.model_dump()}
    with tracking.stage_run("evaluate_gan", cfg.registry.experiment, params_used, {"variant": variant}):
        with user_errors():
            fake = sample_images(
                G, meta, cfg.evaluate.num_images, seed=cfg.seed + 1, batch_size=cfg.evaluate.batch_size
            )
            metrics: dict[str, float] = {}
            for net in nets:
                metrics |= generation_metrics(net, fake, real, cfg.evaluate, cfg.seed)
        atomic.write_json(out, metrics)
        mlflow.log_metrics(metrics)
    typer.echo(f"{variant}: {metrics}")


@app.command()
def register(
    params: Path = PARAMS,
    metrics_dir: Path = typer.Option(Path("metrics/gan"), "--metrics-dir"),
    models_dir: Path = typer.Option(Path("models/gan"), "--models-dir"),
    out: Path = typer.Option(Path("models/registered.json"), "--out"),
    reference: Path = typer.Option(Path("metrics/reference.json"), "--reference"),
    report: Path = typer.Option(Path("metrics/report.md"), "--report"),
) -> None:
    """Register the best variant's generator as `ganops-generator`; champion only if its FID is better."""
    cfg = load_stage_params(params)
    from ganops.stages.register import register_best_generator

    with user_errors():
        decision = register_best_generator(cfg, metrics_dir, models_dir, out, reference, report)
    typer.echo(
        f"{decision['model_name']} v{decision['version']} -> {decision['alias']}: {decision['reason']}"
    )


@app.command()
def rollback(which: str = typer.Argument(..., help="generator | detector"), params: Path = PARAMS) -> None:
    """Restore the previous champion of `ganops-generator` or `ganops-detector`."""
    cfg = load_stage_params(params)
    from ganops.tracking import registry
    from ganops.tracking import runs as tracking

    names = {"generator": cfg.registry.model_name, "detector": cfg.detector.model_name}
    with user_errors():
        if which not in names:
            raise ValueError(f"rollback: expected 'generator' or 'detector', got {which!r}")
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


# Abuse-detection commands (generate-fakes, train-detector, evaluate-detector, register-detector, scan).
app.registered_commands += detect_app.registered_commands


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())


if __name__ == "__main__":  # `python -m ganops.cli.main`
    main()
