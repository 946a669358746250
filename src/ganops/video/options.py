"""The attributes a video variant's config must have, with defaults, and their validation.

A plain frozen dataclass so the family and its tests need no config package; the pipeline's typed
config (pydantic) can mirror these fields one for one and pass its own object instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganops.training.losses import LOSSES


@dataclass(frozen=True)
class VideoVariantOptions:
    arch: str = "mocogan"  # mocogan | mocogan_st | vgan (ganops.video.architectures)
    loss: str = "non_saturating"  # any ganops.training.losses entry without a gradient penalty
    conditional: bool | str = False  # True | False | "auto" (train_video: conditional when every clip is labelled)
    g_label: str = "modulation"  # mocogan_st, conditional: modulation (conditional BN in the canvas G) | input
    z_dim: int = 64  # mocogan, mocogan_st: content code; vgan: the whole latent
    motion_dim: int = 16  # mocogan, mocogan_st: GRU motion code and per-frame noise size
    max_shift: float = 0.4  # mocogan_st: largest translation of the canvas, in half-canvas units
    shift_mode: str = "subpixel"  # mocogan_st: subpixel (bilinear) | whole_pixel (rounded, straight-through)
    width: int = 32  # base channel count of G and both D's
    spectral_norm: bool = True  # on the discriminators
    batch_size: int = 16  # clips per D step
    num_steps: int = 600  # G updates
    n_critic: int = 1  # D updates per G update
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    r1_weight: float = 0.0  # R1 on real clips (and real frames for D_I), scaled by r1_weight / 2
    label_smoothing: float = 0.0
    ema_decay: float = 0.999  # 0 disables G_ema
    image_d_weight: float = 1.0  # mocogan: weight of the image-D loss terms
    image_d_frames: int = 1  # mocogan: frames sampled per clip for D_I (MoCoGAN: 1)
    image_steps: int = 0  # mocogan*: extra (D_I, G) updates on single frames per step (family.frame_step)
    image_batch_size: int = 64  # frames in each of those updates
    content_steps: int = 0  # mocogan*: the first content_steps of num_steps are frame-only (D_I, G) updates
    sample_clips: int = 16  # clips in each samples.gif
    checkpoint_every: int = 100
    log_every: int = 25


def validate_video_variant(cfg: Any, clip_shape: tuple[int, ...], num_classes: int, variant: str = "") -> None:
    """One-line ValueError naming the key when this variant cannot be trained on these clips."""
    from ganops.video.architectures import get_arch
    from ganops.video.blocks import num_stages

    where = f"video.variants.{variant}" if variant else "video variant"
    get_arch(cfg.arch, f"{where}.arch")
    if cfg.loss not in LOSSES:
        raise ValueError(f"{where}.loss: unknown loss {cfg.loss!r} (known: {', '.join(sorted(LOSSES))})")
    if LOSSES[cfg.loss].gradient_penalty:
        raise ValueError(
            f"{where}.loss: {cfg.loss} needs a gradient penalty, which the video family lacks "
            "(use hinge or non_saturating)"
        )
    if cfg.label_smoothing > 0 and not LOSSES[cfg.loss].smoothing:
        raise ValueError(f"{where}.label_smoothing: does not apply to {cfg.loss} (set it to 0)")
    if len(clip_shape) != 4 or clip_shape[2] != clip_shape[3]:
        raise ValueError(f"{where}: clips must be (T, C, H, W) with square frames (got {tuple(clip_shape)})")
    num_stages(clip_shape[2])
    if cfg.conditional and num_classes < 2:
        raise ValueError(f"{where}.conditional: the clips have no labels (set conditional: false)")
    for key in ("image_steps", "content_steps"):  # frame-only updates train the image D
        if getattr(cfg, key) and not get_arch(cfg.arch).image_discriminator:
            raise ValueError(f"{where}.{key}: {cfg.arch} has no image discriminator (set {key}: 0)")
    if cfg.content_steps >= cfg.num_steps:
        raise ValueError(
            f"{where}.content_steps: {cfg.content_steps} leaves no video steps of num_steps {cfg.num_steps} "
            "(make it smaller than num_steps)"
        )
    if cfg.image_d_frames < 1 or cfg.image_d_frames > clip_shape[0]:
        raise ValueError(f"{where}.image_d_frames: must be in 1..{clip_shape[0]} (got {cfg.image_d_frames})")
