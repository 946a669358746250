"""The detector stages' bodies: generate_fakes, train_detector, evaluate_detector, register_detector.

Each body loads its inputs, calls the detector library (detector_training, perturbations, ...),
writes its outputs atomically and logs the same numbers to MLflow. Entry-point level: imports
mlflow; the `ganops` commands in cli_detect.py are thin wrappers around these functions.

Fakes are stored exactly like the real images: float32 (N, C, H, W) in [0, 1] in `.npy` files, and
quantised to 8 bits when the real images are (a PNG save would do the same), so no detector can
tell the classes apart by how they were stored rather than by what the generator drew.
"""

from __future__ import annotations

import json
import math
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import numpy as np

from ganops.config.params import Params
from ganops.core import atomic
from ganops.data.dataset import file_sha256, load_manifest, load_split
from ganops.detection.metrics import AUC, TPR_AT_FPR_1PCT, detection_metrics
from ganops.detection.report import LOO_MEAN_AUC, leak_fired, report_markdown
from ganops.tracking import runs as tracking

if TYPE_CHECKING:
    from ganops.detection.training import TrainedDetector

FAKE_PARTS = ("train", "test")  # data/fakes/<variant>/{part}_images.npy, like the real splits
FAKES_MANIFEST = "manifest.json"
PRIMARY_METRIC = TPR_AT_FPR_1PCT  # registry rule: higher is better
PYFUNC_CODE = Path(__file__).with_name("detector_pyfunc.py")
_SAMPLE_BATCH = 500  # fixed, so the stored fakes never depend on a tuning knob


# --- generate_fakes ---


def fake_counts(num_fakes: int, num_real_train: int, num_real_test: int) -> tuple[int, int]:
    """Split `num_fakes` into (train, test) in the proportion of the real detector_train:test splits."""
    share = num_real_train / max(num_real_train + num_real_test, 1)
    num_train = min(max(1, round(num_fakes * share)), num_fakes - 1)
    return num_train, num_fakes - num_train


def fake_seed(seed: int, variant: str, part: str) -> int:
    """A distinct, stable sampling seed per (run seed, variant, part); independent of Python's hash()."""
    entropy = [seed, zlib.crc32(variant.encode()), FAKE_PARTS.index(part), 0x5EED]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def on_8bit_grid(images: np.ndarray) -> bool:
    """True when every pixel is k/255: the images came from 8-bit files without resizing."""
    scaled = images.astype(np.float64) * 255.0
    return bool(np.abs(scaled - np.round(scaled)).max() < 1e-3) if images.size else False


def generate_fakes(cfg: Params, variant: str, data_dir: Path, generator_path: Path, out_dir: Path) -> dict:
    """Sample detector.num_fakes images from one variant's generator into out_dir/{train,test}_images.npy."""
    from ganops.image.export import load_generator, sample_images

    if variant not in cfg.gan.variants:
        raise ValueError(f"gan.variants: no variant {variant!r} (defined: {', '.join(cfg.gan.variants)})")
    counts = load_manifest(data_dir)["counts"]
    real, _ = load_split(data_dir, "detector_train")
    G, meta = load_generator(generator_path)
    if tuple(meta["image_shape"]) != tuple(real.shape[1:]):
        raise ValueError(
            f"{generator_path}: makes images {tuple(meta['image_shape'])} but {data_dir} holds "
            f"{tuple(real.shape[1:])}; run `dvc repro train_gan` after changing data.*"
        )
    quantise = on_8bit_grid(real)
    num_train, num_test = fake_counts(cfg.detector.num_fakes, counts["detector_train"], counts["test"])
    sizes = {"train": num_train, "test": num_test}
    seeds = {part: fake_seed(cfg.seed, variant, part) for part in FAKE_PARTS}
    params_used = {"seed": cfg.seed, "num_fakes": cfg.detector.num_fakes}
    with tracking.stage_run("generate_fakes", cfg.registry.experiment, params_used, {"variant": variant}):
        with atomic.atomic_dir(out_dir) as tmp:
            hashes = {}
            for part in FAKE_PARTS:
                images = sample_images(G, meta, sizes[part], seed=seeds[part], batch_size=_SAMPLE_BATCH)
                if quantise:
                    images = (np.round(images * 255.0) / 255.0).astype(np.float32)  # (N, C, H, W), k/255
                assert images.dtype == np.float32 and images.shape[1:] == real.shape[1:]
                np.save(tmp / f"{part}_images.npy", images, allow_pickle=False)
                hashes[f"{part}_images.npy"] = file_sha256(tmp / f"{part}_images.npy")
            manifest = {
                "variant": variant,
                "generator_sha256": file_sha256(generator_path),
                "counts": sizes,
                "seeds": seeds,
                "quantised_8bit": quantise,
                "image_shape": list(real.shape[1:]),
                "sha256": hashes,
            }
            atomic.write_json(tmp / FAKES_MANIFEST, manifest)
        mlflow.log_metrics({f"num_fakes_{part}": float(n) for part, n in sizes.items()})
        mlflow.set_tag("quantised_8bit", str(quantise))
    return manifest


