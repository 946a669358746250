"""GPU check: a few hundred ganops training steps per variant on CUDA; prints img/s and peak memory.

Needs only torch, numpy and pyyaml (pillow and tqdm for the loop check), no pydantic / mlflow / dvc /
prefect, so it runs on a bare GPU machine from a checkout:

    PYTHONPATH=src python benchmarks/gpu_check.py [--params params.yaml] [--steps 300] [--variants a,b]

Then, unless turned off, two checks of the code around the step on the same device:
- loop (`--loop-steps N`): the real `train_gan` loop of each chosen variant, killed (test hook)
  half-way and resumed, and in deterministic mode compared weight for weight with an uninterrupted run;
- ddp (`--ddp`): `build_trainer(distributed=True)` under a one-process group (nccl on CUDA, gloo on
  the CPU), a few steps and an all-reduce: the DDP code path on this device (a multi-GPU run needs
  `torchrun --nproc_per_node N -m ganops.cli.main train-gan VARIANT` on a machine with N GPUs).

Variants and `gan` options (bf16, channels_last, compile) come from params.yaml; the images are the
prepared `gan_train` split when present, else random images of `data.image_size` (throughput does not
depend on the pixels). `--device cpu` runs the same code on the CPU as a dry run of the script itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ganops.image.family import LOSS_D, LOSS_G, build_trainer, train_gan, train_step
from ganops.training.data_order import DataOrder


@dataclasses.dataclass(frozen=True)
class Variant:
    """Mirror of ganops.config.params.VariantConfig's fields and defaults (that module needs pydantic);
    tests/unit/test_train_gan.py checks the two stay in step."""

    arch: str = "dcgan"
    loss: str = "non_saturating"
    conditional: bool | str = False  # "auto" reads as conditional: the check trains on labelled MNIST
    g_label: str = "modulation"
    z_dim: int = 64
    width: int = 32
    batch_size: int = 64
    num_steps: int = 1500
    n_critic: int = 1
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    gp_weight: float = 10.0
    r1_weight: float = 0.0
    label_smoothing: float = 0.0
    ema_decay: float = 0.999
    diffaugment: bool = False
    checkpoint_every: int = 250
    log_every: int = 25


@dataclasses.dataclass(frozen=True)
class GanOptions:
    device: str = "auto"
    deterministic: bool = False
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    compile_mode: str = "reduce-overhead"


def load_variants(params: Path) -> tuple[dict[str, Variant], GanOptions, dict]:
    raw = (yaml.safe_load(params.read_text()) or {}) if params.is_file() else {}
    gan = raw.get("gan", {})
    known = {f.name for f in dataclasses.fields(Variant)}
    variants = {}
    for name, fields in (gan.get("variants") or {"dcgan": {}}).items():
        fields = dict(fields)
        if "lr" in fields:  # shorthand for both rates, as in ganops.config.params.VariantConfig
            if {"lr_g", "lr_d"} & set(fields):
                sys.exit(f"gpu_check: {params}: gan.variants.{name}: lr beside lr_g/lr_d; keep one")
            lr = fields.pop("lr")
            fields.update(lr_g=lr, lr_d=lr)
        unknown = set(fields) - known
        if unknown:
            sys.exit(f"gpu_check: {params}: gan.variants.{name}: unknown keys {sorted(unknown)}")
        variants[name] = Variant(**fields)
    speed_keys = ("bf16", "channels_last", "compile", "compile_mode")
    options = GanOptions(**{k: gan[k] for k in speed_keys if k in gan})
    return variants, options, raw.get("data", {})


def load_images(data_dir: Path, data: dict) -> tuple[np.ndarray, np.ndarray]:
    images_path = data_dir / "gan_train_images.npy"
    if images_path.is_file():
        images = np.load(images_path, allow_pickle=False)
        labels = np.load(data_dir / "gan_train_labels.npy", allow_pickle=False)
        return images, labels
    size, channels = int(data.get("image_size", 28)), 3 if data.get("channels") == "rgb" else 1
    rng = np.random.default_rng(0)
    print(f"gpu_check: {images_path} not found; using random {channels}x{size}x{size} images")
    return rng.random((4096, channels, size, size), dtype=np.float32), rng.integers(0, 10, 4096)


def run_variant(name: str, cfg: Variant, gan: GanOptions, images, labels, steps: int, device: str) -> None:
    torch.manual_seed(0)
    num_classes = int(labels.max()) + 1 if cfg.conditional else 0
    tr = build_trainer(cfg, gan, tuple(images.shape[1:]), num_classes, device, name)
    x = torch.from_numpy(images).to(device) * 2 - 1  # (N, C, H, W) in [-1, 1]
    if gan.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(labels.astype(np.int64)).to(device) if num_classes else None
    order = DataOrder(len(x), cfg.batch_size, 0, device=device)

    def next_batch(stream):
        idx = order.next_indices()
        return {"image": x[idx]} | ({"label": y[idx]} if y is not None else {})

    warmup = min(20, steps // 5) or 1
    for step in range(warmup):
        train_step(tr, next_batch, step)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for step in range(warmup, warmup + steps):
        values = train_step(tr, next_batch, step)
    loss_d, loss_g = float(values[LOSS_D]), float(values[LOSS_G])  # syncs the device
    seconds = time.perf_counter() - start
    rate = steps * cfg.batch_size * cfg.n_critic / seconds
    memory = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else float("nan")
    finite = "ok" if np.isfinite([loss_d, loss_g]).all() else "NON-FINITE"
    print(
        f"{name:16s} {cfg.arch}/{cfg.loss:15s} batch={cfg.batch_size:4d} n_critic={cfg.n_critic} "
        f"{rate:10.0f} img/s  {1000 * seconds / steps:7.2f} ms/step  max_memory_allocated={memory:8.1f} MiB  "
        f"losses {finite} (d={loss_d:.3f} g={loss_g:.3f})"
    )


def check_loop(name: str, cfg: Variant, gan: GanOptions, images, labels, steps: int, device: str) -> bool:
    """train_gan end to end on `device`: stop half-way, resume, and (deterministic mode) compare the
    resumed run's final weights with an uninterrupted run's. Prints one line per finding."""
    from ganops.training.checkpoint import CHECKPOINT, load_checkpoint
    from ganops.training.loop import TrainingInterrupted

    half = max(1, steps // 2)
    cfg = dataclasses.replace(cfg, num_steps=steps, checkpoint_every=half, log_every=max(1, half // 2))
    gan = dataclasses.replace(gan, device=device)
    labels = labels if cfg.conditional else np.full(len(images), -1)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for deterministic in (False, True):
            run_gan = dataclasses.replace(gan, deterministic=deterministic)
            tag = f"loop {name} deterministic={deterministic}"
            root = Path(tmp) / f"det{int(deterministic)}"
            try:
                try:
                    out, ck = root / "out", root / "ck"
                    train_gan(name, cfg, run_gan, images, labels, out, ck, 0, stop_after=half)
                    raise AssertionError("the stop_after hook did not stop the run")
                except TrainingInterrupted:
                    pass
                result = train_gan(name, cfg, run_gan, images, labels, root / "out", root / "ck", 0)
                assert result.resumed_from == half, f"resumed from {result.resumed_from}, not {half}"
                assert (root / "out" / "generator.pt").is_file(), "no generator.pt exported"
                line = (f"{tag}: killed at {half}, resumed, {result.steps} steps, "
                        f"{result.images_per_second:.0f} img/s, device {result.device}")  # fmt: skip
                if deterministic:
                    train_gan(name, cfg, run_gan, images, labels, root / "out2", root / "ck2", 0)
                    a = load_checkpoint(root / "ck" / CHECKPOINT)["G"]
                    b = load_checkpoint(root / "ck2" / CHECKPOINT)["G"]
                    same = all(torch.equal(a[k], b[k]) for k in a)
                    ok &= same
                    line += f"; resumed == uninterrupted: {'identical weights' if same else 'DIFFERENT'}"
                print(line, flush=True)
            except Exception as exc:  # report and go on: the other checks still tell something
                ok = False
                print(f"{tag}: FAILED {exc.__class__.__name__}: {exc}", flush=True)
    return ok


def check_ddp(name: str, cfg: Variant, gan: GanOptions, images, labels, steps: int, device: str) -> bool:
    """A one-process group around build_trainer(distributed=True): DDP wrappers, gradient all-reduce
    through the device's backend, all_reduce_mean of the logged values."""
    import torch.distributed as dist

    from ganops.core.distributed import all_reduce_mean, shutdown

    backend = "nccl" if device == "cuda" else "gloo"
    where = "cuda:0" if device == "cuda" else "cpu"
    # A file rendezvous, not tcp:// on a port found free and released: another process (torchrun in the
    # two-process DDP test, running beside this one under pytest-xdist) could take that port in between,
    # and the store then waited for its default 30 minutes. The timeout bounds any other wait.
    rendezvous = Path(tempfile.mkdtemp(prefix="gpu_check_ddp_")) / "store"
    try:
        if device == "cuda":
            torch.cuda.set_device(0)
        dist.init_process_group(
            backend, init_method=rendezvous.as_uri(), rank=0, world_size=1, timeout=datetime.timedelta(seconds=120)
        )
        torch.manual_seed(0)
        num_classes = int(labels.max()) + 1 if cfg.conditional else 0
        tr = build_trainer(cfg, gan, tuple(images.shape[1:]), num_classes, where, name, distributed=True)
        x = torch.from_numpy(images).to(where) * 2 - 1
        y = torch.from_numpy(labels.astype(np.int64)).to(where) if num_classes else None
        order = DataOrder(len(x), cfg.batch_size, 0, device=where)

        def next_batch(stream):
            idx = order.next_indices()
            return {"image": x[idx]} | ({"label": y[idx]} if y is not None else {})

        start = time.perf_counter()
        for step in range(steps):
            values = train_step(tr, next_batch, step)
        logged = all_reduce_mean(torch.stack([values[LOSS_D].float(), values[LOSS_G].float()])).tolist()
        seconds = time.perf_counter() - start
        finite = bool(np.isfinite(logged).all())
        rate = steps * cfg.batch_size * cfg.n_critic / seconds
        losses = f"{'ok' if finite else 'NON-FINITE'} (d={logged[0]:.3f} g={logged[1]:.3f})"
        print(f"ddp {name}: backend {backend}, 1 process on {where}, {steps} steps, {rate:.0f} img/s, "
              f"losses {losses}", flush=True)  # fmt: skip
        return finite
    except Exception as exc:
        print(f"ddp {name}: FAILED {exc.__class__.__name__}: {exc}", flush=True)
        return False
    finally:
        shutdown()
        shutil.rmtree(rendezvous.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--data", type=Path, default=Path("data/prepared"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--variants", default="", help="comma-separated names (default: all in params)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--compile-mode", default=None, help="torch.compile mode (default: params')")
    parser.add_argument("--loop-steps", type=int, default=200, help="train_gan resume check (0: skip)")
    parser.add_argument("--ddp", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit(
            f"gpu_check: no CUDA device visible (torch {torch.__version__}, cuda build "
            f"{torch.version.cuda or 'none'}); run it on a GPU machine, or pass --device cpu for a dry run"
        )
    variants, gan, data = load_variants(args.params)
    options = (("bf16", args.bf16), ("compile", args.compile), ("channels_last", args.channels_last),
               ("compile_mode", args.compile_mode))  # fmt: skip
    overrides = {k: v for k, v in options if v is not None}
    gan = dataclasses.replace(gan, **overrides)
    chosen = [v for v in args.variants.split(",") if v] or list(variants)
    missing = [v for v in chosen if v not in variants]
    if missing:
        sys.exit(f"gpu_check: no variant {missing} in {args.params} (defined: {', '.join(variants)})")
    images, labels = load_images(args.data, data)
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu (dry run)"
    print(f"gpu_check: {device_name}, torch {torch.__version__}, {gan}")
    print(f"gpu_check: {len(images)} training images of shape {images.shape[1:]}")
    for name in chosen:
        if args.device == "cuda":
            torch.cuda.empty_cache()
        run_variant(name, variants[name], gan, images, labels, args.steps, args.device)
    ok = True
    for name in chosen if args.loop_steps > 0 else []:
        ok &= check_loop(name, variants[name], gan, images, labels, args.loop_steps, args.device)
    for name in chosen if args.ddp else []:
        ok &= check_ddp(name, variants[name], gan, images, labels, min(args.steps, 50), args.device)
    if not ok:
        sys.exit("gpu_check: a check FAILED (see above)")


if __name__ == "__main__":
    main()
