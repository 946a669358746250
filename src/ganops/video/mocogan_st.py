"""MoCoGAN with a spatial-transformer motion head: content draws one canvas, motion moves it.

MoCoGAN's frame generator is free to ignore its motion codes, and on moving digits it does: its
clips freeze (README "Video generation"). Here the split between content and motion is enforced by
the architecture instead of hoped for:
- the content code z_C (fixed over the clip) draws one canvas per clip with the DCGAN frame
  generator (so G renders B images per step, not B * T), started near black and multiplied by a
  window that fades to background at the border (no canvas edge shows when it moves);
- the GRU turns [h_0 | eps_1..eps_T] into motion codes as in MoCoGAN; a linear head maps h_0 to a
  start position and each code to a step, the path is the running sum of the steps (a constant code
  is a constant velocity, not a jitter), reflected at +-max_shift (the object bounces off the border);
- frame t is the canvas shifted along the path (`affine_grid` + bilinear `grid_sample`, the spatial
  transformer of Jaderberg et al. 2015); what the shift uncovers is background (-1, black).
The prior is "an object moving over a dark background", which is what Moving MNIST is; a scene whose
content changes shape over time (a user's own videos) is what `mocogan` and `vgan` are there for.
torch has no layer for this, so the few lines are here (torch's own affine_grid / grid_sample do
the resampling).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganops.video.architectures import register
from ganops.video.blocks import EMBED_DIM, FrameGenerator
from ganops.video.mocogan import motion_codes

BACKGROUND = -1.0  # tanh value of black: what a shift uncovers
MAX_STEP = 0.5  # largest shift per frame, in half-canvas units (8 px / frame at 32 px)
CANVAS_OFFSET = -2.0  # before the canvas tanh: G starts near black (tanh(-2) = -0.96)
G_LABELS = ("modulation", "input")  # how a conditional canvas G takes the label (VideoVariantConfig.g_label)
SHIFT_MODES = ("subpixel", "whole_pixel")  # VideoVariantConfig.shift_mode
WINDOW_FLAT = 0.6  # canvas window: 1 within +-0.6 of the half-side, a cosine fall to 0 at the border


def reflect(x: torch.Tensor, bound: float) -> torch.Tensor:
    """Fold x into [-bound, bound] by reflection at the bounds (a triangle wave; slope +-1)."""
    return bound - (torch.remainder(x + bound, 4 * bound) - 2 * bound).abs()


def canvas_window(side: int) -> torch.Tensor:
    """(side, side) separable window: flat centre, raised-cosine edges reaching 0 at the border.

    Multiplying the canvas (above background) by it keeps the object off the canvas border, so a shift
    shows no canvas edge against the uncovered background (without it the edge moved as a faint box).
    """
    u = (torch.arange(side, dtype=torch.float32) + 0.5) / side * 2 - 1  # pixel centres in (-1, 1)
    ramp = ((u.abs() - WINDOW_FLAT) / (1 - WINDOW_FLAT)).clamp(0, 1)
    w = torch.cos(ramp * torch.pi / 2) ** 2
    return w[:, None] * w[None, :]


def whole_pixels(offsets: torch.Tensor, side: int) -> torch.Tensor:
    """Offsets (half-canvas units) rounded to whole pixels of a `side`-px canvas, straight-through.

    Moving digits (like any pasted sprite) move by whole pixels, so every real frame shows the digit
    exactly as drawn; a bilinear shift by a fraction of a pixel blurs it differently in every frame.
    The forward pass rounds, the backward pass is the identity (Bengio et al. 2013's straight-through
    estimator), so the motion heads still learn from the frames."""
    per_px = side / 2
    return offsets + (torch.round(offsets * per_px) / per_px - offsets).detach()


def shift_frames(canvas: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """canvas (B, C, H, W), offsets (B, T, 2) in half-canvas units (x right, y down) -> (B, T, C, H, W)."""
    batch, frames = offsets.shape[:2]
    theta = torch.zeros(batch * frames, 2, 3, device=canvas.device, dtype=canvas.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = -offsets.reshape(-1, 2)  # sampling grid moves opposite to the content
    size = (batch * frames, *canvas.shape[1:])
    grid = F.affine_grid(theta, list(size), align_corners=False)
    source = (canvas - BACKGROUND).repeat_interleave(frames, dim=0)  # background -> 0 = zeros padding
    moved = F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (moved + BACKGROUND).view(batch, frames, *canvas.shape[1:])


@register("mocogan_st", image_discriminator=True)
class MoCoGANShiftGenerator(nn.Module):
    """z (B, content_dim + motion_dim * (1 + T)) = [z_C | h_0 | eps_1..eps_T] -> (B, T, C, H, W)."""

    def __init__(
        self,
        clip_shape: list[int],
        num_classes: int = 0,
        content_dim: int = 64,
        motion_dim: int = 16,
        width: int = 32,
        max_shift: float = 0.4,
        g_label: str = "input",  # exports from before the key drew the label into the input
        shift_mode: str = "subpixel",  # exports from before the key shifted bilinearly
    ) -> None:
        super().__init__()
        frames, channels, side, _ = clip_shape
        if g_label not in G_LABELS:
            raise ValueError(f"g_label: must be one of {', '.join(G_LABELS)} (got {g_label!r})")
        if shift_mode not in SHIFT_MODES:
            raise ValueError(f"shift_mode: must be one of {', '.join(SHIFT_MODES)} (got {shift_mode!r})")
        self.config = dict(
            clip_shape=list(clip_shape),
            num_classes=num_classes,
            content_dim=content_dim,
            motion_dim=motion_dim,
            width=width,
            max_shift=max_shift,
            g_label=g_label,
            shift_mode=shift_mode,
        )
        self.clip_shape = tuple(clip_shape)
        self.num_classes, self.content_dim, self.motion_dim = num_classes, content_dim, motion_dim
        self.max_shift, self.shift_mode = max_shift, shift_mode
        self.z_dim = content_dim + motion_dim * (1 + frames)
        self.gru = nn.GRUCell(motion_dim, motion_dim)
        self.to_start = nn.Linear(motion_dim, 2)
        self.to_step = nn.Linear(motion_dim, 2)
        # the label: concatenated to z_C (`input`), or the canvas G's conditional batch norm (`modulation`)
        embedded = num_classes if g_label == "input" else 0
        self.embed = nn.Embedding(num_classes, EMBED_DIM) if embedded else None
        self.register_buffer("window", canvas_window(side), persistent=False)  # once, not per step
        # a black canvas at the start (the background of moving digits), not DCGAN's mid-grey
        self.canvas = FrameGenerator(
            content_dim + (EMBED_DIM if embedded else 0), channels, side, width, out_offset=CANVAS_OFFSET,
            num_classes=num_classes if g_label == "modulation" else 0,
        )  # fmt: skip

    @staticmethod
    def config_from(cfg: Any, clip_shape: tuple[int, int, int, int], num_classes: int) -> dict:
        """cfg attributes read: z_dim (content code), motion_dim, width, max_shift, g_label, shift_mode."""
        return dict(
            clip_shape=list(clip_shape),
            num_classes=num_classes,
            content_dim=cfg.z_dim,
            motion_dim=cfg.motion_dim,
            width=cfg.width,
            max_shift=cfg.max_shift,
            g_label=cfg.g_label,
            shift_mode=cfg.shift_mode,
        )

    def offsets(self, h: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """h_0 (B, m), noise (B, T, m) -> translations (B, T, 2) in [-max_shift, max_shift].

        The path integrates per-frame steps (so a constant code is a constant velocity, not a jitter)
        from a start set by h_0, reflected at +-max_shift (the object bounces off the border).
        """
        start = self.max_shift * torch.tanh(self.to_start(h))  # (B, 2)
        steps = MAX_STEP * torch.tanh(self.to_step(motion_codes(self.gru, h, noise)))  # (B, T, 2)
        path = reflect(start[:, None] + torch.cumsum(steps, dim=1) - steps, self.max_shift)  # frame 0 at the start
        return whole_pixels(path, self.clip_shape[-1]) if self.shift_mode == "whole_pixel" else path

    def _canvas_and_offsets(self, z: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """z (B, z_dim) -> the windowed canvas (B, C, H, W) and its path (B, T, 2)."""
        frames = self.clip_shape[0]
        batch = len(z)
        assert z.shape == (batch, self.z_dim), (tuple(z.shape), self.z_dim)
        content, h0, noise = z.split([self.content_dim, self.motion_dim, self.motion_dim * frames], dim=1)
        if self.num_classes and y is None:
            raise ValueError("this video generator is class-conditional: pass labels y (B,) int64")
        if self.embed is not None:
            content = torch.cat([content, self.embed(y)], dim=1)
        canvas = self.canvas(content, y if self.num_classes else None)  # (B, C, H, W)
        canvas = BACKGROUND + (canvas - BACKGROUND) * self.window.to(canvas.dtype)
        return canvas, self.offsets(h0, noise.reshape(batch, frames, self.motion_dim))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return shift_frames(*self._canvas_and_offsets(z, y))

    def frames_at(self, z: torch.Tensor, y: torch.Tensor | None, t: torch.Tensor) -> torch.Tensor:
        """Frame t[i] of clip i alone, (B, C, H, W): what forward(z, y)[arange(B), t] is, one shift per clip."""
        canvas, offsets = self._canvas_and_offsets(z, y)
        return shift_frames(canvas, offsets[torch.arange(len(z), device=z.device), t][:, None])[:, 0]
