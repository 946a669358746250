"""CycleGAN (Zhu et al. 2017) as a training-loop family: unpaired A ↔ B with two ResNet Gs and two PatchGANs.

Streams "a" and "b" (unpaired): {"image": (B, C, H, W) in [-1, 1], "label": (B,)}. G_ab maps A → B,
G_ba maps B → A; D_a judges domain-A images, D_b domain-B images. One step, in the reference's order:
both Gs update together (LSGAN + λ·cycle + 0.5·λ·identity, Ds frozen), then both Ds update on real
images vs fakes drawn through their image pools; both schedules step once. The identity term needs
equal channel counts (see losses.py) and is left out otherwise (`parts.identity` says which).

cfg attributes read (DEFAULTS holds the reference's values): generator, discriminator, ngf, ndf, norm,
dropout, padding, resnet_blocks, patchgan_layers, gan_loss, lambda_cycle, lambda_identity, pool_size,
lr, beta1, beta2, lr_constant_steps, lr_decay_steps, num_samples.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganops.training.family import BuildContext, Family, NextBatch, register_family
from ganops.training.updates import frozen, load_optimizer, update
from ganops.translation.architectures import build_network
from ganops.translation.losses import adversarial, cycle_loss, identity_applies, l1
from ganops.translation.optim import (
    adam_with_schedule,
    check_weights,
    image_shape,
    same_size,
)
from ganops.translation.pool import ImagePool
from ganops.translation.samples import to_unit, write_samples
from ganops.translation.translator_io import TRANSLATOR, export_translator

NAME = "cyclegan"
LOG_KEYS = ("loss_g", "loss_g_adv", "loss_cycle", "loss_identity", "loss_d_a", "loss_d_b", "lr")
DEFAULTS: dict[str, Any] = {
    "generator": "resnet", "discriminator": "patchgan", "ngf": 64, "ndf": 64, "norm": "instance",
    "dropout": 0.0, "padding": "reflect", "resnet_blocks": 6, "patchgan_layers": 0,
    "gan_loss": "least_squares", "lambda_cycle": 10.0, "lambda_identity": 0.5, "pool_size": 50,
    "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "lr_constant_steps": 10_000, "lr_decay_steps": 10_000,
    "num_samples": 8,
}  # fmt: skip


@dataclass
class CycleGanParts:
    cfg: Any
    device: str
    shape_a: tuple[int, int, int]
    shape_b: tuple[int, int, int]
    nets: dict[str, nn.Module]  # G_ab, G_ba, D_a, D_b
    opt_g: torch.optim.Optimizer  # both Gs, one Adam (as the reference)
    opt_d: torch.optim.Optimizer  # both Ds
    sched_g: torch.optim.lr_scheduler.LRScheduler
    sched_d: torch.optim.lr_scheduler.LRScheduler
    pool_a: ImagePool  # fakes G_ba(b) shown to D_a
    pool_b: ImagePool  # fakes G_ab(a) shown to D_b
    identity: bool
    preview: dict[str, torch.Tensor] | None = None  # {"a": (K, Ca, H, W), "b": (K, Cb, H, W)}
    losses: tuple = field(default=(), repr=False)

    def state_dict(self) -> dict[str, Any]:
        return {
            **{name: net.state_dict() for name, net in self.nets.items()},
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
            "pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict(),
            "preview": None if self.preview is None else {k: v.cpu() for k, v in self.preview.items()},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any], device: str) -> None:
        for name, net in self.nets.items():
            net.load_state_dict(state[name])
        load_optimizer(self.opt_g, state["opt_g"])
        load_optimizer(self.opt_d, state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.pool_a.load_state_dict(state["pool_a"], device)
        self.pool_b.load_state_dict(state["pool_b"], device)
        preview = state["preview"]
        self.preview = None if preview is None else {k: v.to(device) for k, v in preview.items()}


def build(ctx: BuildContext) -> CycleGanParts:
    """Two Gs, two Ds, two Adams with schedules and two pools; seeded by ctx.seed (global RNG untouched)."""
    cfg = ctx.cfg
    shape_a, shape_b = image_shape(ctx.shapes, "a", "image"), image_shape(ctx.shapes, "b", "image")
    same_size(shape_a, shape_b)
    check_weights(cfg, ("lambda_cycle", "lambda_identity"))
    losses = adversarial(cfg.gan_loss)
    (ca, size, _), cb = shape_a, shape_b[0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.seed)
        nets = {
            "G_ab": build_network(cfg.generator, cfg, ca, cb, size),
            "G_ba": build_network(cfg.generator, cfg, cb, ca, size),
            "D_a": build_network(cfg.discriminator, cfg, ca, 1, size),
            "D_b": build_network(cfg.discriminator, cfg, cb, 1, size),
        }
    nets = {name: net.to(ctx.device) for name, net in nets.items()}
    opt_g, sched_g = adam_with_schedule(itertools.chain(nets["G_ab"].parameters(), nets["G_ba"].parameters()), cfg)
    opt_d, sched_d = adam_with_schedule(itertools.chain(nets["D_a"].parameters(), nets["D_b"].parameters()), cfg)
    pools = ImagePool(cfg.pool_size, ctx.seed + 1), ImagePool(cfg.pool_size, ctx.seed + 2)
    identity = identity_applies(ca, cb) and cfg.lambda_identity > 0
    return CycleGanParts(
        cfg, ctx.device, shape_a, shape_b, nets, opt_g, opt_d, sched_g, sched_d,
        pool_a=pools[0], pool_b=pools[1], identity=identity, losses=losses,
    )  # fmt: skip


def _generator_loss(parts: CycleGanParts, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
    """G_ab and G_ba's joint loss and its terms; also returns the fakes for the D step."""
    n, cfg = parts.nets, parts.cfg
    _, g_loss = parts.losses
    fake_b, fake_a = n["G_ab"](a), n["G_ba"](b)  # (B, Cb, H, W), (B, Ca, H, W)
    adv = g_loss(n["D_b"](fake_b)) + g_loss(n["D_a"](fake_a))
    cycle = cycle_loss(n["G_ba"](fake_b), a, n["G_ab"](fake_a), b)
    identity = l1(n["G_ab"](b), b) + l1(n["G_ba"](a), a) if parts.identity else torch.zeros((), device=a.device)
    total = adv + cfg.lambda_cycle * cycle + cfg.lambda_identity * cfg.lambda_cycle * identity
    return {"loss_g": total, "loss_g_adv": adv, "loss_cycle": cycle, "loss_identity": identity,
            "fake_a": fake_a, "fake_b": fake_b}  # fmt: skip