def load_fakes(fakes_dir: Path, variants: list[str], part: str) -> dict[str, np.ndarray]:
    """{variant: float32 (N, C, H, W)} of one part (train | test), checked against each manifest."""
    out = {}
    for variant in variants:
        path = Path(fakes_dir) / variant / f"{part}_images.npy"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no fakes for variant {variant!r}; run `dvc repro generate_fakes`"
            )
        manifest = json.loads((path.parent / FAKES_MANIFEST).read_text())
        if manifest["sha256"].get(path.name) != file_sha256(path):
            raise ValueError(
                f"{path}: sha256 differs from its manifest; run `dvc repro generate_fakes` again"
            )
        out[variant] = np.load(path, allow_pickle=False)
    return out


# --- train_detector ---


def train_detector_stage(
    cfg: Params, name: str, data_dir: Path, fakes_dir: Path, out_dir: Path, device: str
) -> TrainedDetector:
    """Train detector `name` on detector_train reals vs every variant's train fakes; save to out_dir."""
    from ganops.detection.io import save_detector
    from ganops.detection.training import train_detector

    if name not in cfg.detector.detectors:
        raise ValueError(
            f"detector.detectors: {name!r} is not listed (listed: {', '.join(cfg.detector.detectors)})"
        )
    variants = list(cfg.gan.variants)
    real, _ = load_split(data_dir, "detector_train")
    fakes = load_fakes(fakes_dir, variants, "train")
    dcfg = cfg.detector
    params_used = {
        "seed": cfg.seed,
        "detector": name,
        "device": device,
        "generators": variants,
        "validation_fraction": dcfg.validation_fraction,
        "threshold_rule": dcfg.threshold_rule,
        "target_fpr": dcfg.target_fpr,
        name: getattr(dcfg, name).model_dump(),
    }
    with tracking.stage_run("train_detector", cfg.registry.experiment, params_used, {"detector": name}):
        mlflow.set_tag("mlflow.runName", f"train_detector/{name}")
        trained = train_detector(
            name,
            real,
            np.concatenate(list(fakes.values())),
            dcfg,
            cfg.seed,
            generators=variants,
            device=device,
        )
        # Wall-clock time goes to MLflow, not into detector.pt: the same data, params and seed must give
        # the same bytes, so the registry (keyed by the file's sha256) does not register a retrain twice.
        train_seconds = trained.meta.pop("train_seconds", float("nan"))
        with atomic.atomic_dir(out_dir) as tmp:
            save_detector(trained, tmp)
        validation = trained.meta["validation"]
        mlflow.log_metrics({f"validation.{k}": float(v) for k, v in validation.items()})
        mlflow.log_metrics({"train_seconds": train_seconds, "threshold": trained.threshold})
        trained.meta["train_seconds"] = train_seconds
        mlflow.log_artifact(str(out_dir / "detector.json"))
    return trained


# --- evaluate_detector ---


def _roc_rows(labels: np.ndarray, p_fake: np.ndarray) -> str:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, p_fake)
    return "fpr,tpr\n" + "".join(f"{f:.6g},{t:.6g}\n" for f, t in zip(fpr, tpr, strict=True))


