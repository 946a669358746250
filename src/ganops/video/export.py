"""The exported video generator: sample grids, the weights_only-loadable file, loading and sampling.

File format (a plain dict, `torch.load(path, weights_only=True)`):
  format "ganops-video-generator", version 1, arch, generator_config (rebuilds G), clip_shape
  [T, C, H, W], num_classes (0 = unconditional), z_dim, value_range [-1, 1], config (the variant's
  options), state_dict.
Sampling draws z from its own seeded torch.Generator on the CPU, so the same seed gives the same clips
on any device and batch size, and the global RNG is never touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganops.core.artifacts import GENERATOR
from ganops.core.atomic import save_torch
from ganops.video.video_io import save_gif_grid

FORMAT, VERSION = "ganops-video-generator", 1
SAMPLE_BATCH = 64  # clips per forward pass when sampling


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (batch-norm running statistics) for the block, then the previous mode back."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def sampler(parts: Any) -> nn.Module:
    """The module probed, sampled and exported: G_ema, or G when EMA is off."""
    return parts.G_ema if parts.G_ema is not None else parts.G


def _config_dict(cfg: Any) -> dict:
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    if hasattr(cfg, "model_dump"):  # pydantic
        return cfg.model_dump()
    return dict(vars(cfg))


def export_generator(parts: Any, G: nn.Module, path: Path) -> None:
    """Write G (the sampler) with everything needed to rebuild it, atomically."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "arch": parts.arch,
        "generator_config": dict(G.config),
        "clip_shape": list(parts.clip_shape),
        "num_classes": int(parts.num_classes),
        "z_dim": int(G.z_dim),
        "value_range": [-1.0, 1.0],
        "config": _config_dict(parts.cfg),
        "state_dict": {k: v.detach().cpu() for k, v in G.state_dict().items()},
    }
    save_torch(path, payload)


def export_to_folder(parts: Any, G: nn.Module, out_dir: Path) -> None:
    """The shared loop's export hook: out_dir/generator.pt."""
    export_generator(parts, G, Path(out_dir) / GENERATOR)


def load_video_generator(path: str | Path, device: str = "cpu") -> tuple[nn.Module, dict]:
    """(G in eval mode, meta = the file's fields without state_dict); ValueError on a foreign file."""
    from ganops.video.architectures import build_generator

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"video generator {path}: no such file (run the video training stage first)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"video generator {path}: not a weights-only torch file ({type(error).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("version") != VERSION:
        raise ValueError(f"video generator {path}: not a {FORMAT} v{VERSION} file (export it with ganops.video)")
    G = build_generator(payload["arch"], payload["generator_config"])
    G.load_state_dict(payload["state_dict"])
    G.requires_grad_(False)
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return G.to(device).eval(), meta


def _labels_for(meta: dict, num: int, label: int | Sequence[int] | None) -> torch.Tensor | None:
    classes = int(meta["num_classes"])
    if not classes:
        if label is not None:
            raise ValueError(f"label {label!r}: this video generator is unconditional (omit label)")
        return None
    if label is None:
        return torch.arange(num) % classes  # every class in turn
    labels = torch.as_tensor([label] * num if np.isscalar(label) else list(label), dtype=torch.int64)
    if len(labels) != num:
        raise ValueError(f"label: got {len(labels)} labels for {num} clips (give one, or one per clip)")
    bad = labels[(labels < 0) | (labels >= classes)]
    if len(bad):
        raise ValueError(f"label {int(bad[0])}: no such class (this generator has classes 0..{classes - 1})")
    return labels


@torch.no_grad()
def sample_clips(G: nn.Module, meta: dict, num: int, seed: int, label: int | Sequence[int] | None = None) -> np.ndarray:
    """`num` clips (N, T, C, H, W) float32 in [0, 1]; labels cycle over the classes unless given."""
    if num < 1:
        raise ValueError(f"num: must be at least 1 (got {num})")
    labels = _labels_for(meta, num, label)
    z = torch.randn(num, int(meta["z_dim"]), generator=torch.Generator().manual_seed(seed))  # (N, z_dim)
    device = next(G.parameters()).device
    out = []
    with eval_mode(G):
        for start in range(0, num, SAMPLE_BATCH):
            y = labels[start : start + SAMPLE_BATCH].to(device) if labels is not None else None
            clips = G(z[start : start + SAMPLE_BATCH].to(device), y)  # (b, T, C, H, W) in [-1, 1]
            out.append(((clips.float() + 1) / 2).clamp(0, 1).cpu())
    return torch.cat(out).numpy()


def save_samples(parts: Any, out_dir: Path, step: int, seed: int) -> None:
    """out_dir/samples.gif and out_dir/samples/step_XXXXXX.gif: a grid of the sampler's clips."""
    G = sampler(parts)
    meta = {"num_classes": parts.num_classes, "z_dim": G.z_dim}
    clips = sample_clips(G, meta, parts.cfg.sample_clips, seed)
    out_dir = Path(out_dir)
    save_gif_grid(out_dir / "samples" / f"step_{step:06d}.gif", clips)
    save_gif_grid(out_dir / "samples.gif", clips)
