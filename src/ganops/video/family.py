"""The video family for the shared loop: parts, one training step, and the `mocogan` / `vgan` entries.

One step = `n_critic` D updates then one G update, then the EMA update:
- D: video D on real vs generated clips (B, T, C, H, W); for MoCoGAN also the image D on
  `image_d_frames` frames sampled per clip, weighted by `image_d_weight`; optional R1 on real inputs.
- G: the same terms with the generator's loss.
The first `content_steps` steps (default 0) are frame-only (D_image, G) updates instead, and
`image_steps` adds such updates to every video step (`frame_step`).
All randomness (z, sampled frame indices) comes from the global torch RNG, which the loop seeds and
checkpoints, so a resumed run repeats an uninterrupted one bit for bit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganops.config.plain import with_values
from ganops.training import loop
from ganops.training.ema import make_ema, update_ema
from ganops.training.family import FAMILIES, BuildContext, Family, NextBatch, register_family
from ganops.training.losses import LOSSES, r1_penalty
from ganops.training.updates import adam, frozen, load_optimizer, update
from ganops.video.architectures import build_video_models, get_arch
from ganops.video.export import export_to_folder, sampler, save_samples
from ganops.video.options import validate_video_variant

STREAM = "clips"  # next_batch(STREAM) -> {"clip": (B, T, C, H, W) in [-1, 1], "label": (B,) int64}
VIDEO_KEYS = ("d_loss", "g_loss", "d_video", "g_video", "real_logit_video", "fake_logit_video")
IMAGE_KEYS = ("d_image", "g_image")


@dataclass
class VideoParts:
    cfg: Any
    arch: str
    clip_shape: tuple[int, int, int, int]  # (T, C, H, W)
    num_classes: int  # 0 when unconditional
    G: nn.Module
    G_ema: nn.Module | None  # None when ema_decay == 0
    D_video: nn.Module
    D_image: nn.Module | None  # MoCoGAN only
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer  # over both discriminators (Adam is per parameter: same as two)

    def modules(self) -> dict[str, nn.Module]:
        named = {"G": self.G, "G_ema": self.G_ema, "D_video": self.D_video, "D_image": self.D_image}
        return {name: module for name, module in named.items() if module is not None}

    def state_dict(self) -> dict:
        state = {name: module.state_dict() for name, module in self.modules().items()}
        return state | {"opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict()}

    def load_state_dict(self, state: dict, device: str) -> None:
        missing = sorted((set(self.modules()) | {"opt_G", "opt_D"}) - set(state))
        if missing:
            raise ValueError(f"video checkpoint: missing {', '.join(missing)} (was it written by another arch?)")
        for name, module in self.modules().items():
            module.load_state_dict(state[name])
            module.to(device)
        load_optimizer(self.opt_G, state["opt_G"])
        load_optimizer(self.opt_D, state["opt_D"])


def build_parts(ctx: BuildContext, arch: str) -> VideoParts:
    cfg = ctx.cfg
    if getattr(cfg, "arch", arch) != arch:
        raise ValueError(f"video.variants.{ctx.variant}.arch: {cfg.arch!r} given to the {arch} family")
    clip_shape = tuple(int(s) for s in ctx.shapes[STREAM]["clip"])
    validate_video_variant(cfg, clip_shape, ctx.num_classes, ctx.variant)
    num_classes = ctx.num_classes if cfg.conditional else 0
    with torch.random.fork_rng(devices=[]):  # seeded initialisation that leaves the global RNG alone
        torch.manual_seed(ctx.seed)
        G, D_video, D_image = build_video_models(cfg, clip_shape, num_classes)
    G, D_video = G.to(ctx.device), D_video.to(ctx.device)
    D_image = D_image.to(ctx.device) if D_image is not None else None
    G_ema = make_ema(G) if cfg.ema_decay > 0 else None
    d_params = list(D_video.parameters()) + (list(D_image.parameters()) if D_image is not None else [])
    betas = (cfg.beta1, cfg.beta2)
    return VideoParts(
        cfg,
        arch,
        clip_shape,
        num_classes,
        G,
        G_ema,
        D_video,
        D_image,
        adam(G.parameters(), cfg.lr_g, betas),
        adam(d_params, cfg.lr_d, betas),
    )


def sample_frames(clips: torch.Tensor, y: torch.Tensor | None, count: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`count` random frames per clip: (B, T, C, H, W) -> (B * count, C, H, W), labels repeated."""
    batch, frames = clips.shape[:2]
    index = torch.randint(frames, (batch, count), device=clips.device)  # (B, k)
    picked = clips[torch.arange(batch, device=clips.device)[:, None], index]  # (B, k, C, H, W)
    return picked.flatten(0, 1), (y.repeat_interleave(count) if y is not None else None)