def evaluate_detectors(
    cfg: Params,
    data_dir: Path,
    fakes_dir: Path,
    models_dir: Path,
    device: str,
    progress: Callable[[str], None] = print,
) -> tuple[dict, dict, dict[str, str]]:
    """Judge every detector on test reals vs never-seen test fakes.

    Returns (details, dvc_metrics, roc csv text per detector). `details` holds every number:
    {detector: {test, per_generator, leave_one_out, robustness}, leakage: {...}}; `dvc_metrics` is
    the compact view of the same numbers for `dvc metrics show` (test metrics, and AUC elsewhere).
    """
    from ganops.detection.io import load_detector
    from ganops.detection.perturbations import robustness_table
    from ganops.detection.training import leakage_check, leave_one_out

    dcfg, variants = cfg.detector, list(cfg.gan.variants)
    real_train, _ = load_split(data_dir, "detector_train")
    real_test, _ = load_split(data_dir, "test")
    fakes_train = load_fakes(fakes_dir, variants, "train")
    fakes_test = load_fakes(fakes_dir, variants, "test")
    fake_test = np.concatenate([fakes_test[v] for v in variants])  # (N_fake, C, H, W)
    labels = np.concatenate([np.zeros(len(real_test), np.int64), np.ones(len(fake_test), np.int64)])

    warn = dcfg.leak_warn_auc
    leakage = {
        "train": leakage_check(real_train, np.concatenate(list(fakes_train.values())), cfg.seed, warn),
        "test": leakage_check(real_test, fake_test, cfg.seed, warn),
        "per_generator": {v: leakage_check(real_test, fakes_test[v], cfg.seed, warn) for v in variants},
    }
    details: dict = {"leakage": leakage, "generators": variants, "detectors": list(dcfg.detectors)}
    compact: dict = {"leakage": {k: leakage[k] for k in ("train", "test")}}
    rocs = {}
    for name in dcfg.detectors:
        trained = load_detector(models_dir / name, device=device)
        if trained.image_shape != tuple(real_test.shape[1:]):
            raise ValueError(
                f"{models_dir / name}: expects images {trained.image_shape}, the test split holds "
                f"{tuple(real_test.shape[1:])}; run `dvc repro train_detector`"
            )
        p_real = trained.score(real_test)  # (N_real,)
        p_fakes = {v: trained.score(fakes_test[v]) for v in variants}
        p_fake = np.concatenate([p_real, *(p_fakes[v] for v in variants)])
        entry = {
            "test": detection_metrics(labels, p_fake, trained.threshold, dcfg.bootstrap_resamples, cfg.seed),
            "per_generator": {
                v: detection_metrics(
                    np.repeat([0, 1], [len(p_real), len(p_fakes[v])]),
                    np.concatenate([p_real, p_fakes[v]]),
                    trained.threshold,
                    dcfg.bootstrap_resamples,
                    cfg.seed,
                )
                for v in variants
            },
            "robustness": robustness_table(trained, real_test, fake_test, seed=cfg.seed),
        }
        progress(f"{name}: test AUC {entry['test'][AUC]:.4f}, TPR@1%FPR {entry['test'][TPR_AT_FPR_1PCT]:.4f}")
        if dcfg.leave_one_out and len(variants) >= 2:
            entry["leave_one_out"] = leave_one_out(
                name, real_train, fakes_train, real_test, fakes_test, dcfg, cfg.seed, device=device
            )
            entry[LOO_MEAN_AUC] = float(np.mean([m[AUC] for m in entry["leave_one_out"].values()]))
            progress(f"{name}: leave-one-generator-out mean AUC {entry[LOO_MEAN_AUC]:.4f}")
        details[name] = entry
        compact[name] = {
            "test": entry["test"],
            "per_generator_auc": {v: m[AUC] for v, m in entry["per_generator"].items()},
            "robustness_auc": {p: m[AUC] for p, m in entry["robustness"].items()},
        }
        if "leave_one_out" in entry:
            compact[name]["leave_one_out_auc"] = {v: m[AUC] for v, m in entry["leave_one_out"].items()}
            compact[name][LOO_MEAN_AUC] = entry[LOO_MEAN_AUC]
        rocs[name] = _roc_rows(labels, p_fake)
    return details, compact, rocs