def train_step(parts: CycleGanParts, next_batch: NextBatch, step: int) -> dict[str, torch.Tensor]:
    a, b = next_batch("a")["image"], next_batch("b")["image"]  # (B, Ca, H, W), (B, Cb, H, W) in [-1, 1]
    if parts.preview is None:
        k = parts.cfg.num_samples
        parts.preview = {"a": a[:k].detach().clone(), "b": b[:k].detach().clone()}
    n = parts.nets
    d_loss, _ = parts.losses
    for net in n.values():
        net.train()

    # --- Gs: adversarial + cycle + identity, Ds frozen ---
    with frozen(n["D_a"], n["D_b"]):
        out = _generator_loss(parts, a, b)
        update(parts.opt_g, out["loss_g"])

    # --- Ds: real images vs pooled past fakes ---
    loss_d_a = d_loss(n["D_a"](a), n["D_a"](parts.pool_a.query(out["fake_a"])))
    loss_d_b = d_loss(n["D_b"](b), n["D_b"](parts.pool_b.query(out["fake_b"])))
    update(parts.opt_d, loss_d_a + loss_d_b)

    lr = torch.tensor(parts.sched_g.get_last_lr()[0], device=a.device)  # the lr this step used
    parts.sched_g.step()
    parts.sched_d.step()
    values = {k: out[k] for k in ("loss_g", "loss_g_adv", "loss_cycle", "loss_identity")}
    values.update(loss_d_a=loss_d_a, loss_d_b=loss_d_b, lr=lr)
    return {k: v.detach() for k, v in values.items()}


def sampler(parts: CycleGanParts) -> nn.Module:
    """Both generators as one module ({"a2b": G_ab, "b2a": G_ba}), so the loop's best-checkpoint copy
    and export hold the two directions of the same step; `a2b_generator` picks A → B for probes."""
    return nn.ModuleDict({"a2b": parts.nets["G_ab"], "b2a": parts.nets["G_ba"]})


@torch.no_grad()
def save_samples(parts: CycleGanParts, out_dir: Path, step: int, seed: int) -> None:
    """Rows a | G_ab(a) | G_ba(G_ab(a)), then b | G_ba(b) | G_ab(G_ba(b)); nothing before the first step."""
    if parts.preview is None:
        return
    G_ab, G_ba = parts.nets["G_ab"], parts.nets["G_ba"]
    modes = G_ab.training, G_ba.training
    G_ab.eval()
    G_ba.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        a, b = parts.preview["a"], parts.preview["b"]
        fake_b, fake_a = G_ab(a), G_ba(b)
        rows = [[a, fake_b, G_ba(fake_b)], [b, fake_a, G_ab(fake_a)]]
    G_ab.train(modes[0])
    G_ba.train(modes[1])
    columns = [[to_unit(x) for x in row] for row in rows]
    # stack the two row groups: column j holds a-side then b-side images (gray ones become RGB in the grid)
    stacked = [_concat_channels(columns[0][j], columns[1][j]) for j in range(3)]
    write_samples(out_dir, step, stacked)


def _concat_channels(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(K, C1, H, W) and (K, C2, H, W) → (2K, max C, H, W); a gray block is repeated to RGB."""
    c = max(x.shape[1], y.shape[1])
    return np.concatenate([np.repeat(x, c // x.shape[1], 1), np.repeat(y, c // y.shape[1], 1)])


def export(parts: CycleGanParts, module: nn.Module, out_dir: Path) -> None:
    """Both directions of `module` (the sampler: {"a2b", "b2a"}) to out_dir/translator.pt."""
    export_translator(out_dir / TRANSLATOR, NAME, parts.cfg, dict(module.items()), parts.shape_a, parts.shape_b)


CYCLEGAN = register_family(Family(NAME, LOG_KEYS, build, train_step, sampler, save_samples, export))