def _labels(parts: VideoParts, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
    if not parts.num_classes:
        return None
    y = batch["label"]
    assert bool((y >= 0).all()), "conditional video model got unlabelled clips (label -1)"
    return y


def d_step(parts: VideoParts, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    cfg, loss = parts.cfg, LOSSES[parts.cfg.loss]
    real, y = batch["clip"], _labels(parts, batch)  # (B, T, C, H, W)
    z = torch.randn(len(real), parts.G.z_dim, device=real.device)
    with torch.no_grad():
        fake = parts.G(z, y)
    real_logit, fake_logit = parts.D_video(real, y), parts.D_video(fake, y)
    d_video = loss.d_loss(real_logit, fake_logit, cfg.label_smoothing)
    total, out = d_video, {"d_video": d_video.detach()}
    if cfg.r1_weight > 0:
        total = total + cfg.r1_weight / 2 * r1_penalty(parts.D_video, real, y)
    if parts.D_image is not None:
        real_frames, y_frames = sample_frames(real, y, cfg.image_d_frames)
        fake_frames, _ = sample_frames(fake, y, cfg.image_d_frames)
        d_image = loss.d_loss(
            parts.D_image(real_frames, y_frames), parts.D_image(fake_frames, y_frames), cfg.label_smoothing
        )
        total = total + cfg.image_d_weight * d_image
        if cfg.r1_weight > 0:
            total = total + cfg.r1_weight / 2 * r1_penalty(parts.D_image, real_frames, y_frames)
        out["d_image"] = d_image.detach()
    update(parts.opt_D, total)
    out |= {
        "d_loss": total.detach(),
        "real_logit_video": real_logit.detach().mean(),
        "fake_logit_video": fake_logit.detach().mean(),
    }
    return out


def g_step(parts: VideoParts, y: torch.Tensor | None, batch_size: int, device: torch.device) -> dict[str, torch.Tensor]:
    cfg, loss = parts.cfg, LOSSES[parts.cfg.loss]
    z = torch.randn(batch_size, parts.G.z_dim, device=device)
    fake = parts.G(z, y)  # (B, T, C, H, W)
    with frozen(parts.D_video, parts.D_image):  # G's step computes (and keeps) no D gradients
        g_video = loss.g_loss(parts.D_video(fake, y))
        total, out = g_video, {"g_video": g_video.detach()}
        if parts.D_image is not None:
            frames, y_frames = sample_frames(fake, y, cfg.image_d_frames)
            g_image = loss.g_loss(parts.D_image(frames, y_frames))
            total = total + cfg.image_d_weight * g_image
            out["g_image"] = g_image.detach()
        update(parts.opt_G, total)
    return out | {"g_loss": total.detach()}


def frame_step(parts: VideoParts, real: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """One (D_image, G) update on single frames alone: the image GAN game inside the video GAN.

    `image_batch_size` real frames are drawn (clip and time at random) from the batch's real clips,
    against one random frame of as many generated clips (G renders only that frame: `frames_at`). No
    video D runs, so it costs about one image GAN step: content training for G's frame renderer
    (mocogan_st: its canvas) at a fraction of a video step. Draws from the global RNG like every
    other step (exact resume holds). Returns the image losses (d_image, g_image).
    """
    cfg, loss = parts.cfg, LOSSES[parts.cfg.loss]
    n, (batch, frames) = cfg.image_batch_size, real.shape[:2]
    clip, t_real, t_fake = (torch.randint(k, (n,), device=real.device) for k in (batch, frames, frames))
    real_frames, y_n = real[clip, t_real], (y[clip] if y is not None else None)  # (n, C, H, W), (n,)
    fake_frames = parts.G.frames_at(torch.randn(n, parts.G.z_dim, device=real.device), y_n, t_fake)  # (n, C, H, W)
    d_loss = loss.d_loss(parts.D_image(real_frames, y_n), parts.D_image(fake_frames.detach(), y_n), cfg.label_smoothing)
    if cfg.r1_weight > 0:
        d_loss = d_loss + cfg.r1_weight / 2 * r1_penalty(parts.D_image, real_frames, y_n)
    update(parts.opt_D, d_loss)  # Adam skips the video D: its gradients are None
    with frozen(parts.D_image):
        g_loss = loss.g_loss(parts.D_image(fake_frames, y_n))
        update(parts.opt_G, g_loss)
    return {"d_image": d_loss.detach(), "g_image": g_loss.detach()}


def train_step(parts: VideoParts, next_batch: NextBatch, step: int) -> dict[str, torch.Tensor]:
    """n_critic D updates, one G update, `image_steps` frame-only updates, EMA; `step` = train steps
    done before this one.

    The first `content_steps` steps are one frame-only update each instead (MoCoGAN's image game
    alone, at `image_batch_size` frames): G learns to draw frames at a fraction of a video step's
    cost before the video D (a 3D CNN on whole clips, most of a video step's cost) joins. Those steps
    log the image losses only (d_loss / g_loss = d_image / g_image; the video columns are NaN)."""
    if step < parts.cfg.content_steps:  # 0 unless the arch has an image D (validate_video_variant)
        batch = next_batch(STREAM)
        logs = frame_step(parts, batch["clip"], _labels(parts, batch))
        logs |= {"d_loss": logs["d_image"], "g_loss": logs["g_image"]}
    else:
        for _ in range(parts.cfg.n_critic):
            batch = next_batch(STREAM)
            logs = d_step(parts, batch)
        real = batch["clip"]
        y = _labels(parts, batch)
        logs |= g_step(parts, y, len(real), real.device)
        for _ in range(parts.cfg.image_steps):  # 0 unless the arch has an image D (validate_video_variant)
            frame_step(parts, real, y)
    if parts.G_ema is not None:
        update_ema(parts.G_ema, parts.G, parts.cfg.ema_decay, step)
    return logs


def make_family(arch: str) -> Family:
    """The shared loop's Family for one video architecture (named like it: `mocogan`, `vgan`)."""
    keys = VIDEO_KEYS + (IMAGE_KEYS if get_arch(arch).image_discriminator else ())
    return Family(
        name=arch,
        log_keys=keys,
        build=functools.partial(build_parts, arch=arch),
        train_step=train_step,
        sampler=sampler,
        save_samples=save_samples,
        export=export_to_folder,
    )


VIDEO_ARCHS = ("mocogan", "mocogan_st", "vgan")  # the video families in FAMILIES, one per architecture
for _arch in VIDEO_ARCHS:  # registered on import, like FAMILIES["image"]
    register_family(make_family(_arch))


def video_families() -> dict[str, Family]:
    """`mocogan` and the 3D-conv baseline `vgan`, as registered in FAMILIES."""
    return {arch: FAMILIES[arch] for arch in VIDEO_ARCHS}


def train_video(
    variant: str,
    cfg: Any,
    gan: Any,
    clips: np.ndarray,
    labels: np.ndarray,
    out_dir: Path,
    checkpoint_dir: Path,
    seed: int,
    *,
    class_names: list[str] | None = None,
    log: Callable[[int, dict[str, float]], None] | None = None,
    stop_after: int | None = None,
    quality: Callable[[nn.Module, dict[str, Any]], dict[str, float]] | None = None,
    quality_key: str | None = None,
) -> loop.TrainResult:
    """Train video variant `variant` (family = cfg.arch) on clips (N, T, C, H, W) in [0, 1].

    labels (N,) int64, -1 = unknown, travel only for conditional variants (unlabelled clips are then
    refused, naming the key). Writes out_dir/{generator.pt, samples.gif, samples/, losses.csv,
    quality.csv} and checkpoint_dir/last.pt; see training.loop.train for resume and probes.
    """
    if clips.ndim != 5:
        raise ValueError(f"training clips must be (N, T, C, H, W), got shape {clips.shape}")
    labels = np.asarray(labels, dtype=np.int64)
    known = labels[labels >= 0]
    num_classes = int(known.max()) + 1 if len(known) else 0
    where = f"video.variants.{variant}"
    if cfg.conditional == "auto":  # resolved once here: checkpoints, export and MLflow see true / false
        cfg = with_values(cfg, conditional=bool(num_classes >= 2 and len(known) == len(labels)))
    validate_video_variant(cfg, tuple(clips.shape[1:]), num_classes, variant)
    stream: dict[str, np.ndarray] = {"clip": clips}
    if cfg.conditional:
        if not (labels >= 0).all():
            raise ValueError(
                f"{where}.conditional: {int((labels < 0).sum())} of {len(labels)} training clips have no "
                "label (use class sub-folders for every video, or set conditional: false)"
            )
        stream["label"] = labels
    else:
        num_classes = 0
    return loop.train(
        FAMILIES[cfg.arch], variant, cfg, gan, {STREAM: stream}, out_dir, checkpoint_dir, seed,
        num_classes=num_classes, class_names=class_names, log=log, stop_after=stop_after,
        quality=quality, quality_key=quality_key, config_key=where,
    )  # fmt: skip
