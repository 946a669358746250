"""pix2pix (Isola et al. 2017) as a training-loop family: paired A → B with a U-Net G and a PatchGAN D.

Stream "pair": {"a": (B, Ca, H, W), "b": (B, Cb, H, W) in [-1, 1], "label": (B,)}. D judges the pair
(a, b) concatenated on channels, so it learns "is b a plausible translation of a", not just "is b real".
One step, in the reference's order: G(a), then D's update on (a, b) vs (a, G(a)) detached, then G's
update on the adversarial loss + λ_L1·L1 with D frozen; both schedules step once.

cfg attributes read (DEFAULTS holds the reference's values): generator, discriminator, ngf, ndf, norm,
dropout, patchgan_layers, gan_loss, lambda_l1, lr, beta1, beta2, lr_constant_steps, lr_decay_steps,
num_samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganops.training.family import BuildContext, Family, NextBatch, register_family
from ganops.training.updates import frozen, load_optimizer, update
from ganops.translation.architectures import build_network
from ganops.translation.losses import adversarial, l1
from ganops.translation.optim import (
    adam_with_schedule,
    check_weights,
    image_shape,
    same_size,
)
from ganops.translation.samples import keep_preview, to_unit, write_samples
from ganops.translation.translator_io import TRANSLATOR, export_translator

NAME = "pix2pix"
STREAM = "pair"
LOG_KEYS = ("loss_d", "loss_g", "loss_g_gan", "loss_g_l1", "lr")
DEFAULTS: dict[str, Any] = {
    "generator": "unet", "discriminator": "patchgan", "ngf": 64, "ndf": 64, "norm": "batch", "dropout": 0.5,
    "patchgan_layers": 0, "gan_loss": "non_saturating", "lambda_l1": 100.0, "lr": 2e-4, "beta1": 0.5,
    "beta2": 0.999, "lr_constant_steps": 10_000, "lr_decay_steps": 10_000, "num_samples": 8,
}  # fmt: skip


@dataclass
class Pix2PixParts:
    cfg: Any
    device: str
    shape_a: tuple[int, int, int]
    shape_b: tuple[int, int, int]
    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    sched_g: torch.optim.lr_scheduler.LRScheduler
    sched_d: torch.optim.lr_scheduler.LRScheduler
    preview: dict[str, torch.Tensor] | None = None  # first batch's first num_samples items (a, b)
    losses: tuple = field(default=(), repr=False)  # (d_loss, g_loss), rebuilt from cfg, not state

    def state_dict(self) -> dict[str, Any]:
        return {
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
            "preview": None if self.preview is None else {k: v.cpu() for k, v in self.preview.items()},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any], device: str) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        load_optimizer(self.opt_g, state["opt_g"])
        load_optimizer(self.opt_d, state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        preview = state["preview"]
        self.preview = None if preview is None else {k: v.to(device) for k, v in preview.items()}


def build(ctx: BuildContext) -> Pix2PixParts:
    """G (A → B), D on (a, b) pairs, Adam + schedule each; seeded by ctx.seed, global RNG untouched."""
    cfg = ctx.cfg
    shape_a, shape_b = image_shape(ctx.shapes, STREAM, "a"), image_shape(ctx.shapes, STREAM, "b")
    same_size(shape_a, shape_b)
    check_weights(cfg, ("lambda_l1",))
    losses = adversarial(cfg.gan_loss)
    size = shape_a[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.seed)
        G = build_network(cfg.generator, cfg, shape_a[0], shape_b[0], size).to(ctx.device)
        D = build_network(cfg.discriminator, cfg, shape_a[0] + shape_b[0], 1, size).to(ctx.device)
    opt_g, sched_g = adam_with_schedule(G.parameters(), cfg)
    opt_d, sched_d = adam_with_schedule(D.parameters(), cfg)
    return Pix2PixParts(cfg, ctx.device, shape_a, shape_b, G, D, opt_g, opt_d, sched_g, sched_d, losses=losses)


def train_step(parts: Pix2PixParts, next_batch: NextBatch, step: int) -> dict[str, torch.Tensor]:
    batch = next_batch(STREAM)
    a, b = batch["a"], batch["b"]  # (B, Ca, H, W), (B, Cb, H, W) in [-1, 1]
    if parts.preview is None:
        parts.preview = keep_preview(batch, ("a", "b"), parts.cfg.num_samples)
    d_loss, g_loss = parts.losses
    parts.G.train()
    parts.D.train()
    fake_b = parts.G(a)  # (B, Cb, H, W)

    # --- D: real pairs (a, b) vs fake pairs (a, G(a)) ---
    loss_d = d_loss(parts.D(torch.cat([a, b], 1)), parts.D(torch.cat([a, fake_b.detach()], 1)))
    update(parts.opt_d, loss_d)

    # --- G: fool D and stay close to the target in L1 (D frozen, as the reference) ---
    with frozen(parts.D):
        loss_g_gan = g_loss(parts.D(torch.cat([a, fake_b], 1)))
        loss_g_l1 = l1(fake_b, b)
        loss_g = loss_g_gan + parts.cfg.lambda_l1 * loss_g_l1
        update(parts.opt_g, loss_g)

    lr = torch.tensor(parts.sched_g.get_last_lr()[0], device=a.device)  # the lr this step used
    parts.sched_g.step()
    parts.sched_d.step()
    values = {"loss_d": loss_d, "loss_g": loss_g, "loss_g_gan": loss_g_gan, "loss_g_l1": loss_g_l1, "lr": lr}
    return {k: v.detach() for k, v in values.items()}


def sampler(parts: Pix2PixParts) -> nn.Module:
    return parts.G


@torch.no_grad()
def save_samples(parts: Pix2PixParts, out_dir: Path, step: int, seed: int) -> None:
    """Grid rows: input a | G(a) | target b for the preview examples; nothing before the first step."""
    if parts.preview is None:
        return
    was_training = parts.G.training
    parts.G.eval()
    with torch.random.fork_rng(devices=[]):  # global RNG untouched even if G were stochastic
        torch.manual_seed(seed)
        fake = parts.G(parts.preview["a"])  # (K, Cb, H, W)
    parts.G.train(was_training)
    write_samples(out_dir, step, [to_unit(parts.preview["a"]), to_unit(fake), to_unit(parts.preview["b"])])


def export(parts: Pix2PixParts, module: nn.Module, out_dir: Path) -> None:
    """G (A → B) to out_dir/translator.pt."""
    export_translator(out_dir / TRANSLATOR, NAME, parts.cfg, {"a2b": module}, parts.shape_a, parts.shape_b)


PIX2PIX = register_family(Family(NAME, LOG_KEYS, build, train_step, sampler, save_samples, export))
