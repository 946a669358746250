"""The GAN training loop: one variant, resumable bit-exactly from its last checkpoint.

A step is `n_critic` D updates (each on a fresh real batch) followed by one G update and the EMA update.
Runs on CPU or CUDA (bf16 autocast optional); data order, noise and augmentation are seeded and their
state checkpointed, so on CPU with `gan.deterministic` a killed and restarted run ends with weights
bit-identical to an uninterrupted one. A non-finite loss stops the run with `DivergenceError`, leaving
the last good checkpoint in place.

With a `quality` probe (evaluation.quality.make_quality_probe: a cheap FID/IS against training images), each
checkpoint also scores the exported generator (G_ema, or G without EMA), logs the values, appends them to
quality.csv and, when `quality_key` improves, exports that generator: the final generator.pt is then the
best checkpoint's, not the last one. The best step, value and weights live in the checkpoint, so a
resumed run picks the same checkpoint as an uninterrupted one.

Under `torchrun` (`dist` from ganops.core.distributed.init_from_env, world_size > 1) G and D are wrapped in
DistributedDataParallel: each rank trains on cfg.batch_size images per step (the per-GPU batch; the
global batch is world_size times larger), drawn from a disjoint shard of the same seeded epoch
permutation, with noise seeded by seed + rank. Only rank 0 writes checkpoints, sample grids, CSVs and
generator.pt, shows the progress bar and calls `log` / `quality`; G_ema is updated on every rank from
the synchronised weights. Every rank resumes from the same checkpoint; the noise streams are then
reseeded from (seed, rank, step), so a DDP resume is exact in weights, optimisers and data order but
not in noise.

`cfg` / `gan` are any objects with the `VariantConfig` / `GanConfig` attributes: this module never
imports pydantic, so tools such as benchmarks/gpu_check.py can run it with torch + numpy only.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ganops.core.atomic import atomic_path
from ganops.core.devices import cudnn_autotune, pick_device
from ganops.core.distributed import SINGLE, DistInfo, all_reduce_mean, all_reduce_min, barrier, wrap_ddp
from ganops.evaluation.quality import lower_is_better
from ganops.image.architectures import build_models, validate_arch
from ganops.image.augment import diff_augment
from ganops.image.export import config_dict, export_generator, sample_images, save_image_grid
from ganops.training.checkpoint import config_mismatch, load_checkpoint, save_checkpoint, set_rng_state
from ganops.training.ema import make_ema, update_ema
from ganops.training.losses import LOSSES, GanLoss, gradient_penalty, r1_penalty, validate_loss

if TYPE_CHECKING:
    from ganops.config.params import GanConfig, VariantConfig

# Logged values: the keys of `log(step, values)` and the columns of losses.csv (after "step").
LOSS_D = "loss_d"  # D loss including its penalty
LOSS_G = "loss_g"
D_REAL = "d_real"  # mean D logit on real images
D_FAKE = "d_fake"  # mean D logit on generated images
PENALTY = "penalty"  # gradient penalty (wgan_gp) or R1, unweighted; 0 when unused
LOG_KEYS = (LOSS_D, LOSS_G, D_REAL, D_FAKE, PENALTY)

CHECKPOINT = "last.pt"
GENERATOR = "generator.pt"
LOSSES_CSV = "losses.csv"
QUALITY_CSV = "quality.csv"  # step + the quality probe's metrics, one row per checkpoint
# VariantConfig keys that may change between a checkpoint and its resume: they do not alter the maths
# of the steps already taken.
SCHEDULE_KEYS = ("num_steps", "checkpoint_every", "log_every")
GRID_IMAGES = 64


class DivergenceError(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(Exception):
    """Raised by the `stop_after` test hook to simulate a run killed after a given step."""


@dataclass
class TrainResult:
    steps: int  # G updates done in total (including those before a resume)
    seconds: float  # wall time of this call's training loop
    images_per_second: float  # real images through D per second in this call (batch · n_critic · steps / s)
    losses: dict[str, float]  # last logged values (LOG_KEYS)
    device: str
    resumed_from: int | None  # step of the checkpoint this call resumed from
    best_step: int | None = None  # checkpoint step whose generator was exported (None without a probe)
    best_quality: float | None = None  # its `quality_key` value
    quality_seconds: float = 0.0  # wall time spent in the quality probe in this call (part of `seconds`)


class DataOrder:
    """Index batches from a per-epoch permutation drawn from a seeded torch.Generator (checkpointable).

    With world_size > 1 every rank draws the same permutation and takes the disjoint shard
    perm[:N // world_size * world_size][rank::world_size], so all ranks turn epochs together."""

    def __init__(
        self,
        num_images: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        device: str = "cpu",
    ) -> None:
        self.num_images, self.batch_size, self.device = num_images, batch_size, device
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.pos = 0, 0
        self._set_perm(torch.randperm(num_images, generator=self.generator))

    def _set_perm(self, perm: torch.Tensor) -> None:
        self.perm = perm  # (N,) the whole epoch's order, identical on every rank (checkpointed)
        if self.world_size > 1:
            perm = perm[: len(perm) // self.world_size * self.world_size][self.rank :: self.world_size]
        # (N // world_size,) this rank's part, on the training device: one copy per epoch, not per step
        self.shard = perm.to(self.device)

    def next_indices(self) -> torch.Tensor:  # (B,) int64 on `device`; drops the incomplete tail of an epoch
        if self.pos + self.batch_size > len(self.shard):
            self._set_perm(torch.randperm(self.num_images, generator=self.generator))
            self.epoch, self.pos = self.epoch + 1, 0
        idx = self.shard[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "perm": self.perm,
            "epoch": self.epoch,
            "pos": self.pos,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self._set_perm(state["perm"])
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])


@dataclass
class Trainer:
    """Models, optimisers and options a training step touches."""

    cfg: Any  # VariantConfig-like
    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: GanLoss
    device: str
    bf16: bool = False
    channels_last: bool = False
    cudnn_benchmark: bool = False  # CUDA and not deterministic: cuDNN times its algorithms once per shape
    cuda_graphs: bool = False  # compiled in a CUDA-graph mode: each step starts a new graph generation
    G_fwd: Callable[..., torch.Tensor] = field(default=None)  # compiled G when gan.compile, else G
    D_fwd: Callable[..., torch.Tensor] = field(default=None)
    # D as G's loss sees it: D_fwd, except under DDP, where it is the plain D: D's weights take no
    # gradient in the G step, so there is nothing to all-reduce.
    D_for_g: Callable[..., torch.Tensor] = field(default=None)

    def __post_init__(self) -> None:
        # `is None`, not `or`: a compiled module's truth value calls len(), which it does not support
        if self.G_fwd is None:
            self.G_fwd = self.G
        if self.D_fwd is None:
            self.D_fwd = self.D
        if self.D_for_g is None:
            self.D_for_g = self.D_fwd

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.bf16 and self.device.startswith("cuda"):
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def sampler(self) -> nn.Module:
        """The generator we sample from and export: G_ema when EMA is on, else G."""
        return self.G_ema if self.G_ema is not None else self.G


CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")  # torch.compile modes that replay CUDA graphs


def _fused(device: str) -> bool | None:
    """Adam's `fused` flag: one kernel for the whole update on CUDA instead of a dozen multi-tensor
    ones (same maths); torch's default elsewhere."""
    return True if device.startswith("cuda") else None


def load_optimizer(optimizer: torch.optim.Optimizer, state: dict[str, Any], device: str) -> None:
    """load_state_dict takes the saved param groups whole, `fused` included: a checkpoint written on
    CUDA and resumed on the CPU (or back) keeps the flag that suits this device."""
    optimizer.load_state_dict(state)
    for group in optimizer.param_groups:
        group["fused"] = _fused(device)


def build_trainer(
    cfg: VariantConfig,
    gan: GanConfig,
    image_shape: tuple[int, int, int],
    num_classes: int,
    device: str,
    variant: str = "",
    distributed: bool = False,
) -> Trainer:
    """Build G, D, G_ema and the Adam optimisers (seed torch first for a reproducible init).

    distributed: wrap G and D in DistributedDataParallel (needs a running process group); the Trainer's
    G / D stay the plain modules (checkpoints, penalties, EMA), G_fwd / D_fwd are the DDP wrappers."""
    validate_loss(cfg, variant)
    G, D = build_models(cfg, image_shape, num_classes, variant)
    memory = torch.channels_last if gan.channels_last else torch.contiguous_format
    G, D = G.to(device, memory_format=memory), D.to(device, memory_format=memory)
    G_wrapped, D_wrapped = (wrap_ddp(G, device), wrap_ddp(D, device)) if distributed else (G, D)
    G_ema = make_ema(G) if cfg.ema_decay > 0 else None  # after DDP's broadcast of rank 0's weights
    betas = (cfg.beta1, cfg.beta2)
    cuda = device.startswith("cuda")
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=betas, fused=_fused(device))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=betas, fused=_fused(device))
    mode = getattr(gan, "compile_mode", "default")
    compile_ = (lambda module: torch.compile(module, mode=mode)) if gan.compile else (lambda module: module)
    G_fwd, D_fwd = compile_(G_wrapped), compile_(D_wrapped)
    D_for_g = compile_(D) if distributed else D_fwd
    return Trainer(
        cfg, G, D, G_ema, opt_g, opt_d, LOSSES[cfg.loss], device, gan.bf16, gan.channels_last,
        cuda and not getattr(gan, "deterministic", False), gan.compile and mode in CUDA_GRAPH_MODES,
        G_fwd, D_fwd, D_for_g,
    )  # fmt: skip