def _numbers(value: dict) -> dict[str, float]:
    """Flat {dotted.key: float} of every finite number (bools excluded) for MLflow."""
    return {
        key: float(v)
        for key, v in tracking.flatten("", value).items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def evaluate_detector_stage(
    cfg: Params,
    data_dir: Path,
    fakes_dir: Path,
    models_dir: Path,
    metrics_out: Path,
    details_out: Path,
    report_out: Path,
    roc_dir: Path,
    device: str,
) -> dict:
    """Evaluate every detector, then write metrics json, details json, markdown report and ROC csvs."""
    dcfg = cfg.detector
    params_used = {
        "seed": cfg.seed,
        "device": device,
        "generators": list(cfg.gan.variants),
        "detector": dcfg.model_dump(exclude={"num_fakes", "model_name"}),
    }
    with tracking.stage_run("evaluate_detector", cfg.registry.experiment, params_used, {}):
        details, compact, rocs = evaluate_detectors(
            cfg, data_dir, fakes_dir, models_dir, device, progress=lambda s: print(s, flush=True)
        )
        report = report_markdown(details, dcfg.leak_warn_auc)
        with atomic.atomic_dir(roc_dir) as tmp:
            for name, text in rocs.items():
                (tmp / f"{name}.csv").write_text(text)
        atomic.write_json(details_out, details)
        atomic.write_text(report_out, report)
        atomic.write_json(metrics_out, compact)
        mlflow.log_metrics(_numbers(compact))
        fired = leak_fired(details["leakage"])
        mlflow.set_tag("leak_warning", ", ".join(fired) if fired else "none")
        for path in (report_out, details_out):
            mlflow.log_artifact(str(path))
    if fired:
        print(
            "\n" + "!" * 78 + f"\nWARNING: LEAKAGE CHECK FIRED ({', '.join(fired)}): pixel mean/std alone "
            "separate real from fake.\nCheck that both classes were stored and scaled alike before "
            f"trusting these detectors; see {report_out}.\n" + "!" * 78,
            file=sys.stderr,
            flush=True,
        )
    return details


# --- register_detector ---


def best_detector(metrics: dict, detectors: list[str]) -> str:
    """The detector with the highest test TPR at 1% FPR (ties: higher AUC, then params order)."""
    missing = [name for name in detectors if name not in metrics]
    if missing:
        raise ValueError(
            f"no test metrics for detector(s) {', '.join(missing)}; run `dvc repro evaluate_detector`"
        )
    return max(detectors, key=lambda n: (metrics[n]["test"][PRIMARY_METRIC], metrics[n]["test"][AUC]))


def register_best_detector(cfg: Params, metrics_path: Path, models_dir: Path, out: Path) -> dict:
    """Register the best detector as detector.model_name under the champion/challenger rule."""
    from ganops.tracking import registry

    if not metrics_path.is_file():
        raise FileNotFoundError(
            f"{metrics_path}: no detector metrics; run `dvc repro evaluate_detector` first"
        )
    metrics = json.loads(metrics_path.read_text())
    best = best_detector(metrics, list(cfg.detector.detectors))
    weights = models_dir / best / "detector.pt"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: detector weights missing; run `dvc repro train_detector` first")
    candidate_metrics = {k: float(v) for k, v in metrics[best]["test"].items()}
    if LOO_MEAN_AUC in metrics[best]:
        candidate_metrics[LOO_MEAN_AUC] = float(metrics[best][LOO_MEAN_AUC])
    if "jpeg_q75" in metrics[best].get("robustness_auc", {}):
        candidate_metrics["auc_jpeg_q75"] = float(metrics[best]["robustness_auc"]["jpeg_q75"])
    tags = {"detector": best, **tracking.provenance_tags(Path.cwd())}
    params_used = {
        "model_name": cfg.detector.model_name,
        "primary_metric": PRIMARY_METRIC,
        "candidates": list(cfg.detector.detectors),
    }
    with tracking.stage_run("register_detector", cfg.registry.experiment, params_used, tags):
        mlflow.log_metrics(
            {
                f"{n}.{PRIMARY_METRIC}": metrics[n]["test"][PRIMARY_METRIC]
                for n in metrics
                if n in cfg.detector.detectors
            }
        )

        def log_model() -> str:
            info = mlflow.pyfunc.log_model(
                name="detector", python_model=str(PYFUNC_CODE), artifacts={"detector": str(weights)}
            )
            return info.model_uri

        candidate = registry.Candidate(
            weights=weights, metrics=candidate_metrics, log_model=log_model, tags=tags
        )
        decision = registry.register(
            cfg.detector.model_name, candidate, primary=PRIMARY_METRIC, lower_is_better=False
        )
        decision["detector"] = best
        mlflow.set_tags({"decision": decision["alias"], "decision_reason": decision["reason"]})
    atomic.write_json(out, decision)
    return decision
