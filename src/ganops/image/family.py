"""The image-GAN family: G/D/G_ema with Adam, one step of `n_critic` D updates then one G update.

Registered as FAMILIES["image"] for the shared loop (training.loop). `train_gan` is the image entry
point: it checks the images and labels, drops unlabelled images for conditional variants and hands
the single stream {"real": {"image", "label"}} to the loop. Labels travel only for conditional
variants (num_classes > 0).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ganops.config.plain import with_values
from ganops.core.artifacts import GENERATOR, SAMPLES, SAMPLES_DIR
from ganops.core.devices import cudnn_autotune
from ganops.core.distributed import SINGLE, DistInfo, wrap_ddp
from ganops.image.architectures import build_models, is_conditional, validate_arch
from ganops.image.augment import diff_augment
from ganops.image.export import export_generator, sample_images, save_image_grid
from ganops.training import loop
from ganops.training.ema import make_ema, update_ema
from ganops.training.family import FAMILIES, BuildContext, Family, NextBatch, register_family
from ganops.training.losses import LOSSES, GanLoss, gradient_penalty, r1_penalty, validate_loss
from ganops.training.updates import adam, frozen, load_optimizer, update

if TYPE_CHECKING:
    from ganops.config.params import GanConfig, VariantConfig

# Logged values: the keys a step returns and the columns of losses.csv (after "step").
LOSS_D = "loss_d"  # D loss including its penalty
LOSS_G = "loss_g"
D_REAL = "d_real"  # mean D logit on real images
D_FAKE = "d_fake"  # mean D logit on generated images
PENALTY = "penalty"  # gradient penalty (wgan_gp) or R1, unweighted; 0 when unused
LOG_KEYS = (LOSS_D, LOSS_G, D_REAL, D_FAKE, PENALTY)

STREAM = "real"
GRID_IMAGES = 64
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")  # torch.compile modes that replay CUDA graphs


@dataclass
class Trainer:
    """The image family's parts: models, optimisers and options a training step touches."""

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
    image_shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = 0
    class_names: tuple[str, ...] = ()

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

    def state_dict(self) -> dict[str, Any]:
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else {},
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], device: str) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        load_optimizer(self.opt_g, state["opt_g"])
        load_optimizer(self.opt_d, state["opt_d"])