# --- one training step: D updates, G update, EMA ---


def _augment(tr: Trainer, x: torch.Tensor) -> torch.Tensor:
    return diff_augment(x) if tr.cfg.diffaugment else x


def d_step(
    tr: Trainer, real: torch.Tensor, y: torch.Tensor | None, keep_fake: bool
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """One D update on real (B, C, H, W); returns (values, fake). `keep_fake` keeps G's graph on fake so
    the G step can reuse it (n_critic == 1: one G forward per step, as in the PyTorch DCGAN example)."""
    cfg = tr.cfg
    z = torch.randn(real.shape[0], cfg.z_dim, device=real.device)  # (B, z_dim)
    with tr.autocast():
        with torch.set_grad_enabled(keep_fake):
            fake = tr.G_fwd(z, y)  # (B, C, H, W)
        real_in, fake_in = _augment(tr, real), _augment(tr, fake.detach())
        real_logits = tr.D_fwd(real_in, y).float()  # (B,)
        fake_logits = tr.D_fwd(fake_in, y).float()
        loss = tr.loss.d_loss(real_logits, fake_logits, cfg.label_smoothing)
        penalty = torch.zeros((), device=real.device)
        # Penalties need double backward, which compiled modules lack: they use the eager D.
        if tr.loss.gradient_penalty and cfg.gp_weight > 0:
            penalty = gradient_penalty(tr.D, real_in, fake_in, y)
            loss = loss + cfg.gp_weight * penalty
        if cfg.r1_weight > 0:
            penalty = r1_penalty(tr.D, real_in, y)
            loss = loss + 0.5 * cfg.r1_weight * penalty
    tr.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    tr.opt_d.step()
    values = {
        LOSS_D: loss.detach(),
        D_REAL: real_logits.detach().mean(),
        D_FAKE: fake_logits.detach().mean(),
        PENALTY: penalty.detach(),
    }
    return values, fake


def g_step(tr: Trainer, fake: torch.Tensor | None, y: torch.Tensor | None, batch_size: int) -> torch.Tensor:
    """One G update; `fake` is reused when it still carries G's graph, else drawn afresh."""
    tr.D.requires_grad_(False)  # G's loss needs gradients w.r.t. images only, not D's weights
    with tr.autocast():
        if fake is None:
            z = torch.randn(batch_size, tr.cfg.z_dim, device=tr.device)  # (B, z_dim)
            fake = tr.G_fwd(z, y)  # (B, C, H, W)
        loss = tr.loss.g_loss(tr.D_for_g(_augment(tr, fake), y).float())
    tr.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    tr.opt_g.step()
    tr.D.requires_grad_(True)
    return loss.detach()


def train_step(
    tr: Trainer, next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor | None]], step: int
) -> dict[str, torch.Tensor]:
    """n_critic D updates then one G update and the EMA update; `step` = G updates done before this one.
    Returns the step's values as 0-dim tensors (no device sync here)."""
    n_critic = tr.cfg.n_critic
    if tr.cuda_graphs:  # the previous step's graph outputs are dead: their memory may be reused
        torch.compiler.cudagraph_mark_step_begin()
    with cudnn_autotune(tr.cudnn_benchmark):
        for _ in range(n_critic):
            real, y = next_batch()
            values, fake = d_step(tr, real, y, keep_fake=n_critic == 1)
        values[LOSS_G] = g_step(tr, fake if fake.requires_grad else None, y, real.shape[0])
    if tr.G_ema is not None:
        update_ema(tr.G_ema, tr.G, tr.cfg.ema_decay, step)
    return values