def build_trainer(
    cfg: VariantConfig,
    gan: GanConfig,
    image_shape: tuple[int, int, int],
    num_classes: int,
    device: str,
    variant: str = "",
    distributed: bool = False,
    class_names: tuple[str, ...] = (),
) -> Trainer:
    """Build G, D, G_ema and the Adam optimisers (the caller seeds torch first for a reproducible init).

    distributed: wrap G and D in DistributedDataParallel (needs a running process group); the Trainer's
    G / D stay the plain modules (checkpoints, penalties, EMA), G_fwd / D_fwd are the DDP wrappers."""
    G, D = build_models(cfg, image_shape, num_classes, variant, validate=False)
    memory = torch.channels_last if gan.channels_last else torch.contiguous_format
    G, D = G.to(device, memory_format=memory), D.to(device, memory_format=memory)
    G_wrapped, D_wrapped = (wrap_ddp(G, device), wrap_ddp(D, device)) if distributed else (G, D)
    G_ema = make_ema(G) if cfg.ema_decay > 0 else None  # after DDP's broadcast of rank 0's weights
    betas = (cfg.beta1, cfg.beta2)
    cuda = device.startswith("cuda")
    opt_g, opt_d = adam(G.parameters(), cfg.lr_g, betas), adam(D.parameters(), cfg.lr_d, betas)
    mode = getattr(gan, "compile_mode", "default")
    compile_ = (lambda module: torch.compile(module, mode=mode)) if gan.compile else (lambda module: module)
    G_fwd, D_fwd = compile_(G_wrapped), compile_(D_wrapped)
    D_for_g = compile_(D) if distributed else D_fwd
    return Trainer(
        cfg, G, D, G_ema, opt_g, opt_d, LOSSES[cfg.loss], device, gan.bf16, gan.channels_last,
        cuda and not getattr(gan, "deterministic", False), gan.compile and mode in CUDA_GRAPH_MODES,
        G_fwd, D_fwd, D_for_g, tuple(image_shape), num_classes, tuple(class_names),
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
    update(tr.opt_d, loss)
    values = {
        LOSS_D: loss.detach(),
        D_REAL: real_logits.detach().mean(),
        D_FAKE: fake_logits.detach().mean(),
        PENALTY: penalty.detach(),
    }
    return values, fake


def g_step(tr: Trainer, fake: torch.Tensor | None, y: torch.Tensor | None, batch_size: int) -> torch.Tensor:
    """One G update; `fake` is reused when it still carries G's graph, else drawn afresh."""
    with frozen(tr.D):  # G's loss needs gradients w.r.t. images only, not D's weights
        with tr.autocast():
            if fake is None:
                z = torch.randn(batch_size, tr.cfg.z_dim, device=tr.device)  # (B, z_dim)
                fake = tr.G_fwd(z, y)  # (B, C, H, W)
            loss = tr.loss.g_loss(tr.D_for_g(_augment(tr, fake), y).float())
        update(tr.opt_g, loss)
    return loss.detach()


def train_step(tr: Trainer, next_batch: NextBatch, step: int) -> dict[str, torch.Tensor]:
    """n_critic D updates then one G update and the EMA update; `step` = G updates done before this one.
    Returns the step's values as 0-dim tensors (no device sync here)."""
    n_critic = tr.cfg.n_critic
    if tr.cuda_graphs:  # the previous step's graph outputs are dead: their memory may be reused
        torch.compiler.cudagraph_mark_step_begin()
    with cudnn_autotune(tr.cudnn_benchmark):
        for _ in range(n_critic):
            batch = next_batch(STREAM)
            real, y = batch["image"], batch.get("label")  # (B, C, H, W) in [-1, 1], (B,) or None
            values, fake = d_step(tr, real, y, keep_fake=n_critic == 1)
        values[LOSS_G] = g_step(tr, fake if fake.requires_grad else None, y, real.shape[0])
    if tr.G_ema is not None:
        update_ema(tr.G_ema, tr.G, tr.cfg.ema_decay, step)
    return values


# --- the family entry: build, samples, export ---


def _build(ctx: BuildContext) -> Trainer:
    image_shape = ctx.shapes[STREAM]["image"]
    return build_trainer(ctx.cfg, ctx.gan, image_shape, ctx.num_classes, ctx.device, ctx.variant,
                         ctx.distributed, ctx.class_names)  # fmt: skip


def _meta(tr: Trainer) -> dict[str, Any]:
    from ganops.config.plain import config_dict

    return {"variant_config": config_dict(tr.cfg), "num_classes": tr.num_classes}


def _save_samples(tr: Trainer, out_dir: Path, step: int, seed: int) -> None:
    """Fixed-noise grid (its own torch.Generator: the training RNG streams are untouched)."""
    num_classes = tr.num_classes
    num = GRID_IMAGES if not num_classes else num_classes * max(1, GRID_IMAGES // num_classes)
    grid = sample_images(tr.sampler, _meta(tr), num, seed=seed, batch_size=GRID_IMAGES, device=tr.device)
    nrow = num_classes or 8
    save_image_grid(out_dir / SAMPLES_DIR / f"step_{step:06d}.png", grid, nrow)
    save_image_grid(out_dir / SAMPLES, grid, nrow)


def _export(tr: Trainer, G: nn.Module, out_dir: Path) -> None:
    export_generator(out_dir / GENERATOR, G, tr.cfg, tr.image_shape, tr.num_classes, list(tr.class_names))


IMAGE = register_family(
    Family(
        name="image",
        log_keys=LOG_KEYS,
        # late-bound lookups, so a test can wrap build_trainer / train_step / export_generator
        build=lambda ctx: _build(ctx),
        train_step=lambda tr, next_batch, step: train_step(tr, next_batch, step),
        sampler=lambda tr: tr.sampler,
        save_samples=lambda tr, out_dir, step, seed: _save_samples(tr, out_dir, step, seed),
        export=lambda tr, G, out_dir: _export(tr, G, out_dir),
    )
)


def _num_classes(labels: np.ndarray) -> int:
    return int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0


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
) -> loop.TrainResult:
    """Train image variant `variant` on images (N, C, H, W) in [0, 1] with labels (N,) (-1 = unknown).

    Writes out_dir/{generator.pt, samples.png, samples/step_XXXXXX.png, losses.csv, quality.csv} and
    checkpoint_dir/last.pt; see training.loop.train for resume, probes, DDP and `stop_after`.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if images.ndim != 4:
        raise ValueError(f"training images must be (N, C, H, W), got shape {images.shape}")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} training images but {len(labels)} labels")
    image_shape = tuple(int(s) for s in images.shape[1:])
    num_classes = _num_classes(labels)
    validate_arch(cfg, image_shape, num_classes, variant)
    validate_loss(cfg, variant)
    if cfg.conditional == "auto":  # resolved once here: checkpoints, export and MLflow see true / false
        cfg = with_values(cfg, conditional=is_conditional(cfg, num_classes))
    stream: dict[str, np.ndarray] = {"image": images}
    if cfg.conditional:
        keep = labels >= 0
        if not keep.all():
            print(
                f"{variant}: conditional training skips {int((~keep).sum())} unlabelled images",
                file=sys.stderr,
            )
            images, labels = images[keep], labels[keep]
        stream = {"image": images, "label": labels}
    else:
        num_classes = 0
    return loop.train(
        FAMILIES["image"], variant, cfg, gan, {STREAM: stream}, out_dir, checkpoint_dir, seed,
        num_classes=num_classes, class_names=class_names, log=log, stop_after=stop_after, quality=quality,
        quality_key=quality_key, dist=dist, config_key=f"gan.variants.{variant}",
    )  # fmt: skip