class NonFiniteGuard:
    """The first step (counted from 1) whose D or G loss was NaN/inf, kept on the training device:
    `update` adds no device sync to a step; `first_bad` syncs, and agrees across DDP ranks."""

    NEVER = torch.iinfo(torch.int64).max

    def __init__(self, device: str) -> None:
        self.first = torch.full((), self.NEVER, dtype=torch.long, device=device)

    def update(self, values: dict[str, torch.Tensor], step: int) -> None:
        finite = torch.isfinite(values[LOSS_D]) & torch.isfinite(values[LOSS_G])
        self.first = torch.where(finite, self.first, self.first.clamp(max=step))

    def first_bad(self) -> int | None:
        self.first = all_reduce_min(self.first)  # the input itself without a process group
        bad = int(self.first)
        return None if bad == self.NEVER else bad


# --- the loop ---


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seed the legacy global RNG for third-party code)
    torch.manual_seed(seed)


def _num_classes(labels: np.ndarray) -> int:
    return int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0


def _check_images(images: np.ndarray, labels: np.ndarray, batch_size: int, variant: str) -> None:
    if images.ndim != 4:
        raise ValueError(f"training images must be (N, C, H, W), got shape {images.shape}")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} training images but {len(labels)} labels")
    if len(images) < batch_size:
        raise ValueError(
            f"gan.variants.{variant}.batch_size: {batch_size} is more than the {len(images)} training images"
        )


def _data_fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(images).data)
    digest.update(np.ascontiguousarray(labels).data)
    return digest.hexdigest()[:16]


def _grid(tr: Trainer, meta: dict[str, Any], seed: int) -> np.ndarray:
    """Fixed-noise samples (their own torch.Generator: the training RNG streams are untouched)."""
    num_classes = meta["num_classes"]
    num = GRID_IMAGES if not num_classes else num_classes * max(1, GRID_IMAGES // num_classes)
    return sample_images(tr.sampler, meta, num, seed=seed, batch_size=GRID_IMAGES, device=tr.device)


def _write_csv(path: Path, rows: list[list[float]], columns: tuple[str, ...] | list[str] = LOG_KEYS) -> None:
    """Header plus the rows logged so far (the checkpoint's history on resume), written atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", *columns])
        writer.writerows(rows)


def _improves(value: float, best: dict[str, Any], lower_better: bool) -> bool:
    """Whether `value` beats the best so far (`best` empty: any finite value does; NaN never does)."""
    if not np.isfinite(value):
        return False
    if not best:
        return True
    return value < best["value"] if lower_better else value > best["value"]


def train_gan(
    variant: str,
    cfg: VariantConfig,
    gan: GanConfig,
    images: np.ndarray,
    labels: np.ndarray,
    out_dir: Path,
    checkpoint_dir: Path,
    seed: int,
    log: Callable[[int, dict[str, float]], None] | None = None,
    class_names: list[str] | None = None,
    stop_after: int | None = None,
    quality: Callable[[nn.Module, dict[str, Any]], dict[str, float]] | None = None,
    quality_key: str | None = None,
    dist: DistInfo = SINGLE,
) -> TrainResult:
    """Train `variant` on images (N, C, H, W) in [0, 1] with labels (N,) (-1 = unknown).

    Writes out_dir/{generator.pt, samples.png, samples/step_XXXXXX.png, losses.csv} and
    checkpoint_dir/last.pt; resumes from last.pt when present. `stop_after` (tests only) raises
    TrainingInterrupted once that many steps are done, as if the process had been killed.

    quality: called as `quality(G, meta)` at every checkpoint with the generator that gets exported
    (G_ema, or G without EMA; meta as in ganops.image.export); its metrics go to `log` and to
    out_dir/quality.csv. quality_key: one of its metrics (lower is better for FID/KID, higher for IS):
    generator.pt is then the generator of the checkpoint with the best value. Without `quality_key` (or
    without `quality`) generator.pt is the last generator. The probe must not touch the global RNGs.

    dist: from ganops.core.distributed.init_from_env(gan.device) under torchrun; world_size > 1 trains with
    DDP on dist.device (see the module docstring); ranks other than 0 write nothing and never call
    `log` or `quality`. The returned losses are averaged over ranks.
    """
    from tqdm import tqdm

    out_dir, checkpoint_dir = Path(out_dir), Path(checkpoint_dir)
    labels = np.asarray(labels, dtype=np.int64)
    _check_images(images, labels, cfg.batch_size, variant)
    image_shape = tuple(int(s) for s in images.shape[1:])
    num_classes = _num_classes(labels)
    validate_arch(cfg, image_shape, num_classes, variant)
    validate_loss(cfg, variant)
    if quality_key is not None and quality is None:
        raise ValueError(f"quality_key {quality_key!r} given without a quality probe to compute it")
    if cfg.conditional:
        keep = labels >= 0
        if not keep.all():
            print(
                f"{variant}: conditional training skips {int((~keep).sum())} unlabelled images",
                file=sys.stderr,
            )
            images, labels = images[keep], labels[keep]
            _check_images(images, labels, cfg.batch_size, variant)
    else:
        num_classes = 0
    if dist.enabled and len(images) // dist.world_size < cfg.batch_size:
        raise ValueError(
            f"gan.variants.{variant}.batch_size: {cfg.batch_size} per process is more than the "
            f"{len(images) // dist.world_size} images each of the {dist.world_size} processes gets"
        )
    device = dist.device or pick_device(gan.device)
    run_config = {
        "variant": variant,
        "variant_config": {k: v for k, v in config_dict(cfg).items() if k not in SCHEDULE_KEYS},
        "seed": int(seed),
        "image_shape": list(image_shape),
        "num_classes": num_classes,
        "data": _data_fingerprint(images, labels),
        "quality_key": quality_key,  # the best checkpoint so far is only meaningful for the same metric
    }
    if dist.enabled:  # a shard position means nothing under another process count
        run_config["world_size"] = dist.world_size
    meta = {"variant_config": config_dict(cfg), "num_classes": num_classes}
    checkpoint_path = checkpoint_dir / CHECKPOINT
    previous_determinism = torch.are_deterministic_algorithms_enabled()
    if gan.deterministic and not previous_determinism:
        if device.startswith("cuda"):
            import os

            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    try:
        # --- setup: seed, build, maybe resume ---
        _seed_everything(seed)
        tr = build_trainer(cfg, gan, image_shape, num_classes, device, variant, distributed=dist.enabled)
        if dist.enabled:
            _seed_everything(seed + dist.rank)  # same initial weights, different noise per rank
        order = DataOrder(len(images), cfg.batch_size, seed, dist.rank, dist.world_size, device)
        x_all = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).to(device) * 2 - 1  # [-1, 1]
        if gan.channels_last:
            x_all = x_all.contiguous(memory_format=torch.channels_last)
        y_all = torch.from_numpy(labels).to(device) if num_classes else None
        step, history, resumed_from = 0, [], None
        quality_columns: list[str] = []  # the probe's metric names, fixed by its first call
        quality_history: list[list[float]] = []  # [step, *values] per checkpoint
        best: dict[str, Any] = {}  # {"step", "value", "G": state dict} of the best checkpoint so far
        lower_better = quality_key is not None and lower_is_better(quality_key)
        if checkpoint_path.is_file():
            ckpt = load_checkpoint(checkpoint_path)
            differing = config_mismatch(ckpt["config"], run_config)
            if differing:
                raise ValueError(
                    f"{checkpoint_path}: checkpoint was made with different settings "
                    f"({', '.join(differing)}); delete it to start afresh"
                )
            tr.G.load_state_dict(ckpt["G"])
            tr.D.load_state_dict(ckpt["D"])
            if tr.G_ema is not None:
                tr.G_ema.load_state_dict(ckpt["G_ema"])
            load_optimizer(tr.opt_g, ckpt["opt_g"], device)
            load_optimizer(tr.opt_d, ckpt["opt_d"], device)
            order.load_state_dict(ckpt["data_order"])
            step = resumed_from = int(ckpt["step"])
            history = [list(row) for row in ckpt["history"]]
            quality_columns = [str(c) for c in ckpt.get("quality_columns", [])]
            quality_history = [list(row) for row in ckpt.get("quality_history", [])]
            best = dict(ckpt.get("best", {}))
            set_rng_state(ckpt["rng"])
            if dist.enabled:  # the checkpoint holds rank 0's RNG state: give each rank its own again
                _seed_everything(seed + dist.rank + dist.world_size * step)
            if dist.is_main:
                print(f"resuming {variant} from step {step}")
        if dist.enabled:
            barrier()  # every rank has read the checkpoint before rank 0 may overwrite it
        losses_csv = out_dir / LOSSES_CSV
        quality_csv, quality_seconds = out_dir / QUALITY_CSV, 0.0
        if dist.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            _write_csv(losses_csv, history)
            if quality is not None:
                _write_csv(quality_csv, quality_history, quality_columns)

        def export(G: nn.Module) -> None:
            if dist.is_main:
                export_generator(out_dir / GENERATOR, G, cfg, image_shape, num_classes, class_names)

        def next_batch() -> tuple[torch.Tensor, torch.Tensor | None]:
            idx = order.next_indices()  # already on `device`
            return x_all[idx], (y_all[idx] if y_all is not None else None)  # (B, C, H, W), (B,)

        def checkpoint() -> None:
            if not dist.is_main:
                return
            save_checkpoint(
                checkpoint_path,
                {
                    "config": run_config,
                    "step": step,
                    "G": tr.G.state_dict(),
                    "D": tr.D.state_dict(),
                    "G_ema": tr.G_ema.state_dict() if tr.G_ema is not None else {},
                    "opt_g": tr.opt_g.state_dict(),
                    "opt_d": tr.opt_d.state_dict(),
                    "data_order": order.state_dict(),
                    "history": history,
                    "quality_columns": quality_columns,
                    "quality_history": quality_history,
                    "best": best,
                },
            )
            grid = _grid(tr, meta, seed)
            nrow = num_classes or 8
            save_image_grid(out_dir / "samples" / f"step_{step:06d}.png", grid, nrow)
            save_image_grid(out_dir / "samples.png", grid, nrow)

        def probe_quality() -> None:
            """Score the generator we export; keep (and export) it when `quality_key` improves."""
            nonlocal best, quality_seconds
            probe_started = time.perf_counter()
            metrics = {str(k): float(v) for k, v in quality(tr.sampler, meta).items()}
            quality_seconds += time.perf_counter() - probe_started
            if not quality_columns:
                quality_columns.extend(metrics)
            if sorted(metrics) != sorted(quality_columns):
                raise ValueError(
                    f"quality probe returned {sorted(metrics)}, but this run recorded {quality_columns}; "
                    f"delete {checkpoint_path} to start afresh"
                )
            if quality_key is not None and quality_key not in metrics:
                raise ValueError(
                    f"quality_key {quality_key!r} is not among the probe's metrics {sorted(metrics)}"
                )
            quality_history.append([step, *(metrics[k] for k in quality_columns)])
            _write_csv(quality_csv, quality_history, quality_columns)
            if log is not None:
                log(step, metrics)
            if quality_key is not None and _improves(metrics[quality_key], best, lower_better):
                state = {k: v.detach().cpu().clone() for k, v in tr.sampler.state_dict().items()}
                best = {"step": step, "value": metrics[quality_key], "G": state}
                export(tr.sampler)  # the best so far is on disk even if the run dies later

        # --- train ---
        guard_every = 1 if device == "cpu" else cfg.log_every  # a device sync per check on CUDA
        guard = NonFiniteGuard(device)
        images_per_step = cfg.batch_size * cfg.n_critic
        last: dict[str, float] = {}
        bar = tqdm(
            total=cfg.num_steps, initial=step, desc=variant, unit="step", file=sys.stderr, leave=False,
            disable=not dist.is_main,
        )  # fmt: skip
        start_step, started = step, time.perf_counter()
        with bar:
            while step < cfg.num_steps:
                values = train_step(tr, next_batch, step)
                step += 1
                guard.update(values, step)
                bar.update(1)
                due_log = step % cfg.log_every == 0 or step == cfg.num_steps
                due_checkpoint = step % cfg.checkpoint_every == 0 or step == cfg.num_steps
                # every rank checks at the same steps, so all stop together, naming the first bad one
                if step % guard_every == 0 or due_log or due_checkpoint:
                    bad = guard.first_bad()
                    if bad is not None:
                        raise DivergenceError(
                            f"{variant}: loss became NaN/inf at step {bad}; last good checkpoint kept in "
                            f"{checkpoint_path} (try a lower lr, another loss, or gp/r1 regularisation)"
                        )
                if due_log:
                    logged = torch.stack([values[k].float() for k in LOG_KEYS])
                    if dist.enabled:
                        logged = all_reduce_mean(logged)
                    last = dict(zip(LOG_KEYS, logged.tolist(), strict=True))
                if due_log and dist.is_main:
                    history.append([step, *(last[k] for k in LOG_KEYS)])
                    with losses_csv.open("a", newline="") as f:
                        csv.writer(f).writerow(history[-1])
                    rate = (step - start_step) * images_per_step / (time.perf_counter() - started)
                    bar.set_postfix(img_s=f"{rate:.0f}", d=f"{last[LOSS_D]:.3f}", g=f"{last[LOSS_G]:.3f}")
                    if log is not None:
                        log(step, last)
                if due_checkpoint:
                    if quality is not None and dist.is_main:
                        probe_quality()
                    checkpoint()
                if stop_after is not None and step >= stop_after:
                    raise TrainingInterrupted(f"stopped after step {step} (test hook)")
        seconds = time.perf_counter() - started
        if step == start_step:  # resumed a finished run: nothing to train, re-export
            checkpoint()
        if best:  # the best checkpoint's generator, from the checkpointed weights (exact after a resume)
            G_best = copy.deepcopy(tr.sampler)
            G_best.load_state_dict(best["G"])
            export(G_best)
        else:
            if quality_key is not None and dist.is_main:
                print(
                    f"{variant}: {quality_key} was never finite; exporting the last generator",
                    file=sys.stderr,
                )
            export(tr.sampler)
        if dist.enabled:
            barrier()  # rank 0's files are complete when any rank returns
    finally:
        if torch.are_deterministic_algorithms_enabled() != previous_determinism:
            torch.use_deterministic_algorithms(previous_determinism)
    steps_run = step - start_step
    if not last and history:
        last = dict(zip(LOG_KEYS, history[-1][1:], strict=True))
    return TrainResult(
        steps=step,
        seconds=seconds,
        images_per_second=steps_run * images_per_step / seconds if seconds > 0 else 0.0,
        losses=last,
        device=device,
        resumed_from=resumed_from,
        best_step=int(best["step"]) if best else None,
        best_quality=float(best["value"]) if best else None,
        quality_seconds=quality_seconds,
    )
